// `quickbox repl`: a read-eval-print loop over stdin, one sandbox for the whole session.
#include <unistd.h>

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hh"

namespace quickbox::cli {
namespace {

std::string_view trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

/// Where the scanner in is_incomplete() stands.
enum class Lexical { Code, SingleQuoted, DoubleQuoted, Template, LineComment, BlockComment };

}  // namespace

// A bracket/quote counter, not a parser: good enough to know when to ask for another line.
// Regular expression literals are not recognised, so a bracket inside one (/\(/) can make an
// entry look open; `.break` gets out of that.
bool is_incomplete(std::string_view source) {
  Lexical state = Lexical::Code;
  // Open brackets; '`' marks a `${` inside a template literal, whose `}` returns to the template.
  std::vector<char> open;
  for (size_t i = 0; i < source.size(); i++) {
    char c = source[i];
    char next = i + 1 < source.size() ? source[i + 1] : '\0';
    switch (state) {
      case Lexical::Code:
        if (c == '\'') state = Lexical::SingleQuoted;
        else if (c == '"') state = Lexical::DoubleQuoted;
        else if (c == '`') state = Lexical::Template;
        else if (c == '/' && next == '/') state = Lexical::LineComment;
        else if (c == '/' && next == '*') {
          state = Lexical::BlockComment;
          i++;
        } else if (c == '(' || c == '[' || c == '{') open.push_back(c);
        else if (c == ')' || c == ']' || c == '}') {
          // A stray closer is a syntax error the engine will report better than we can.
          if (open.empty()) return false;
          char opener = open.back();
          open.pop_back();
          if (opener == '`') state = Lexical::Template;
        }
        break;
      case Lexical::SingleQuoted:
      case Lexical::DoubleQuoted:
        if (c == '\\') i++;  // skips the escaped character, including a line continuation
        else if (c == (state == Lexical::SingleQuoted ? '\'' : '"')) state = Lexical::Code;
        else if (c == '\n') return false;  // an unterminated string: let the engine say so
        break;
      case Lexical::Template:
        if (c == '\\') i++;
        else if (c == '`') state = Lexical::Code;
        else if (c == '$' && next == '{') {
          open.push_back('`');
          state = Lexical::Code;
          i++;
        }
        break;
      case Lexical::LineComment:
        if (c == '\n') state = Lexical::Code;
        break;
      case Lexical::BlockComment:
        if (c == '*' && next == '/') {
          state = Lexical::Code;
          i++;
        }
        break;
    }
  }
  return !open.empty() || state == Lexical::Template || state == Lexical::BlockComment;
}

namespace {

class Repl {
 public:
  Repl(Sandbox &sandbox, const Options &options)
      : sandbox_(sandbox), options_(options), interactive_(isatty(STDIN_FILENO) != 0) {}

  int run() {
    if (interactive_) {
      std::cout << "quickbox " QUICKBOX_VERSION " repl. Declarations persist between lines; "
                   "`.exit` or Ctrl-D leaves.\n";
    }
    std::string entry, line;
    while (usable_ && read_line(line, entry.empty())) {
      std::string_view command = trim(line);
      if (command == ".exit") return kExitOk;
      if (command == ".break") {
        entry.clear();
        continue;
      }
      entry += line;
      entry += '\n';
      if (is_incomplete(entry)) continue;
      evaluate(entry);
      entry.clear();
    }
    if (!usable_) return kExitInternal;
    // End of input in the middle of an entry: evaluate it so the user sees what was wrong.
    evaluate(entry);
    if (interactive_) std::cout << '\n';  // Ctrl-D left the cursor after a prompt
    return kExitOk;
  }

 private:
  /// Prompts (on a terminal: "> " for a new entry, "... " for a continued one) and reads a line.
  bool read_line(std::string &line, bool fresh_entry) {
    if (interactive_) std::cout << (fresh_entry ? "> " : "... ") << std::flush;
    return static_cast<bool>(std::getline(std::cin, line));
  }

  void evaluate(const std::string &entry) {
    if (trim(entry).empty()) return;
    EvalOptions eval_options;
    eval_options.filename = "<repl>";
    if (!options_.json) eval_options.display = EvalOptions::Display::Inspect;
    Result result = sandbox_.eval(entry, eval_options);
    report(result, options_.json, ValueDisplay::Inspect, options_.sandbox.limits.console_bytes);
    if (sandbox_.discarded()) recover();
  }

  // A hard stop (e.g. code that never reached an interrupt check) discarded the instance; the
  // session can go on, but only in a fresh realm.
  void recover() {
    Result reset = sandbox_.reset();
    if (reset.ok()) {
      std::cerr << "quickbox: the sandbox was restarted after a hard stop; earlier declarations are gone\n";
    } else {
      std::cerr << "quickbox: the sandbox could not be restarted: " << reset.error().to_string() << '\n';
      usable_ = false;
    }
  }

  Sandbox &sandbox_;
  const Options &options_;
  const bool interactive_;
  bool usable_ = true;  ///< false once the sandbox is gone for good
};

}  // namespace

int run_repl(Sandbox &sandbox, const Options &options) { return Repl(sandbox, options).run(); }

}  // namespace quickbox::cli
