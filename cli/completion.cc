// Tab completion for the repl: which names can follow the text before the cursor, asked of the
// sandbox itself, so what completes is what the program really holds.
//
// The word before the cursor completes against the globals, JavaScript's keywords and the
// top-level `let`/`const`/`class` declarations, or, after a dotted chain of names
// ("user.address.st"), against the properties of that object and its prototypes. Only plain
// chains of names are looked up, never calls or indexing, so completing runs no code but the
// getters and proxy traps along the chain (as Node's REPL does), under a short CPU limit.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>

#include "cli.hh"

namespace quickbox::cli {
namespace {

/// CPU time one completion may take; a getter that loops just gets no candidates.
constexpr std::chrono::milliseconds kCompletionCpuTime{500};
/// Names remembered from the session's entries, for finding its top-level declarations.
constexpr size_t kMaxTypedNames = 5000;

// Top-level let/const/class declarations are not properties of globalThis and QuickJS offers no
// way to list them, so the candidates are the names the session typed: evaluating each one
// (indirect eval reads the global scope) tells which are declared. `path` is validated by
// name_chain() to hold only names.
constexpr const char *kCompleter = R"JS((function (path, prefix, typed) {
  const names = new Set();
  const own = (object) => {
    for (let o = Object(object); o !== null; o = Object.getPrototypeOf(o))
      for (const name of Object.getOwnPropertyNames(o)) names.add(name);
  };
  if (path.length === 0) {
    own(globalThis);
    for (const name of typed) {
      if (names.has(name)) continue;
      try { (0, eval)(name); names.add(name); } catch {}
    }
    for (const keyword of ["async", "await", "break", "case", "catch", "class", "const", "continue",
        "debugger", "default", "delete", "do", "else", "extends", "false", "finally", "for", "function",
        "if", "in", "instanceof", "let", "new", "null", "return", "super", "switch", "this", "throw",
        "true", "try", "typeof", "undefined", "var", "void", "while", "yield"]) names.add(keyword);
  } else {
    let object = (0, eval)(path[0]);
    for (const name of path.slice(1)) object = object?.[name];
    if (object === null || object === undefined) return [];
    own(object);
  }
  const identifier = /^[\p{ID_Start}$_][\p{ID_Continue}$]*$/u;
  return [...names].filter((name) => name.startsWith(prefix) && identifier.test(name)).sort();
}))JS";

bool is_name_byte(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

/// The name ending at `end` in text (possibly empty); its start.
size_t name_start(std::string_view text, size_t end) {
  while (end > 0 && is_name_byte(text[end - 1])) end--;
  return end;
}

bool is_name(std::string_view text) {
  return !text.empty() && !std::isdigit(static_cast<unsigned char>(text[0])) &&
         std::all_of(text.begin(), text.end(), is_name_byte);
}

/// The chain of names before the word being completed ("a.b." gives [a, b]); nullopt when the
/// word follows something else that has a dot (a call, an index, a number), which is not looked up.
std::optional<Value::Array> name_chain(std::string_view before_word) {
  Value::Array chain;
  while (before_word.ends_with('.')) {
    before_word.remove_suffix(1);
    size_t start = name_start(before_word, before_word.size());
    std::string_view name = before_word.substr(start);
    if (!is_name(name)) return std::nullopt;
    chain.insert(chain.begin(), Value(std::string(name)));
    before_word = before_word.substr(0, start);
  }
  return chain;
}

}  // namespace

void collect_names(std::string_view source, std::set<std::string> &names) {
  for (size_t end = source.size(); end > 0 && names.size() < kMaxTypedNames;) {
    size_t start = name_start(source, end);
    if (start == end) {
      end--;
      continue;
    }
    std::string_view name = source.substr(start, end - start);
    bool property = start > 0 && source[start - 1] == '.';  // `a.b`: b is no declaration
    if (is_name(name) && !property) names.emplace(name);
    end = start;
  }
}

Completions complete_name(Sandbox &sandbox, std::string_view before_cursor, const std::set<std::string> &typed) {
  size_t start = name_start(before_cursor, before_cursor.size());
  std::string_view word = before_cursor.substr(start);
  if (!word.empty() && std::isdigit(static_cast<unsigned char>(word[0]))) return {};
  auto chain = name_chain(before_cursor.substr(0, start));
  if (!chain) return {};
  std::string source = std::string(kCompleter) + "(" + to_json(Value(std::move(*chain))) + ", " +
                       to_json(Value(std::string(word))) + ", " +
                       to_json(Value(Value::Array(typed.begin(), typed.end()))) + ")";
  EvalOptions options;
  options.filename = "<completion>";
  options.kind = EvalOptions::Kind::Script;
  options.cpu_time = kCompletionCpuTime;
  Result result = sandbox.eval(source, options);
  if (result.is_suspended()) sandbox.abandon();  // a getter along the chain called a capability
  if (!result.ok() || !result.value().is_array()) return {};
  Completions found{.word_length = word.size(), .candidates = {}};
  for (const Value &name : result.value().as_array())
    if (name.is_string()) found.candidates.push_back(name.as_string());
  return found;
}

}  // namespace quickbox::cli
