// Parsing the `quickbox` command line, and the help text that describes it.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
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

// Which commands a flag means something to.
constexpr CommandSet kSandboxCommands = command_bit(Command::Eval) | command_bit(Command::Run) |
                                        command_bit(Command::Repl) | command_bit(Command::Resume);
constexpr CommandSet kCapabilityCommands = command_bit(Command::Eval) | command_bit(Command::Run) |
                                           command_bit(Command::Resume);
constexpr CommandSet kOutputCommands = kSandboxCommands | command_bit(Command::Inspect);

/// One flag. apply() stores the value in the options, or returns what a valid value looks like.
struct Flag {
  std::string_view name;        ///< "--memory"
  std::string_view value_name;  ///< "SIZE"; empty for a switch
  std::string_view help;
  std::string (*default_text)();  ///< nullptr when there is no default worth printing
  std::optional<std::string> (*apply)(Options &, std::string_view value);
  CommandSet commands = kAllCommands;  ///< the commands that take it
  std::string_view alias = {};          ///< a short form ("-h"), if any
  /// Whether it may be given more than once (each adds to a list). A flag that sets one value,
  /// given twice, would silently drop the first (two --caps: the first manifest's capabilities
  /// gone), so it is refused.
  bool repeats = false;
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
    {"--memory", "SIZE", "memory limit, e.g. 512K, 64M or 1G",
     [] { return format_size(kDefaultLimits.memory_bytes); },
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto bytes = parse_size(v);
       if (!bytes || *bytes < kMinMemoryBytes || *bytes > kMaxMemoryBytes)
         return "a size from 1M to 2G: bytes with an optional K, M or G suffix, e.g. 64M";
       o.sandbox.limits.memory_bytes = *bytes;
       return std::nullopt;
     },
     kSandboxCommands},
    {"--timeout", "DURATION", "CPU time per evaluation, e.g. 500ms or 2.5s",
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
       // the range (64K up to what the guest's stack leaves) is the engine's to check and say
       if (!bytes || *bytes > std::numeric_limits<uint32_t>::max())
         return "a size: bytes with an optional K, M or G suffix, e.g. 512K";
       o.sandbox.limits.stack_bytes = static_cast<uint32_t>(*bytes);
       return std::nullopt;
     },
     kSandboxCommands},
    {"--seed", "N", "make Math.random repeatable: the same N, the same numbers",
     nullptr,
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto seed = parse_integer<uint64_t>(v);
       if (!seed) return "a whole number from 0 to 18446744073709551615";
       o.sandbox.random_seed = *seed;
       return std::nullopt;
     },
     kSandboxCommands},
    {"--clock", "MODE",
     "what Date.now() reads: real, fixed:MS (always MS, a Unix time in ms) or deterministic:MS "
     "(from MS, +1ms per read)",
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
     command_bit(Command::Eval) | command_bit(Command::Run)},
    {"--typescript", "",
     "read the code as TypeScript: its types are stripped, lines and columns kept (see the README)",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       if (o.language == SourceLanguage::JavaScript) o.language = SourceLanguage::TypeScript;
       return std::nullopt;
     },
     command_bit(Command::Eval) | command_bit(Command::Run) | command_bit(Command::Repl)},
    {"--json", "",
     "print JSON instead of text: one object per result",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.json = true;
       return std::nullopt;
     },
     kOutputCommands},
    {"--caps", "FILE", "offer the program the host functions of this JSON manifest",
     nullptr, [](Options &o, std::string_view v) { return set_file(o.caps_file, v); },
     kCapabilityCommands | command_bit(Command::Repl)},
    {"--allow-net", "HOSTS",
     "give the program fetch(), allowed to reach HOSTS: HOST[:PORT],... (rules as in a manifest's "
     "\"fetch\" section; \"*\": any public host)",
     nullptr, [](Options &o, std::string_view v) { return parse_allow_net(v, o.allow_net); }, kSandboxCommands, /*alias=*/{}, /*repeats=*/true},
    {"--suspend-to", "STATE",
     "if the program waits on a person, save its state to STATE and exit with code 10",
     nullptr, [](Options &o, std::string_view v) { return set_file(o.suspend_to, v); }, kCapabilityCommands},
    {"--key-file", "FILE",
     "the HMAC-SHA256 key of signed states (the bytes of FILE)",
     nullptr, [](Options &o, std::string_view v) { return set_file(o.key_file, v); },
     kCapabilityCommands | command_bit(Command::Inspect)},
    {"--audit", "", "print the log of host calls after the result", nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.audit = true;
       return std::nullopt;
     },
     kCapabilityCommands},
    {"--answer", "ID=JSON", "resolve the ask call ID with this JSON value: 3='\"yes\"'", nullptr,
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
     command_bit(Command::Resume), /*alias=*/{}, /*repeats=*/true},
    {"--approve", "ID", "approve call ID: its handler runs now", nullptr,
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       auto id = parse_call_id(v);
       if (!id) return "a call id: a whole number from 1";
       o.approvals.push_back(*id);
       return std::nullopt;
     },
     command_bit(Command::Resume), /*alias=*/{}, /*repeats=*/true},
    {"--deny", "ID[=REASON]", "reject call ID: JS gets an error saying so (and REASON)", nullptr,
     [](Options &o, std::string_view v) -> std::optional<std::string> {
       size_t eq = v.find('=');
       auto id = parse_call_id(v.substr(0, eq));
       if (!id) return "ID or ID=REASON, e.g. 4 or '4=not this week'";
       o.denials.push_back(Denial{*id, eq == std::string_view::npos ? "" : std::string(v.substr(eq + 1))});
       return std::nullopt;
     },
     command_bit(Command::Resume), /*alias=*/{}, /*repeats=*/true},
    {"--modules-dir", "DIR",
     "import modules from DIR (for resume: the entry file's)",
     nullptr, [](Options &o, std::string_view v) { return set_file(o.modules_dir, v); },
     command_bit(Command::Resume) | command_bit(Command::Eval) | command_bit(Command::Run) |
         command_bit(Command::Repl)},
    {"--consume", "",
     "delete STATE once used (without it, STATE is kept)",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.consume = true;
       return std::nullopt;
     },
     command_bit(Command::Resume)},
    {"--reclaim", "",
     "take over STATE from a resume that died holding its claim (STATE.claim); first check what "
     "its approved calls did",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.reclaim = true;
       return std::nullopt;
     },
     command_bit(Command::Resume)},
    {"--help", "", "show this help", nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.help = true;
       return std::nullopt;
     },
     kAllCommands, "-h"},
    // Stands for a command of its own (`quickbox --version`): the overview shows it, no command does.
    {"--version", "", "show the versions of quickbox, quickjs-ng and wasmtime and the guest build id",
     nullptr,
     [](Options &o, std::string_view) -> std::optional<std::string> {
       o.command = Command::Version;
       return std::nullopt;
     },
     command_bit(Command::Version)},
};

