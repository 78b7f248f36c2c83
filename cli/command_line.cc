// Parsing the `quickbox` command line, and the help text that describes it.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cli.hh"

namespace quickbox::cli {
namespace {

using std::chrono::milliseconds;

// ---- Values of flags -------------------------------------------------------------------------------

template <typename Int>
std::optional<Int> parse_integer(std::string_view text) {
  Int value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

/// "65536", "64K", "64M", "1G" (binary multiples; "64MB" and "64MiB" are accepted too).
std::optional<uint64_t> parse_size(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') digits++;
  auto number = parse_integer<uint64_t>(text.substr(0, digits));
  if (!number) return std::nullopt;
  std::string_view suffix = text.substr(digits);
  int shift = 0;
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      default: return std::nullopt;
    }
    std::string_view unit = suffix.substr(1);
    if (!unit.empty() && !iequals(unit, "B") && !iequals(unit, "iB")) return std::nullopt;
  }
  if (*number > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
  return *number << shift;
}

/// "500ms", "5s", "2.5s" or a plain number of seconds ("5", "0.5").
std::optional<milliseconds> parse_duration(std::string_view text) {
  double scale = 1000;  // plain numbers are seconds
  if (text.ends_with("ms")) {
    scale = 1;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  }
  double amount = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), amount);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  double ms = amount * scale;
  // from_chars accepts "inf" and "nan"; the range check below rejects them along with overflow.
  if (!(ms >= 1 && ms <= 1e9)) return std::nullopt;
  return milliseconds(static_cast<int64_t>(ms));
}

// The guest's clock counts nanoseconds since 1970 in 64 bits unsigned: MS must be at least 0 and
// stay well clear of the overflow near 1.8e13 ms.
constexpr int64_t kMaxClockStartMs = 10'000'000'000'000;  // the year 2286

/// "real", "fixed:MS" or "deterministic:MS" (MS: Unix time in milliseconds).
std::optional<Clock> parse_clock(std::string_view text) {
  if (text == "real") return Clock{};
  struct Prefix {
    std::string_view text;
    Clock::Mode mode;
  };
  for (Prefix p : {Prefix{"fixed:", Clock::Mode::Fixed}, Prefix{"deterministic:", Clock::Mode::Deterministic}}) {
    if (!text.starts_with(p.text)) continue;
    auto start = parse_integer<int64_t>(text.substr(p.text.size()));
    if (!start || *start < 0 || *start > kMaxClockStartMs) return std::nullopt;
    Clock clock;
    clock.mode = p.mode;
    clock.start_ms = *start;
    return clock;
  }
  return std::nullopt;
}

