// Parsing the `quickbox` command line, and the help text that describes it.
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

/// One flag. apply() stores the value in the options, or returns what a valid value looks like.
struct Flag {
  std::string_view name;        ///< "--memory"
  std::string_view value_name;  ///< "SIZE"; empty for a switch
  std::string_view help;
  std::string (*default_text)();  ///< nullptr when there is no default worth printing
  std::optional<std::string> (*apply)(Options &, std::string_view value);
};

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
     }},
    {"--timeout", "DURATION", "CPU time per evaluation: 500ms, 5s, or plain seconds",
     [] { return format_duration(kDefaultLimits.cpu_time); },
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto duration = parse_duration(v);
       if (!duration) return "a duration from 1ms to 1000000s, such as 500ms, 5s or 2.5";
       o.sandbox.limits.cpu_time = *duration;
       return std::nullopt;
     }},
    {"--stack", "SIZE", "JavaScript stack limit",
     [] { return format_size(kDefaultLimits.stack_bytes); },
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto bytes = parse_size(v);
       if (!bytes || *bytes == 0 || *bytes > std::numeric_limits<uint32_t>::max())
         return "a size below 4G: bytes with an optional K, M or G suffix, e.g. 512K";
       o.sandbox.limits.stack_bytes = static_cast<uint32_t>(*bytes);
       return std::nullopt;
     }},
    {"--seed", "N", "seed Math.random for a reproducible sequence (unset: a fresh random seed)",
     nullptr,
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto seed = parse_integer<uint64_t>(v);
       if (!seed) return "a whole number from 0 to 18446744073709551615";
       o.sandbox.random_seed = *seed;
       return std::nullopt;
     }},
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
     }},
    {"--module", "", "evaluate as an ES module (its value is then undefined)", nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.module = true;
       return std::nullopt;
     }},
    {"--json", "",
     "print one JSON object instead of text: {\"ok\", \"value\" or \"error\", \"console\", "
     "\"console_dropped_bytes\"}",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.json = true;
       return std::nullopt;
     }},
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
    {Command::Repl, "repl", "", 0, 0, "read-eval-print loop: one sandbox, state kept between lines",
     "Evaluates stdin line by line in one sandbox, so declarations persist. Values print as in\n"
     "Node's REPL (strings quoted); errors are printed and the loop goes on. A line with an\n"
     "open bracket, template literal or comment continues on the next line. `.break` discards\n"
     "a half-typed entry; `.exit` or end of input leaves (exit code 0). On a terminal it\n"
     "prints a banner and a `> ` prompt; with piped input it prints only the results, one per\n"
     "line, so it can be scripted.\n"},
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

std::string flags_section() {
  constexpr size_t kIndent = 22, kWidth = 100;
  std::ostringstream out;
  out << "Flags (before or after the operands; `--` ends the flags; `--flag=value` works too):\n";
  for (const Flag &flag : kFlags) {
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
         "  and nothing goes to stderr; usage errors are still plain text on stderr.\n";
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
      << "network or environment.\n\nUsage:\n";
  for (const CommandInfo &info : kCommands) out << "  " << pad(usage_line(info), 32) << info.summary << "\n";
  out << "  " << pad("quickbox --version", 32) << "versions and guest build id\n";
  return out.str();
}

// ---- Parsing -------------------------------------------------------------------------------------

/// Applies the flag at args[i] (consuming its value, which may be the next argument).
std::optional<UsageError> apply_flag(Options &options, std::span<char *const> args, size_t &i) {
  std::string_view arg = args[i];
  std::optional<std::string_view> inline_value;
  if (size_t eq = arg.find('='); eq != std::string_view::npos && arg.starts_with("--")) {
    inline_value = arg.substr(eq + 1);
    arg = arg.substr(0, eq);
  }
  const Flag *flag = find_flag(arg);
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

}  // namespace

std::variant<Options, UsageError> parse_command_line(int argc, char **argv) {
  Options options;
  std::span<char *const> args(argv + 1, argc > 0 ? argc - 1 : 0);
  std::optional<std::string> command_name;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); i++) {
    std::string_view arg = args[i];
    if (!flags_ended && arg == "--") {
      flags_ended = true;
    } else if (!flags_ended && looks_like_flag(arg)) {
      if (auto error = apply_flag(options, args, i)) return *error;
    } else if (!command_name) {
      command_name = arg;
    } else {
      options.operands.emplace_back(arg);
    }
  }
  if (options.command == Command::Version) return options;
  if (!command_name) {
    if (options.help) return options;  // `quickbox --help`
    return UsageError{"missing command (eval, run, repl or help)"};
  }
  const CommandInfo *info = find_command(*command_name);
  if (!info) return UsageError{"unknown command '" + *command_name + "' (expected eval, run, repl or help)"};
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
  return head + "\n" + flags_section() + "\n" + output_section() + "\n" + exit_codes_section();
}

}  // namespace quickbox::cli