const Flag *find_flag(std::string_view name) {
  for (const Flag &flag : kFlags) {
    if (flag.name == name || (!flag.alias.empty() && flag.alias == name)) return &flag;
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
  /// Paragraphs separated by a blank line; help reflows them, so single line breaks are spaces.
  std::string_view details;
};

const CommandInfo kCommands[] = {
    {Command::Eval, "eval", "CODE", 1, 1, "evaluate CODE and print its value as `node -p` does",
     "Prints the value of the last expression: strings as they are, other values as Node's "
     "util.inspect shows them, `undefined` too. Code that uses `await` at the top level runs as an "
     "async script and its value is awaited. Put `--` before CODE that starts with a dash."},
    {Command::Run, "run", "FILE", 1, 1, "run a script file (`-` reads it from stdin)",
     "Prints the script's final value as `node -p` would, but only when it is not undefined (a "
     "script usually ends in a statement). Top-level `await` works as in `eval`. Files ending in "
     ".mjs run as ES modules, and so do files with import or export statements. `import` loads "
     "files beneath FILE's directory only: relative paths such as './lib.mjs', never '..' out of "
     "it, an absolute path or a symbolic link leading out. Files ending in .ts, .mts or .tsx run as "
     "TypeScript (types stripped, lines and columns kept; .mts as a module; JSX in .tsx is refused)."},
    {Command::Resume, "resume", "STATE", 1, 1, "continue a suspended program saved in STATE",
     "Restores the sandbox that `run --suspend-to STATE` (or an earlier resume) saved, registers "
     "the capabilities of --caps (the manifest it ran with), settles the calls that --answer, "
     "--approve and --deny name, and lets the program go on; it prints as `run` does. Calls not "
     "named keep waiting (`quickbox inspect STATE` lists them). If it waits again, its new state "
     "replaces STATE, or goes to --suspend-to. A signed state needs its --key-file.\n\n"
     "STATE is kept: resuming it again repeats everything after the pause, unless --consume deleted "
     "it. A resume claims STATE (STATE.claim) while it runs; a second one meanwhile exits with code "
     "11, so with --consume an approved call runs at most once."},
    {Command::Inspect, "inspect", "STATE", 1, 1, "describe a saved state without running it",
     "Prints what STATE holds: its format version, whether it is signed, the guest build it was "
     "taken with (and whether this quickbox runs the same one: resume refuses another), its sizes, "
     "its capabilities, the calls it waits on and any claim on it. Nothing runs. A signed state "
     "needs the --key-file it was saved with: its MAC is checked before anything in it is believed."},
    {Command::Repl, "repl", "", 0, 0, "read-eval-print loop: one sandbox, state kept between lines",
     "Evaluates entries in one sandbox, so declarations persist. Values print as in Node's REPL "
     "(strings quoted); errors are printed and the loop goes on. An entry goes on over several lines "
     "while QuickJS's parser finds it incomplete (`const f = (x) =>`). Commands: .help, .break "
     "(discard the entry being typed), .load FILE, .save FILE (every entry of the session), .exit. "
     "With --caps, a call that needs approval asks `Approve? [y/N]` and an ask call asks for its "
     "answer as JSON (empty denies).\n\n"
     "On a terminal: line editing (arrows, emacs keys), Tab completes globals and properties, "
     "history in ~/.quickbox_history ($QUICKBOX_REPL_HISTORY names another file; empty keeps none), "
     "Ctrl-C interrupts a running evaluation (the session and its state stay) or clears the line, "
     "Ctrl-D leaves. With piped input it prints only the results, one per line, and reads approvals "
     "and answers from the following lines (an answer that is not JSON denies the call), so it can "
     "be scripted; with --json a call waiting on a person prints a suspended envelope first. A "
     "piped session's exit code is its first failure's: an entry's error, an evaluation left "
     "waiting (10), a bad command or answer (2)."},
    {Command::Help, "help", "[COMMAND|TOPIC]", 0, 1, "show this overview, a command's help or a topic", ""},
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

/// "a, b or c"
template <typename Range>
std::string name_list(const Range &items) {
  std::string out;
  size_t n = std::size(items), i = 0;
  for (const auto &item : items) {
    if (i > 0) out += i + 1 == n ? " or " : ", ";
    out += item.name;
    i++;
  }
  return out;
}

// ---- Help topics: the reference text that several commands share ---------------------------------

std::string output_topic() {
  return "Output of eval, run, resume and repl:\n"
         "  console.log/info/debug lines go to stdout and console.warn/error lines to\n"
         "  stderr, each as the program prints it, before the value. When console\n"
         "  output passed its cap, a notice on stderr says how many bytes were dropped.\n"
         "  An error prints\n"
         "  `Uncaught <Name>: <message>` (a JavaScript exception) or `<Kind>: <message>`\n"
         "  (a limit) and then the JavaScript stack trace, on stderr.\n"
         "With --json, stdout holds exactly one JSON object (one per line in the repl)\n"
         "and nothing goes to stderr; usage errors are still plain text on stderr:\n"
         "  {\"ok\":true,\"value\":...,\"console\":[{\"level\":\"log\",\"text\":\"...\"}],\n"
         "   \"console_dropped_bytes\":0}\n"
         "  {\"ok\":false,\"error\":{\"kind\":\"Timeout\",\"name\":\"InternalError\",\n"
         "   \"message\":\"...\",\"stack\":\"...\"},...}\n"
         "  (\"kind\" says what ended the program; \"name\" is the JavaScript error that\n"
         "  carried it, if any: InternalError for a time limit, RangeError for the stack)\n"
         "A program that waits on a person prints its pending calls, or with --json:\n"
         "  {\"suspended\":true,\"state\":\"STATE\",\"pending\":[{\"id\":3,\"capability\":\"ask\",\n"
         "   \"args\":[...],\"needs_approval\":false}],\"console\":[...],...}\n"
         "--audit adds the host calls (capability, call id, argument bytes and SHA-256,\n"
         "start time, duration, outcome, detail) after the result on stderr, or as\n"
         "\"audit\":[...] with --json.\n";
}

std::string caps_topic() {
  return "Capabilities (--caps FILE): a JSON manifest of the host functions a program\n"
         "may call:\n"
         "  {\"capabilities\": {\"NAME\": {\"handler\": \"HANDLER\", ...fields}},\n"
         "   \"allow_all_three_labels\": false, \"max_host_calls\": N, \"wall_time_ms\": N}\n"
         "NAME is the JS global (or a dotted path such as \"tools.search\"). The built-in\n"
         "handlers, all async in JS:\n"
         "  ask        a person answers later: calling it suspends the program (see\n"
         "             resume)\n"
         "  echo       resolves with its first argument; \"delay_ms\": N first waits\n"
         "  read_text  reads one UTF-8 regular file under \"root\": \"DIR\", at most\n"
         "             max_result_bytes; absolute paths, '..', symbolic links that lead\n"
         "             out of DIR, FIFOs, devices and directories are refused\n"
         "  append     appends its argument (strings as they are, other values as JSON)\n"
         "             as one line to the regular file \"file\": \"FILE\" (demos, tests)\n"
         "Paths in a manifest are relative to the manifest's directory. Policy fields of\n"
         "any capability: max_calls_per_eval, max_in_flight, timeout_ms,\n"
         "max_argument_bytes, max_result_bytes, requires_approval (true: each call waits\n"
         "for `resume --approve`), labels (of \"sensitive_data\", \"untrusted_input\",\n"
         "\"external_effect\"; all three together are refused unless\n"
         "\"allow_all_three_labels\": true). Unknown fields and handlers, and a key written\n"
         "twice in one object, are errors (exit code 2). A program that waits on a person\n"
         "ends with exit code 10; with --suspend-to STATE its state is saved, to be\n"
         "continued by `quickbox resume STATE`.\n"
         "A \"fetch\" section gives the program fetch() under a network policy:\n"
         "  \"fetch\": {\"allow\": [RULE...], \"deny\": [...], \"secrets\": [{\"host\", \"header\",\n"
         "  \"value_env\"}], ...} (docs/network.md); --allow-net HOSTS adds allow rules.\n";
}

// ---- Help ------------------------------------------------------------------------------------------

constexpr size_t kHelpWidth = 80;
/// Joins the words of a phrase that wrap() must not split ("10 suspended").
constexpr char kKeepTogether = '\x1f';

std::string pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text + " ";
}

/// Breaks text into lines of at most kHelpWidth columns; lines after the first start at
/// `indent`, and the first is taken to start there too (after a label of that width).
/// `keep_together`, when given, is printed as a space that never breaks a line.
std::string wrap(std::string_view text, size_t indent, char keep_together = '\0') {
  std::string out;
  size_t column = indent;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (word.empty()) continue;
    if (column > indent && column + 1 + word.size() > kHelpWidth) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      column++;
    }
    out += word;
    column += word.size();
  }
  if (keep_together) std::replace(out.begin(), out.end(), keep_together, ' ');
  return out;
}