/// "64M" rather than "67108864" when the size is a whole number of K, M or G.
std::string format_size(uint64_t bytes) {
  constexpr std::pair<int, char> units[] = {{30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (auto [shift, letter] : units) {
    uint64_t unit = uint64_t{1} << shift;
    if (bytes >= unit && bytes % unit == 0) return std::to_string(bytes / unit) + letter;
  }
  return std::to_string(bytes);
}

std::string format_duration(milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + "s";
  return std::to_string(ms.count()) + "ms";
}

// ---- The flags ---------------------------------------------------------------------------------------

// The library's range for Limits::memory_bytes: QuickJS needs about 1M to start a context, and a
// sandbox may use at most half of the engine's 4G cap (the rest backs the hard limit above it).
constexpr uint64_t kMinMemoryBytes = uint64_t{1} << 20;
constexpr uint64_t kMaxMemoryBytes = uint64_t{2} << 30;

constexpr uint32_t bit(Command command) { return 1u << static_cast<unsigned>(command); }

// Which commands a flag means something to.
constexpr uint32_t kAllCommands = ~0u;
constexpr uint32_t kSandboxCommands = bit(Command::Eval) | bit(Command::Run) | bit(Command::Repl) | bit(Command::Resume);
constexpr uint32_t kCapabilityCommands = bit(Command::Eval) | bit(Command::Run) | bit(Command::Resume);
constexpr uint32_t kOutputCommands = kSandboxCommands | bit(Command::Inspect);

/// One flag. apply() stores the value in the options, or returns what a valid value looks like.
struct Flag {
  std::string_view name;        ///< "--memory"
  std::string_view value_name;  ///< "SIZE"; empty for a switch
  std::string_view help;
  std::string (*default_text)();  ///< nullptr when there is no default worth printing
  std::optional<std::string> (*apply)(Options &, std::string_view value);
  uint32_t commands = kAllCommands;  ///< bit(Command) of the commands that take it
};

/// A call id as `resume` flags name it: a whole number from 1.
std::optional<uint32_t> parse_call_id(std::string_view text) {
  auto id = parse_integer<uint32_t>(text);
  if (!id || *id == 0) return std::nullopt;
  return id;
}

/// Stores a file name flag's value; an empty name is refused.
std::optional<std::string> set_file(std::optional<std::string> &field, std::string_view value) {
  if (value.empty()) return "a file name";
  field = std::string(value);
  return std::nullopt;
}

const Limits kDefaultLimits{};

const Flag kFlags[] = {
    {"--memory", "SIZE", "memory limit: bytes, or with a K, M or G suffix",
     [] { return format_size(kDefaultLimits.memory_bytes); },
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto bytes = parse_size(v);
       if (!bytes || *bytes < kMinMemoryBytes || *bytes > kMaxMemoryBytes)
         return "a size from 1M to 2G: bytes with an optional K, M or G suffix, e.g. 64M";
       o.sandbox.limits.memory_bytes = *bytes;
       return std::nullopt;
     },
     kSandboxCommands},
    {"--timeout", "DURATION", "CPU time per evaluation: 500ms, 5s, or plain seconds",
     [] { return format_duration(kDefaultLimits.cpu_time); },
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto duration = parse_duration(v);
       if (!duration) return "a duration from 1ms to 1000000s, such as 500ms, 5s or 2.5";
       o.sandbox.limits.cpu_time = *duration;
       return std::nullopt;
     },
     kSandboxCommands},
    {"--stack", "SIZE", "JavaScript stack limit",
     [] { return format_size(kDefaultLimits.stack_bytes); },
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto bytes = parse_size(v);
       if (!bytes || *bytes == 0 || *bytes > std::numeric_limits<uint32_t>::max())
         return "a size below 4G: bytes with an optional K, M or G suffix, e.g. 512K";
       o.sandbox.limits.stack_bytes = static_cast<uint32_t>(*bytes);
       return std::nullopt;
     },
     kSandboxCommands},
    {"--seed", "N", "seed Math.random for a reproducible sequence (unset: a fresh random seed)",
     nullptr,
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto seed = parse_integer<uint64_t>(v);
       if (!seed) return "a whole number from 0 to 18446744073709551615";
       o.sandbox.random_seed = *seed;
       return std::nullopt;
     },
     kSandboxCommands},
    {"--clock", "MODE",
     "where Date.now() gets its time: real, fixed:MS (always MS, Unix time in milliseconds) or "
     "deterministic:MS (starts at MS, advances 1ms per read)",
     [] { return std::string("real"); },
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto clock = parse_clock(v);
       if (!clock) return "real, fixed:MS or deterministic:MS with MS from 0 to 10000000000000, e.g. "
              "fixed:1700000000000";
       o.sandbox.clock = *clock;
       return std::nullopt;
     },
     kSandboxCommands},
    {"--module", "", "evaluate as an ES module (its value is then undefined)", nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.module = true;
       return std::nullopt;
     },
     bit(Command::Eval) | bit(Command::Run)},
    {"--json", "",
     "print one JSON object instead of text: {\"ok\", \"value\" or \"error\", \"console\", "
     "\"console_dropped_bytes\"} (see Output)",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.json = true;
       return std::nullopt;
     },
     kOutputCommands},
    {"--caps", "FILE", "offer the program the capabilities (host functions) of this JSON manifest",
     nullptr, [](Options &o, std::string_view v) { return set_file(o.caps_file, v); },
     kCapabilityCommands | bit(Command::Repl)},
    {"--suspend-to", "STATE",
     "when the program waits on a person (an ask call or an approval), save its state to STATE and "
     "exit with code 10; `quickbox resume STATE` continues it",
     nullptr, [](Options &o, std::string_view v) { return set_file(o.suspend_to, v); }, kCapabilityCommands},
    {"--key-file", "FILE",
     "sign the state --suspend-to writes with HMAC-SHA256 under the bytes of FILE; resume and inspect "
     "refuse a state that does not check out under it",
     nullptr, [](Options &o, std::string_view v) { return set_file(o.key_file, v); },
     kCapabilityCommands | bit(Command::Inspect)},
    {"--audit", "", "print the log of host calls after the result (stderr; \"audit\" with --json)", nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.audit = true;
       return std::nullopt;
     },
     kCapabilityCommands},
    {"--answer", "ID=JSON", "resolve the ask call ID with this JSON value, e.g. --answer 3='\"yes\"'", nullptr,
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       size_t eq = v.find('=');
       auto id = eq == std::string_view::npos ? std::nullopt : parse_call_id(v.substr(0, eq));
       if (!id) return "ID=JSON: a call id and its answer as JSON, e.g. 3='\"yes\"'";
       Decoded answer = parse_json(v.substr(eq + 1));
       if (!answer.ok)
         return "ID=JSON with a valid JSON answer (" + answer.error + "); a string answer needs its quotes: " +
                std::to_string(*id) + "='\"yes\"'";
       o.answers.push_back(Answer{*id, std::move(answer.value)});
       return std::nullopt;
     },
     bit(Command::Resume)},
    {"--approve", "ID", "let the call ID that needs approval run (its handler runs on resume)", nullptr,
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto id = parse_call_id(v);
       if (!id) return "a call id: a whole number from 1";
       o.approvals.push_back(*id);
       return std::nullopt;
     },
     bit(Command::Resume)},
    {"--deny", "ID[=REASON]", "reject the call ID in JS with an error saying it was denied (and why)", nullptr,
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       size_t eq = v.find('=');
       auto id = parse_call_id(v.substr(0, eq));
       if (!id) return "ID or ID=REASON, e.g. 4 or '4=not this week'";
       o.denials.push_back(Denial{*id, eq == std::string_view::npos ? "" : std::string(v.substr(eq + 1))});
       return std::nullopt;
     },
     bit(Command::Resume)},
    {"--consume", "",
     "delete STATE once it has been used (the program finished, or suspended again into another "
     "--suspend-to file); without it STATE is kept",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.consume = true;
       return std::nullopt;
     },
     bit(Command::Resume)},
    {"--reclaim", "",
     "take over STATE although a resume that crashed or was killed left it claimed (STATE.claim); "
     "first check whether the calls that resume approved had their effect",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.reclaim = true;
       return std::nullopt;
     },
     bit(Command::Resume)},
    {"--help", "", "show help (also -h, `quickbox help [COMMAND]`)", nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.help = true;
       return std::nullopt;
     }},
    {"--version", "", "show the versions of quickbox, quickjs-ng and wasmtime and the guest build id",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.command = Command::Version;
       return std::nullopt;
     }},
};

