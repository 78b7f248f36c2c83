/// \file cli.hh
/// \brief Declarations shared by the files of the `quickbox` command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "quickbox/quickbox.hh"

namespace quickbox::cli {

enum class Command { Eval, Run, Repl, Resume, Inspect, Help, Version };

/// A set of commands, one bit each: which commands a flag, exit code or help topic concerns.
using CommandSet = uint32_t;
constexpr CommandSet command_bit(Command command) { return CommandSet{1} << static_cast<unsigned>(command); }
inline constexpr CommandSet kAllCommands = ~CommandSet{0};

// ---- Exit codes ----------------------------------------------------------------------------------

/// One row of the exit-code table. Every exit code the program uses is a row here; the help
/// prints this table and exit_code_for() reads it, so the two cannot drift apart.
struct ExitStatus {
  int code;
  std::string_view name;
  std::optional<ErrorKind> kind;  ///< the error kind this code reports, if it reports one
  std::string_view meaning;
  CommandSet commands;  ///< the commands that can end with it (each command's help lists these)
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternal = 8;
inline constexpr int kExitSuspended = 10;
inline constexpr int kExitClaimed = 11;
inline constexpr int kExitOutput = 12;

/// The commands whose exit code is the outcome of the program they ran. A repl reading piped
/// input ends with its first failed entry's.
inline constexpr CommandSet kOutcomeCommands = command_bit(Command::Eval) | command_bit(Command::Run) |
                                               command_bit(Command::Resume) | command_bit(Command::Repl);

inline constexpr ExitStatus kExitStatuses[] = {
    {kExitOk, "ok", std::nullopt, "the program ran to completion", kAllCommands},
    {1, "JSException", ErrorKind::JSException, "an uncaught JavaScript exception", kOutcomeCommands},
    {kExitUsage, "usage", std::nullopt, "bad flags or arguments, or the file cannot be read", kAllCommands},
    {3, "Timeout", ErrorKind::Timeout, "the CPU time limit (--timeout) was exceeded", kOutcomeCommands},
    {4, "OutOfMemory", ErrorKind::OutOfMemory, "the memory limit (--memory) was exceeded", kOutcomeCommands},
    {5, "StackOverflow", ErrorKind::StackOverflow, "the stack limit (--stack) was exceeded", kOutcomeCommands},
    {6, "OutputLimit", ErrorKind::OutputLimit, "the result is larger than the result size limit",
     kOutcomeCommands},
    {7, "InvalidInput", ErrorKind::InvalidInput,
     "the program or a state file was rejected (e.g. not valid UTF-8, a bad MAC)",
     kOutcomeCommands | command_bit(Command::Inspect)},
    {kExitInternal, "Internal", ErrorKind::Internal, "a bug or an unexpected trap inside quickbox", kAllCommands},
    {9, "Deadlock", ErrorKind::Deadlock, "the awaited promise can never settle", kOutcomeCommands},
    {kExitSuspended, "suspended", std::nullopt,
     "the program waits on a person's answer or approval (see --suspend-to and resume)", kOutcomeCommands},
    {kExitClaimed, "claimed", std::nullopt,
     "another resume holds the state, or one that died left it claimed (see resume --reclaim)",
     command_bit(Command::Resume)},
    {kExitOutput, "output", std::nullopt,
     "stdout could not be written (a full disk, a closed pipe): what was printed is incomplete", kAllCommands},
};

/// The exit code that reports an error of this kind.
int exit_code_for(ErrorKind kind);

// ---- The command line ------------------------------------------------------------------------------

/// One `--answer ID=JSON`: the value an `ask` call resolves with.
struct Answer {
  uint32_t call_id = 0;
  Value value;
};

/// One `--deny ID[=REASON]`.
struct Denial {
  uint32_t call_id = 0;
  std::string reason;
};

/// Everything the command line asked for.
struct Options {
  Command command = Command::Help;
  /// The subcommand's operands: the code for eval, the file for run, the topic for help.
  std::vector<std::string> operands;
  SandboxOptions sandbox;
  bool json = false;
  bool module = false;
  /// --typescript, or a .ts, .mts or .tsx file: the source's types are stripped before it runs.
  SourceLanguage language = SourceLanguage::JavaScript;
  /// `quickbox <cmd> --help`: show the command's help instead of running it.
  bool help = false;
  /// `quickbox help TOPIC`: the topic to show (output, caps, exit-codes); empty otherwise.
  std::string help_topic;
  /// --caps: the capability manifest.
  std::optional<std::string> caps_file;
  /// --suspend-to: where a suspended program's state goes.
  std::optional<std::string> suspend_to;
  /// The flags that set the sandbox up (--memory, --timeout, --stack, --seed, --clock) as given,
  /// in order: a state file does not carry them, so the printed resume command repeats them.
  std::vector<std::pair<std::string, std::string>> sandbox_flags;
  /// --key-file: the HMAC key that signs and checks state files.
  std::optional<std::string> key_file;
  /// --audit: print the host-call audit log after the result.
  bool audit = false;
  /// resume --consume: delete the state file once it has been used.
  bool consume = false;
  /// resume --reclaim: take over a claim left by a resume that died.
  bool reclaim = false;
  std::vector<Answer> answers;
  std::vector<uint32_t> approvals;
  std::vector<Denial> denials;
  /// --modules-dir: the directory imports load from: for resume the entry file's, as run named
  /// it; for eval, run - and repl, any directory the caller grants.
  std::optional<std::string> modules_dir;
  /// --allow-net: allow rules for fetch(), added to the manifest's "fetch" section if any.
  std::vector<std::string> allow_net;
};

/// A command line that cannot be run; the message says what was wrong.
struct UsageError {
  std::string message;
};

/// Parses argv. Flags may come before or after the operands; `--` ends the flags.
std::variant<Options, UsageError> parse_command_line(int argc, char **argv);

/// The help text for a command (Command::Help: the overview), ending in a newline.
std::string help_text(Command command);

/// The text of a help topic that parse_command_line accepted (`quickbox help exit-codes`).
std::string topic_text(std::string_view name);

// ---- Showing results --------------------------------------------------------------------------------

/// How the final value of a successful evaluation is printed in text mode.
enum class ValueDisplay {
  NodePrint,               ///< like `node -p`: strings raw, `undefined` printed (eval)
  NodePrintUnlessUndefined,///< like `node -p`, but nothing for undefined (run: files end in statements)
  Inspect,                 ///< like Node's REPL: util.inspect, strings quoted (repl)
};

/// Prints a result: console lines, then the value (stdout) or the error (stderr), then the audit
/// log when one is given (stderr); in JSON mode one envelope object on stdout instead, with the
/// audit log as "audit". Returns the exit code for it. Not for Suspended results. In text mode
/// the value prints as Result::display: evaluate with EvalOptions::display.
int report(const Result &result, bool json, ValueDisplay display, uint64_t console_limit,
           const std::vector<AuditEntry> *audit = nullptr);

/// What to tell the user about a suspended program besides its pending calls.
struct SuspensionNote {
  /// Where its state was saved; unset when it was not (no --suspend-to).
  std::optional<std::string> state_file;
  /// The command that continues it, without the per-call flags: "quickbox resume S --caps F".
  std::string resume_command;
  /// The calls are settled in this process next (the repl asks for them), so no state is lost
  /// for want of --suspend-to.
  bool settled_now = false;
};

/// Prints a Suspended result: console lines, the pending calls and how to continue (stdout), or,
/// when the state was not saved, an error saying to pass --suspend-to (stderr); in JSON mode one
/// envelope object {"suspended", "state", "pending", "console", ...} on stdout. Returns
/// kExitSuspended.
int report_suspension(Sandbox &sandbox, const Result &result, const SuspensionNote &note, bool json,
                      uint64_t console_limit, const std::vector<AuditEntry> *audit = nullptr);

/// Prints a result's console lines (stdout, or stderr for warn and error) and a notice of what
/// was dropped past the limit, as report() does in text mode.
void print_console(const Result &result, uint64_t console_limit);

/// Prints one console line as the program prints it (SandboxOptions::on_console in text mode, so
/// a long program's progress shows while it runs): stdout, or stderr for warn and error.
void print_console_line(const ConsoleLine &line);

/// "#3 ask('Publish?')": a pending call for people, its arguments as util.inspect shows them
/// (formatted by `sandbox`, or as JSON when there is none), shortened when long.
std::string describe_call(const PendingCall &call, Sandbox *sandbox);

/// 'text', for names and paths inside messages.
inline std::string in_quotes(std::string_view text) {
  std::string out(1, '\'');  // built by appending: GCC 12 warns falsely about "'" + std::string
  return out.append(text).append(1, '\'');
}
/// What a person does about a pending call: "--approve 3 or --deny 3[=REASON]".
std::string how_to_settle(const PendingCall &call);
/// [{"id", "capability", "args", "needs_approval"}, ...]
Value pending_calls_json(const std::vector<PendingCall> &pending);

/// Prints an error that did not come from an evaluation (the engine or sandbox failed to start).
/// Returns the exit code for it.
int report_setup_error(const Error &error, bool json);

/// Prints "quickbox: <context>: <Kind>: <message>" on stderr, or an error envelope with --json.
/// Returns the exit code for the error's kind.
int report_failure(const std::string &context, const Error &error, bool json);

// ---- Capability manifests (manifest.cc, handlers.cc) -----------------------------------------------

/// The built-in host functions a manifest can offer to a program.
enum class Handler {
  Ask,       ///< External: a person answers later (`quickbox resume --answer`)
  Echo,      ///< async; resolves with its first argument (for testing), optionally after delay_ms
  ReadText,  ///< async; reads one UTF-8 file under the manifest's "root" directory
  Append,    ///< async; appends its argument as a line to the manifest's "file" (demo/testing)
};

/// One entry of the manifest's "capabilities" object.
struct CapabilitySpec {
  std::string name;  ///< the JS name
  Handler handler = Handler::Ask;
  CapabilityPolicy policy;
  /// ReadText: the root directory, canonical (symbolic links resolved). Append: the file.
  std::filesystem::path path;
  /// Echo: how long to wait before resolving.
  std::chrono::milliseconds delay{0};
};

/// A parsed and checked --caps file.
struct Manifest {
  std::string file;  ///< as given on the command line
  std::vector<CapabilitySpec> capabilities;
  bool allow_all_three_labels = false;
  std::optional<uint32_t> max_host_calls;
  std::optional<std::chrono::milliseconds> wall_time;
  /// The "fetch" section: the program gets fetch() under this policy.
  std::optional<NetworkPolicy> network;
};

/// Reads and checks a manifest; on failure, a message naming the file and the offending field.
std::variant<Manifest, UsageError> load_manifest(const std::string &file);

/// The manifest's sandbox-wide settings applied to options.
void apply_manifest(const Manifest &manifest, SandboxOptions &options);

/// The host function a manifest entry describes.
Capability make_capability(const CapabilitySpec &spec);

/// Reads a manifest's "fetch" section (manifest_fetch.cc); relative paths start at `base`. Throws
/// manifest::ManifestError naming the field ("fetch.secrets[0].host: ...").
NetworkPolicy fetch_policy(const Value &section, const std::filesystem::path &base);

/// Adds the rules of an --allow-net list ("api.example.com,127.0.0.1:8080") to `rules`; or what a
/// valid list looks like.
std::optional<std::string> parse_allow_net(std::string_view list, std::vector<std::string> &rules);

/// Registers every capability of the manifest; on failure, a message naming the file.
std::optional<UsageError> register_capabilities(Sandbox &sandbox, const Manifest &manifest);

// ---- Claims on state files (claim.cc) -----------------------------------------------------------------

/// The claim this process holds on a state file (STATE.claim, locked); releasing it (or the
/// destructor) removes the claim file. A process that dies holding it leaves the file behind.
class StateClaim {
 public:
  StateClaim(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  StateClaim(StateClaim &&other) noexcept;
  StateClaim &operator=(StateClaim &&) = delete;
  ~StateClaim();
  void release();

 private:
  std::string path_;
  int fd_;
};

/// Why a state could not be claimed.
struct ClaimRefusal {
  std::string message;
  bool held = false;  ///< another resume holds it, or left it (exit kExitClaimed); else a file error
};

/// Claims `state_file` for this process, atomically: of any number of concurrent claims exactly
/// one succeeds. A claim left by a process that died is refused unless `reclaim`.
std::variant<StateClaim, ClaimRefusal> claim_state(const std::string &state_file, bool reclaim);

/// Who holds the claim on a state file, if anyone.
struct ClaimHolder {
  std::string description;  ///< "pid 1234 since 2026-12-01T05:00:00Z"
  bool running = false;     ///< false: its process ended without releasing it
};
std::optional<ClaimHolder> claim_holder(const std::string &state_file);

// ---- Terminals (terminal.cc) --------------------------------------------------------------------------

/// When stdout or stderr is a terminal, shows control characters written there as visible
/// escapes (\x1b, \u009b) instead of sending them: program text cannot drive the terminal.
/// Pipes and files are left byte-exact. Called once, before anything is printed.
void show_controls_on_terminals();

// ---- Shared by the commands -------------------------------------------------------------------------

/// Prints "quickbox: <message>" and a pointer to --help on stderr; returns kExitUsage.
int usage_error(const std::string &message);

/// An Engine sized for one CLI process and the memory limit asked for.
Expected<Engine> start_engine(const Options &options);

/// Explains a failure to create (or restore) a sandbox; returns the exit code for it.
int setup_failure(const Error &error, const Options &options);

/// The error's message naming the setting it is about as the command line sets it ("--memory",
/// "--key-file FILE", the manifest's "allow_all_three_labels": true); the library's name stays for
/// settings the command line does not offer.
std::string in_cli_words(const Error &error);

/// The largest file the command line reads whole (a state): no legitimate one comes near it, and
/// it keeps an endless file (/dev/zero) from exhausting memory.
inline constexpr uint64_t kMaxInputFileBytes = uint64_t{1} << 30;
/// A capability manifest is a few KiB of JSON; a key, a few bytes (HMAC-SHA256 hashes a longer
/// one down to 32). Beyond these a file is a mistake, refused before it is read to the end.
inline constexpr uint64_t kMaxManifestBytes = uint64_t{1} << 20;
inline constexpr uint64_t kMaxKeyFileBytes = uint64_t{64} << 10;

/// The whole contents of a file, or a message saying why it cannot be read (including a file
/// larger than max_bytes; reading stops there).
std::variant<std::string, UsageError> read_file(const std::string &path, uint64_t max_bytes = kMaxInputFileBytes);

/// The sandbox options the command line and its manifest (if any) ask for.
SandboxOptions sandbox_options(const Options &options, const Manifest *manifest);

// ---- Files beneath a directory (handlers.cc) ------------------------------------------------------

/// Closes a file descriptor when it goes out of scope.
struct FileDescriptor {
  int fd;
  explicit FileDescriptor(int fd) : fd(fd) {}
  FileDescriptor(FileDescriptor &&other) noexcept : fd(std::exchange(other.fd, -1)) {}
  FileDescriptor(const FileDescriptor &) = delete;
  FileDescriptor &operator=(const FileDescriptor &) = delete;
  ~FileDescriptor();
};

/// Opens the relative path `requested` for reading, never outside `root` (openat2 with
/// RESOLVE_BENEATH); `who` names the reader in CapabilityError messages ("read_text").
FileDescriptor open_inside(const std::filesystem::path &root, const std::string &requested, const std::string &who);
/// The file's bytes, at most max_bytes (CapabilityError beyond them).
std::string read_bounded(int fd, uint64_t max_bytes, const std::string &requested, const std::string &who);
/// "not a regular file (a named pipe)".
std::string not_regular(unsigned mode);

// ---- ES modules (modules.cc) ------------------------------------------------------------------------

/// How errors name a module loader's directory: "the entry file's directory" and "the entry file"
/// for run FILE and resume, or the directory --modules-dir granted code without a file.
struct ModuleDirectory {
  std::string place = "the entry file's directory";  ///< "leads outside <place>"
  std::string owner = "the entry file";             ///< "the directory of <owner> cannot be opened"
};

/// The loader of `run FILE` and of `--modules-dir DIR`: relative specifiers ("./lib.mjs",
/// "../x.js" as long as it stays inside) name files beneath `directory`, read with open_inside;
/// everything else is refused. Module names are paths spelled from `directory` as given
/// ("app/lib.mjs" for "app"), so a resume that names the directory as run did resolves the names
/// a snapshot holds. .ts, .mts and .tsx files have their types stripped. A file over max_bytes
/// (the module source limit) is not read whole.
ModuleLoader directory_module_loader(const std::filesystem::path &directory, uint64_t max_bytes,
                                     ModuleDirectory names);
/// directory_module_loader of the entry file's directory (entry_directory).
ModuleLoader file_module_loader(const std::filesystem::path &entry_file, uint64_t max_bytes);
/// The directory of an entry file as its path spells it ("app" for "app/main.mjs", "." for
/// "main.mjs"): what resume's --modules-dir must say.
std::filesystem::path entry_directory(const std::filesystem::path &entry_file);
/// A loader that refuses every import with "cannot import 'SPECIFIER': why": for code that was
/// given no directory to import from (eval, run -, repl and resume without --modules-dir).
ModuleLoader refusing_module_loader(std::string why);
/// A usage error when --modules-dir is given and is not a directory.
std::optional<UsageError> check_modules_dir(const Options &options);
/// Whether a script looks like an ES module: a line starting with an import or export statement.
bool has_module_syntax(std::string_view source);

/// Saves a suspended evaluation's state to --suspend-to (or `fallback_state`, if set) signed with
/// `key`, and reports it. Returns the exit code.
int suspend(Sandbox &sandbox, const Result &result, const Options &options,
            const std::optional<std::string> &fallback_state, const std::vector<uint8_t> &key);

/// Fails when --suspend-to names a place a state cannot be written to (checked before running).
std::optional<UsageError> check_suspend_destination(const Options &options);

/// The bytes of --key-file (empty without one), or why it cannot be used.
std::variant<std::vector<uint8_t>, UsageError> read_key(const Options &options);

// ---- Commands ---------------------------------------------------------------------------------------

/// `quickbox resume STATE`: continues a suspended program in this process. Returns the exit code.
int run_resume(const Options &options);

/// `quickbox inspect STATE`: describes a state file without running it. Returns the exit code.
int run_inspect(const Options &options);

/// Reads JavaScript lines from stdin and evaluates each entry in one sandbox. Returns the exit
/// code.
int run_repl(Sandbox &sandbox, const Options &options);


// ---- The repl's terminal and completion (line_editor.cc, completion.cc) ------------------------

/// What completing the word before the cursor offers.
struct Completions {
  size_t word_length = 0;               ///< bytes before the cursor the candidates replace
  std::vector<std::string> candidates;  ///< whole words, sorted
};

/// Reads lines from a terminal with line editing, a history kept in a file, and tab completion
/// (libedit, emacs keys). Ctrl-C cancels the line being typed; Ctrl-D on an empty line ends input.
class LineEditor {
 public:
  /// The candidates for the text before the cursor.
  using Completer = std::function<Completions(std::string_view before_cursor)>;
  /// history_file: loaded now and saved after every line; empty keeps history for this session.
  LineEditor(std::string history_file, Completer completer);
  ~LineEditor();
  LineEditor(const LineEditor &) = delete;
  LineEditor &operator=(const LineEditor &) = delete;

  struct Line {
    enum class Kind { Text, Cancelled, End } kind;
    std::string text;  ///< without its line break; for Cancelled, what had been typed
  };
  /// Shows `prompt` (quickbox's own text, never the program's) and reads one line.
  Line read(const std::string &prompt);
  /// Adds a line to the history and saves the history file.
  void remember(const std::string &line);

  struct State;

 private:
  std::unique_ptr<State> state_;
};

/// Completes the JavaScript name before the cursor from what the sandbox holds: the globals,
/// keywords and the top-level declarations among `typed_names`; or, after a dotted chain of names
/// ("Math.ma"), that object's properties.
Completions complete_name(Sandbox &sandbox, std::string_view before_cursor, const std::set<std::string> &typed_names);

/// Adds the names that source uses (not those after a dot) to `names`, up to a cap: the
/// candidates complete_name() checks for top-level declarations.
void collect_names(std::string_view source, std::set<std::string> &names);

}  // namespace quickbox::cli