/// Paragraphs (separated by a blank line) wrapped to kHelpWidth; other line breaks are spaces.
std::string reflow(std::string_view text) {
  std::string out;
  for (size_t start = 0; start < text.size();) {
    size_t end = std::min(text.find("\n\n", start), text.size());
    std::string paragraph(text.substr(start, end - start));
    std::replace(paragraph.begin(), paragraph.end(), '\n', ' ');
    if (!out.empty()) out += "\n";
    out += wrap(paragraph, 0) + "\n";
    start = end + 2;
  }
  return out;
}

/// A subject of `quickbox help TOPIC`: reference text that concerns several commands.
struct Topic {
  std::string_view name;
  std::string_view summary;
  std::string (*text)();
  CommandSet (*concerns)();  ///< the commands whose help points to it
};

const Topic kTopics[] = {
    {"output", "what eval, run, resume and repl print, as text and with --json", output_topic,
     [] { return kSandboxCommands; }},
    {"caps", "the capability manifest (--caps) and its built-in handlers", caps_topic,
     [] { return find_flag("--caps")->commands; }},
    {"exit-codes", "every exit code and what it means",
     [] {
       std::string out = "Exit codes:\n";
       for (const ExitStatus &status : kExitStatuses) {
         std::string label = "  " + pad(std::to_string(status.code), 2) + " " + pad(std::string(status.name), 14);
         out += label + wrap(status.meaning, label.size()) + "\n";
       }
       return out;
     },
     [] { return kAllCommands; }},
};