const Flag *find_flag(std::string_view name) {
  if (name == "-h") name = "--help";
  for (const Flag &flag : kFlags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

// ---- Commands --------------------------------------------------------------------------------------

struct CommandInfo {
  Command command;
  std::string_view name;
  std::string_view operands;  ///< as shown in the usage line
  size_t min_operands, max_operands;
  std::string_view summary;
  std::string_view details;
};

const CommandInfo kCommands[] = {
    {Command::Eval, "eval", "CODE", 1, 1, "evaluate CODE and print its value as `node -p` does",
     "Prints the value of the last expression: strings as they are, other values as Node's\n"
     "util.inspect shows them; `undefined` is printed too. Code that uses `await` at the top\n"
     "level runs as an async script and its value is awaited. Use `--` before CODE that\n"
     "starts with a dash.\n"},
    {Command::Run, "run", "FILE", 1, 1, "run a script file (`-` reads it from stdin)",
     "Prints the script's final value as `node -p` would, but only when it is not undefined\n"
     "(a script usually ends in a statement). Top-level `await` works as in `eval`.\n"
     "Files ending in .mjs run as ES modules.\n"},
    {Command::Resume, "resume", "STATE", 1, 1, "continue a suspended program saved in STATE",
     "Continues a program that `run --suspend-to STATE` (or an earlier resume) saved, in this\n"
     "process: restores its sandbox, registers the capabilities of --caps (the manifest it ran\n"
     "with, required), settles the calls named by the flags below, and lets it go on. It either\n"
     "finishes (printed as `run` prints it, with the same exit codes) or waits on a person again\n"
     "(exit code 10): then its new state replaces STATE, or goes to --suspend-to when given.\n"
     "  --answer ID=JSON     resolve an ask call with a JSON value (quote it for the shell)\n"
     "  --approve ID         let a call that needs approval run; its handler runs now, here\n"
     "  --deny ID[=REASON]   reject a call of either kind; JS sees an error saying it was denied\n"
     "Calls not named keep waiting. `quickbox inspect STATE` lists them. STATE is kept after\n"
     "the program finishes, so a failed run can be looked into or retried; resuming it again\n"
     "repeats everything after the pause, so pass --consume when that must not happen. A state\n"
     "written with --key-file must be resumed (and inspected) with the same --key-file.\n"
     "A resume claims STATE (the file STATE.claim) before anything runs and releases it when\n"
     "done: a second resume of the same STATE meanwhile is refused with exit code 11, so with\n"
     "--consume each approved call runs at most once. A resume that crashes or is killed leaves\n"
     "the claim; resumes are refused (exit 11) until a person checks what the calls did and\n"
     "passes --reclaim (or deletes STATE.claim). `quickbox inspect STATE` shows a claim.\n"},
    {Command::Inspect, "inspect", "STATE", 1, 1, "describe a saved state without running it",
     "Prints what STATE holds: its format version, whether it is signed, the guest build it was\n"
     "taken with (and whether this quickbox runs the same one: resume refuses another), its\n"
     "sizes (the file, the uncompressed body, the sandbox's memory and the part of it that\n"
     "differs from a fresh sandbox), its capabilities and the calls it waits on. Nothing runs.\n"
     "A signed state needs --key-file: its MAC is checked before anything in it is believed.\n"},
    {Command::Repl, "repl", "", 0, 0, "read-eval-print loop: one sandbox, state kept between lines",
     "Evaluates entries in one sandbox, so declarations persist. Values print as in Node's\n"
     "REPL (strings quoted); errors are printed and the loop goes on. An entry goes on over\n"
     "several lines while QuickJS's parser finds it incomplete (`const f = (x) =>`).\n"
     "Commands: .help, .break (discard the entry being typed), .load FILE, .save FILE (every\n"
     "entry of the session), .exit. With --caps, a call that needs approval asks `Approve?\n"
     "[y/N]` and an ask call asks for its answer as JSON (empty denies).\n"
     "On a terminal: line editing (arrows, emacs keys), Tab completes globals and properties,\n"
     "history in ~/.quickbox_history ($QUICKBOX_REPL_HISTORY names another file; empty keeps\n"
     "none), Ctrl-C interrupts a running evaluation (the session and its state stay) or clears\n"
     "the line, Ctrl-D leaves. With piped input it prints only the results, one per line, and\n"
     "reads approvals and answers from the following lines, so it can be scripted.\n"},
    {Command::Help, "help", "[COMMAND]", 0, 1, "show this help, or a command's", ""},
};

const CommandInfo *find_command(std::string_view name) {
  for (const CommandInfo &info : kCommands) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

const CommandInfo *find_command(Command command) {
  for (const CommandInfo &info : kCommands) {
    if (info.command == command) return &info;
  }
  return nullptr;
}

std::string usage_line(const CommandInfo &info) {
  std::string line = "quickbox " + std::string(info.name);
  if (info.command != Command::Help) line += " [flags]";
  if (!info.operands.empty()) line.append(" ").append(info.operands);
  return line;
}

// ---- Help sections -------------------------------------------------------------------------------

std::string pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text + " ";
}

/// Breaks text into lines of at most `width` columns; lines after the first start at `indent`.
std::string wrap(std::string_view text, size_t indent, size_t width) {
  std::string out;
  size_t column = indent;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (column > indent && column + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      column++;
    }
    out += word;
    column += word.size();
  }
  return out;
}

/// The flags `command` takes (all of them for the overview).
std::string flags_section(Command command) {
  constexpr size_t kIndent = 22, kWidth = 100;
  std::ostringstream out;
  out << "Flags (before or after the operands; `--` ends the flags; `--flag=value` works too):\n";
  bool overview = command == Command::Help;
  for (const Flag &flag : kFlags) {
    if (!overview && !(flag.commands & bit(command))) continue;
    std::string head = std::string(flag.name);
    if (!flag.value_name.empty()) head.append(" ").append(flag.value_name);
    std::string help(flag.help);
    if (flag.default_text) help += " (default " + flag.default_text() + ")";
    out << "  " << pad(head, kIndent - 3) << wrap(help, kIndent, kWidth) << "\n";
  }
  return out.str();
}

std::string output_section() {
  return "Output:\n"
         "  console.log/info/debug lines go to stdout and console.warn/error lines to stderr, before\n"
         "  the value. When console output passed its cap, a notice on stderr says how many bytes\n"
         "  were dropped. An error prints `Uncaught <Name>: <message>` (a JavaScript exception) or\n"
         "  `<Kind>: <message>` (a limit) and then the JavaScript stack trace, on stderr.\n"
         "  With --json, stdout holds exactly one JSON object (one per line in the repl):\n"
         "    {\"ok\":true,\"value\":...,\"console\":[{\"level\":\"log\",\"text\":\"...\"}],"
         "\"console_dropped_bytes\":0}\n"
         "    {\"ok\":false,\"error\":{\"kind\":\"Timeout\",\"name\":\"\",\"message\":\"...\","
         "\"stack\":\"...\"},...}\n"
         "  and nothing goes to stderr; usage errors are still plain text on stderr.\n"
         "  A program that waits on a person prints its pending calls, or with --json:\n"
         "    {\"suspended\":true,\"state\":\"STATE\",\"pending\":[{\"id\":3,\"capability\":\"ask\","
         "\"args\":[...],\"needs_approval\":false}],\"console\":[...],...}\n"
         "  --audit adds the host calls (capability, call id, argument bytes and SHA-256, start time,\n"
         "  duration, outcome, detail) after the result on stderr, or as \"audit\":[...] with --json.\n";
}

std::string capabilities_section() {
  return "Capabilities (--caps FILE): a JSON manifest of the host functions the program may call:\n"
         "  {\"capabilities\": {\"NAME\": {\"handler\": \"HANDLER\", ...fields}},\n"
         "   \"allow_all_three_labels\": false, \"max_host_calls\": N, \"wall_time_ms\": N}\n"
         "  NAME is the JS global (or a dotted path such as \"tools.search\"). Built-in handlers, all\n"
         "  async in JS:\n"
         "    ask        a person answers later: calling it suspends the program (see resume)\n"
         "    echo       resolves with its first argument; \"delay_ms\": N first waits (for testing)\n"
         "    read_text  reads one UTF-8 regular file under \"root\": \"DIR\", at most max_result_bytes;\n"
         "               absolute paths, '..', symbolic links that lead out of DIR, FIFOs,\n"
         "               devices and directories are refused\n"
         "    append     appends its argument (strings as they are, other values as JSON) as one\n"
         "               line to the regular file \"file\": \"FILE\"; a handler for demos and tests\n"
         "  Paths in a manifest are relative to the manifest's directory. Policy fields for any\n"
         "  capability: max_calls_per_eval, max_in_flight, timeout_ms, max_argument_bytes,\n"
         "  max_result_bytes, requires_approval (true: each call waits for `resume --approve`),\n"
         "  labels (of \"sensitive_data\", \"untrusted_input\", \"external_effect\"; all three together\n"
         "  are refused unless \"allow_all_three_labels\": true). Unknown fields and handlers, and a\n"
         "  key written twice in one object, are errors (exit code 2). A program that waits on a person ends with exit code 10; with\n"
         "  --suspend-to STATE its state is saved, to be continued by `quickbox resume STATE`.\n";
}

std::string exit_codes_section() {
  std::ostringstream out;
  out << "Exit codes:\n";
  for (const ExitStatus &status : kExitStatuses) {
    out << "  " << pad(std::to_string(status.code), 2) << " " << pad(std::string(status.name), 14)
        << status.meaning << "\n";
  }
  return out.str();
}

std::string overview() {
  std::ostringstream out;
  out << "quickbox " QUICKBOX_VERSION " - run untrusted JavaScript in a sandbox (quickjs-ng in wasmtime)\n"
      << "with hard limits on memory, CPU time, stack and output, and no access to files,\n"
      << "network or environment beyond the capabilities a manifest grants (--caps). A program\n"
      << "that waits on a person can be saved (--suspend-to) and resumed in another process.\n\nUsage:\n";
  for (const CommandInfo &info : kCommands) out << "  " << pad(usage_line(info), 32) << info.summary << "\n";
  out << "  " << pad("quickbox --version", 32) << "versions and guest build id\n";
  return out.str();
}

// ---- Parsing -------------------------------------------------------------------------------------

/// Applies the flag at args[i] (consuming its value, which may be the next argument) and records
/// it in `used`.
std::optional<UsageError> apply_flag(Options &options, std::span<char *const> args, size_t &i,
                                     std::vector<const Flag *> &used) {
  std::string_view arg = args[i];
  std::optional<std::string_view> inline_value;
  if (size_t eq = arg.find('='); eq != std::string_view::npos && arg.starts_with("--")) {
    inline_value = arg.substr(eq + 1);
    arg = arg.substr(0, eq);
  }
  const Flag *flag = find_flag(arg);
  if (flag) used.push_back(flag);
  if (!flag) {
    std::string message = "unknown flag '" + std::string(arg) + "'";
    // "-1" is more likely code than a flag.
    if (!arg.starts_with("--")) message += " (put `--` before an operand that starts with a dash)";
    return UsageError{message};
  }
  std::string_view value;
  if (flag->value_name.empty()) {
    if (inline_value) return UsageError{std::string(flag->name) + " takes no value"};
  } else if (inline_value) {
    value = *inline_value;
  } else if (i + 1 < args.size()) {
    value = args[++i];
  } else {
    return UsageError{std::string(flag->name) + " needs a value (" + std::string(flag->value_name) + ")"};
  }
  if (auto expected = flag->apply(options, value)) {
    return UsageError{"invalid value '" + std::string(value) + "' for " + std::string(flag->name) +
                      ": expected " + *expected};
  }
  return std::nullopt;
}

bool looks_like_flag(std::string_view arg) { return arg.size() > 1 && arg[0] == '-'; }

std::optional<UsageError> check_operands(const Options &options) {
  const CommandInfo *info = find_command(options.command);
  size_t n = options.operands.size();
  if (n >= info->min_operands && n <= info->max_operands) return std::nullopt;
  std::string message = "usage: " + usage_line(*info);
  if (n < info->min_operands) return UsageError{"missing " + std::string(info->operands) + "; " + message};
  return UsageError{"unexpected argument '" + options.operands[info->max_operands] + "'; " + message};
}

std::optional<UsageError> check_flags_apply(const Options &options, const std::vector<const Flag *> &used) {
  const CommandInfo *info = find_command(options.command);
  for (const Flag *flag : used) {
    if (flag->commands & bit(options.command)) continue;
    return UsageError{std::string(flag->name) + " does not apply to " + std::string(info->name) +
                      " (see `quickbox help " + std::string(info->name) + "`)"};
  }
  return std::nullopt;
}

/// Each call may be settled once: by one --answer, --approve or --deny.
std::optional<UsageError> check_settled_once(const Options &options) {
  std::vector<uint32_t> ids = options.approvals;
  for (const Answer &answer : options.answers) ids.push_back(answer.call_id);
  for (const Denial &denial : options.denials) ids.push_back(denial.call_id);
  std::sort(ids.begin(), ids.end());
  auto twice = std::adjacent_find(ids.begin(), ids.end());
  if (twice == ids.end()) return std::nullopt;
  return UsageError{"call " + std::to_string(*twice) + " is settled more than once; give it one --answer, "
                    "--approve or --deny"};
}

/// Flags that only make sense together.
std::optional<UsageError> check_flag_combinations(const Options &options) {
  bool resume = options.command == Command::Resume;
  if (resume && !options.caps_file)
    return UsageError{"resume needs --caps FILE: the capability manifest the program ran with"};
  if (resume && options.answers.empty() && options.approvals.empty() && options.denials.empty())
    return UsageError{"nothing to continue with: settle the calls the program waits on with --answer, "
                      "--approve or --deny (`quickbox inspect " + options.operands[0] + "` lists them)"};
  if (!resume && options.suspend_to && !options.caps_file)
    return UsageError{"--suspend-to needs --caps: without capabilities a program never waits on a person"};
  if ((options.command == Command::Eval || options.command == Command::Run) && options.key_file &&
      !options.suspend_to)
    return UsageError{"--key-file signs the state that --suspend-to writes; pass --suspend-to too"};
  return check_settled_once(options);
}

}  // namespace