const Topic *find_topic(std::string_view name) {
  for (const Topic &topic : kTopics) {
    if (topic.name == name) return &topic;
  }
  return nullptr;
}

/// The flags `command` takes, one description each.
std::string flags_section(Command command) {
  constexpr size_t kIndent = 22;
  std::string out = "Flags:\n";
  for (const Flag &flag : kFlags) {
    if (!(flag.commands & command_bit(command))) continue;
    std::string head(flag.name);
    if (!flag.alias.empty()) head = std::string(flag.alias) + ", " + head;
    if (!flag.value_name.empty()) head.append(" ").append(flag.value_name);
    std::string help(flag.help);
    if (flag.default_text) help += " (default " + flag.default_text() + ")";
    out += "  " + pad(head, kIndent - 3) + wrap(help, kIndent) + "\n";
  }
  return out;
}

/// "Exit codes: 0 ok, 2 usage, ..." for the codes `command` can end with, and the topics that
/// say more about it.
std::string footer(Command command) {
  std::string codes;
  for (const ExitStatus &status : kExitStatuses) {
    if (!(status.commands & command_bit(command))) continue;
    if (!codes.empty()) codes += ", ";
    codes += std::to_string(status.code) + kKeepTogether + std::string(status.name);
  }
  std::string topics;
  for (const Topic &topic : kTopics) {
    if (!(topic.concerns() & command_bit(command))) continue;
    topics += (topics.empty() ? "" : ", ") + std::string("`quickbox help ") + std::string(topic.name) + "`";
  }
  return wrap("Exit codes: " + codes, 2, kKeepTogether) + "\n" + wrap("More: " + topics, 2) + "\n";
}