std::variant<Options, UsageError> parse_command_line(int argc, char **argv) {
  Options options;
  std::span<char *const> args(argv + 1, argc > 0 ? argc - 1 : 0);
  std::optional<std::string> command_name;
  std::vector<const Flag *> used_flags;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); i++) {
    std::string_view arg = args[i];
    if (!flags_ended && arg == "--") {
      flags_ended = true;
    } else if (!flags_ended && looks_like_flag(arg)) {
      if (auto error = apply_flag(options, args, i, used_flags)) return *error;
    } else if (!command_name) {
      command_name = arg;
    } else {
      options.operands.emplace_back(arg);
    }
  }
  if (options.command == Command::Version) return options;
  if (!command_name) {
    if (options.help) return options;  // `quickbox --help`
    return UsageError{"missing command (eval, run, resume, inspect, repl or help)"};
  }
  const CommandInfo *info = find_command(*command_name);
  if (!info)
    return UsageError{"unknown command '" + *command_name + "' (expected eval, run, resume, inspect, repl or help)"};
  options.command = info->command;
  if (options.help) return options;
  if (auto error = check_operands(options)) return *error;
  if (options.command == Command::Help && !options.operands.empty()) {
    const CommandInfo *topic = find_command(options.operands[0]);
    if (!topic) return UsageError{"no help for unknown command '" + options.operands[0] + "'"};
    options.command = topic->command;
    options.help = true;
    options.operands.clear();
    return options;
  }
  if (options.command == Command::Repl && options.module)
    return UsageError{"--module cannot be used with repl: a module's declarations do not persist"};
  if (auto error = check_flags_apply(options, used_flags)) return *error;
  if (auto error = check_flag_combinations(options)) return *error;
  if (options.command == Command::Run && options.operands[0].ends_with(".mjs")) options.module = true;
  return options;
}

std::string help_text(Command command) {
  const CommandInfo *info = find_command(command);
  std::string head;
  if (!info || command == Command::Help) {
    head = overview();
  } else {
    std::string summary(info->summary);
    summary[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(summary[0])));
    head = "Usage: " + usage_line(*info) + "\n\n" + summary + ".\n" + std::string(info->details);
  }
  bool takes_capabilities = command == Command::Help || command == Command::Eval || command == Command::Run ||
                            command == Command::Resume;
  std::string capabilities = takes_capabilities ? "\n" + capabilities_section() : "";
  return head + "\n" + flags_section(command) + capabilities + "\n" + output_section() + "\n" +
         exit_codes_section();
}

}  // namespace quickbox::cli