std::string overview() {
  constexpr size_t kIndent = 34;
  std::string out = reflow("quickbox " QUICKBOX_VERSION " - run untrusted JavaScript in a sandbox (quickjs-ng in "
                           "wasmtime) with hard limits on memory, CPU time, stack and output, and no access to "
                           "files, network or environment beyond the capabilities a manifest grants (--caps). "
                           "A program that waits on a person can be saved (--suspend-to) and resumed in "
                           "another process.");
  out += "\nUsage:\n";
  for (const CommandInfo &info : kCommands)
    out += "  " + pad(usage_line(info), kIndent - 3) + wrap(info.summary, kIndent) + "\n";
  out += "  " + pad("quickbox --version", kIndent - 3) + wrap(find_flag("--version")->help, kIndent) + "\n";
  out += "\n" + reflow("Flags go before or after the operands (`--` ends them; `--flag=value` works too). "
                       "`quickbox help COMMAND` or `quickbox COMMAND --help` lists the flags COMMAND takes.");
  out += "\nTopics (`quickbox help TOPIC`):\n";
  for (const Topic &topic : kTopics) out += "  " + pad(std::string(topic.name), 11) + wrap(topic.summary, 14) + "\n";
  return out;
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
  if (flag && !flag->value_name.empty() && !flag->repeats && std::find(used.begin(), used.end(), flag) != used.end())
    return UsageError{std::string(flag->name) + " is given twice; give it once"};
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
  // A state file does not hold the sandbox's settings (the resuming side's govern): the resume
  // command printed for a suspension repeats the ones given here.
  constexpr std::string_view kRepeatedOnResume[] = {"--memory", "--timeout", "--stack", "--seed", "--clock"};
  if (std::find(std::begin(kRepeatedOnResume), std::end(kRepeatedOnResume), flag->name) != std::end(kRepeatedOnResume))
    options.sandbox_flags.emplace_back(std::string(flag->name), std::string(value));
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
    if (flag->commands & command_bit(options.command)) continue;
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
  if (options.command == Command::Run && options.modules_dir && options.operands[0] != "-")
    return UsageError{"run FILE imports from FILE's directory; --modules-dir is for code without a file "
                      "(eval, run -, repl) and for resume"};
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
    return UsageError{"missing command (" + name_list(kCommands) + ")"};
  }
  const CommandInfo *info = find_command(*command_name);
  if (!info)
    return UsageError{"unknown command '" + *command_name + "' (expected " + name_list(kCommands) + ")"};
  options.command = info->command;
  if (options.help) return options;
  if (auto error = check_operands(options)) return *error;
  if (options.command == Command::Help && !options.operands.empty()) {
    const std::string &subject = options.operands[0];
    if (const CommandInfo *command = find_command(subject)) {
      options.command = command->command;
      options.help = true;
    } else if (find_topic(subject)) {
      options.help_topic = subject;
    } else {
      return UsageError{"no help for '" + subject + "': expected a command (" + name_list(kCommands) +
                        ") or a topic (" + name_list(kTopics) + ")"};
    }
    options.operands.clear();
    return options;
  }
  if (options.command == Command::Repl && options.module)
    return UsageError{"--module cannot be used with repl: a module's declarations do not persist"};
  if (auto error = check_flags_apply(options, used_flags)) return *error;
  if (auto error = check_flag_combinations(options)) return *error;
  if (options.command == Command::Run) {
    const std::string &file = options.operands[0];
    if (file.ends_with(".mjs") || file.ends_with(".mts")) options.module = true;
    if (file.ends_with(".ts") || file.ends_with(".mts")) options.language = SourceLanguage::TypeScript;
    if (file.ends_with(".tsx")) options.language = SourceLanguage::TSX;
  }
  return options;
}

std::string help_text(Command command) {
  const CommandInfo *info = find_command(command);
  if (!info || command == Command::Help) return overview();
  std::string summary(info->summary);
  summary[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(summary[0])));
  return "Usage: " + usage_line(*info) + "\n\n" + summary + ".\n" + reflow(info->details) + "\n" +
         flags_section(command) + "\n" + footer(command);
}

std::string topic_text(std::string_view name) {
  const Topic *topic = find_topic(name);
  return topic ? topic->text() : "";
}

}  // namespace quickbox::cli
