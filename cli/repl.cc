// `quickbox repl`: a read-eval-print loop, one sandbox for the whole session.
//
// An entry is read line by line until QuickJS's parser accepts it (EvalOptions::parse_only): a
// SyntaxError where the parser ran into the end of the entry means it goes on, any other is
// reported. A line starting with a dot and a letter is a repl command (.help lists them). On a
// terminal, lines are edited with libedit (line_editor.cc), Ctrl-C interrupts a running
// evaluation and keeps the session, and the calls a program makes that need a person (approvals
// and `ask` answers, from --caps) are asked for at a prompt. Piped input gets no prompts.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>

#include "cli.hh"

namespace quickbox::cli {
namespace {

std::string_view trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

constexpr const char *kReplFile = "<repl>";

// ---- Ctrl-C while an evaluation runs --------------------------------------------------------------

/// The write end of the pipe the SIGINT handler writes to, or -1.
std::atomic<int> sigint_pipe{-1};
static_assert(std::atomic<int>::is_always_lock_free, "read from a signal handler");

void on_sigint(int) {
  int saved_errno = errno;
  char byte = 'i';
  if (int fd = sigint_pipe.load(); fd >= 0) (void)!write(fd, &byte, 1);
  (void)!write(STDERR_FILENO, "\n", 1);  // the terminal echoed ^C where the cursor was
  errno = saved_errno;
}

/// While it exists, SIGINT (Ctrl-C on the terminal while an evaluation runs: while a line is
/// edited, Ctrl-C is a key) interrupts what the sandbox runs instead of ending the process. A
/// signal handler may not call into the sandbox, so it writes a byte to a pipe, and a thread of
/// its own turns that into Sandbox::interrupt(). A request that arrives while nothing runs is
/// dropped when the next evaluation starts.
class CtrlCInterrupts {
 public:
  explicit CtrlCInterrupts(Sandbox &sandbox) {
    if (pipe2(fds_, O_CLOEXEC) != 0) {
      std::cerr << "quickbox: warning: Ctrl-C will end the repl instead of interrupting: pipe: " << std::strerror(errno)
                << '\n';
      fds_[0] = fds_[1] = -1;
      return;
    }
    fcntl(fds_[1], F_SETFL, O_NONBLOCK);  // a handler must never block
    watcher_ = std::thread([this, &sandbox] {
      for (;;) {
        char byte = 0;
        ssize_t n = read(fds_[0], &byte, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n != 1 || byte == 'q') return;
        sandbox.interrupt();
      }
    });
    sigint_pipe = fds_[1];
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, &previous_);
  }

  ~CtrlCInterrupts() {
    if (fds_[1] < 0) return;
    sigaction(SIGINT, &previous_, nullptr);
    sigint_pipe = -1;
    char quit = 'q';
    (void)!write(fds_[1], &quit, 1);
    watcher_.join();
    close(fds_[0]);
    close(fds_[1]);
  }

  CtrlCInterrupts(const CtrlCInterrupts &) = delete;
  CtrlCInterrupts &operator=(const CtrlCInterrupts &) = delete;

 private:
  int fds_[2];
  std::thread watcher_;
  struct sigaction previous_ {};
};

// ---- Where the parser stopped -----------------------------------------------------------------------

/// Line and column (both from 1, the column in bytes) where QuickJS's parser stopped, from the
/// "at <repl>:LINE:COLUMN" its SyntaxError's stack ends with.
std::optional<std::pair<size_t, size_t>> parse_stop(const std::string &stack) {
  std::string marker = std::string(kReplFile) + ":";
  size_t at = stack.rfind(marker);
  if (at == std::string::npos) return std::nullopt;
  size_t line = 0, column = 0;
  if (std::sscanf(stack.c_str() + at + marker.size(), "%zu:%zu", &line, &column) != 2) return std::nullopt;
  return std::pair(line, column);
}

/// The byte offset of a line and column in source, or npos when it is not in it.
size_t offset_of(std::string_view source, size_t line, size_t column) {
  size_t offset = 0;
  for (size_t l = 1; l < line; l++) {
    offset = source.find('\n', offset);
    if (offset == std::string_view::npos) return offset;
    offset++;
  }
  offset += column - 1;
  return offset <= source.size() ? offset : std::string_view::npos;
}

/// Whether a SyntaxError means the entry goes on: the parser ran into the end of it (it wanted
/// more tokens, or a template literal or block comment was still open when the text ended).
/// QuickJS reports an open template at its backtick (or the `}` that resumed it) and an open
/// comment at its start, with messages that only the end of the text produces.
bool stopped_for_more(const Error &error, std::string_view source) {
  if (error.kind != ErrorKind::JSException || error.name != "SyntaxError") return false;
  auto stop = parse_stop(error.stack);
  if (!stop) return false;
  size_t offset = offset_of(source, stop->first, stop->second);
  if (offset == std::string_view::npos) return false;
  if (offset == source.size()) return true;
  if (error.message == "unexpected end of comment") return true;
  return error.message == "unexpected end of string" && (source[offset] == '`' || source[offset] == '}');
}

// ---- Repl commands ------------------------------------------------------------------------------------

struct ReplCommand {
  std::string_view name;
  std::string_view operand;  ///< "FILE", or empty when it takes none
  std::string_view help;
};

constexpr ReplCommand kReplCommands[] = {
    {"break", "", "discard the entry being typed (Ctrl-C does too)"},
    {"exit", "", "leave the repl (Ctrl-D on an empty line does too)"},
    {"help", "", "show this list"},
    {"load", "FILE", "evaluate a JavaScript file in this session, as one entry"},
    {"save", "FILE", "write every entry of this session to FILE"},
};

std::string repl_help() {
  std::string text;
  for (const ReplCommand &command : kReplCommands) {
    std::string head(1, '.');  // appended, not "." + ...: GCC 12 warns falsely about that
    head.append(command.name).append(command.operand.empty() ? "" : " ").append(command.operand);
    head.resize(std::max<size_t>(head.size() + 2, 12), ' ');
    text += head + std::string(command.help) + "\n";
  }
  return text +
         "\nKeys on a terminal: arrows, Home/End and the emacs keys (Ctrl-A, Ctrl-E, Ctrl-K, Ctrl-R...)\n"
         "edit the line and walk the history; Tab completes names; Ctrl-C interrupts a running\n"
         "evaluation (the session goes on) or clears the line being typed; Ctrl-D leaves.\n"
         "An entry goes on over several lines while it is incomplete.\n";
}

/// A line `.NAME OPERAND` naming a command: its command and operand.
struct CommandLine {
  const ReplCommand *command = nullptr;  ///< null for a name that is no command
  std::string name;
  std::string operand;
};

/// The command a line names, when it starts with a dot and a letter (".5" is a number); nullopt
/// for any other line.
std::optional<CommandLine> command_in(std::string_view line) {
  line = trim(line);
  if (line.size() < 2 || line[0] != '.' || !std::isalpha(static_cast<unsigned char>(line[1]))) return std::nullopt;
  size_t space = line.find_first_of(" \t");
  CommandLine parsed{nullptr, std::string(line.substr(1, space == std::string_view::npos ? space : space - 1)),
                     space == std::string_view::npos ? "" : std::string(trim(line.substr(space)))};
  for (const ReplCommand &command : kReplCommands)
    if (command.name == parsed.name) parsed.command = &command;
  return parsed;
}

/// The history file: $QUICKBOX_REPL_HISTORY (empty: none), else ~/.quickbox_history.
std::string history_file() {
  if (const char *path = std::getenv("QUICKBOX_REPL_HISTORY")) return path;
  const char *home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.quickbox_history" : "";
}

// ---- The loop -------------------------------------------------------------------------------------------

class Repl {
 public:
  Repl(Sandbox &sandbox, const Options &options)
      : sandbox_(sandbox), options_(options), prompts_(isatty(STDIN_FILENO) != 0) {
    if (!prompts_) return;
    if (isatty(STDOUT_FILENO)) {
      editor_ = std::make_unique<LineEditor>(
          history_file(), [this](std::string_view before) { return complete_name(sandbox_, before, names_); });
    }
    interrupts_.emplace(sandbox_);
  }

  int run() {
    if (prompts_) {
      std::cout << "quickbox " QUICKBOX_VERSION " repl. Declarations persist between entries; `.help` lists the "
                   "commands, `.exit` or Ctrl-D leaves.\n";
    }
    std::string entry;
    while (usable_) {
      LineEditor::Line line = read_line(entry.empty() ? "> " : "... ");
      if (line.kind == LineEditor::Line::Kind::End) break;
      if (line.kind == LineEditor::Line::Kind::Cancelled) {
        if (entry.empty() && line.text.empty()) std::cout << "(To leave, press Ctrl-D or type .exit)\n";
        entry.clear();
        continue;
      }
      if (auto command = command_in(line.text); command && (command->command || entry.empty())) {
        if (!run_command(*command, entry)) return kExitOk;
        continue;
      }
      entry += line.text;
      entry += '\n';
      if (entry_goes_on(entry)) continue;
      session_ += entry;
      evaluate(entry, kReplFile);
      entry.clear();
    }
    if (!usable_) return kExitInternal;
    // End of input in the middle of an entry: evaluate it so the user sees what was wrong.
    if (!entry.empty()) {
      session_ += entry;
      evaluate(entry, kReplFile);
    }
    if (prompts_) std::cout << '\n';  // Ctrl-D left the cursor after a prompt
    if (!usable_) return kExitInternal;
    // A person saw each error as it came; a script learns of them from the exit code.
    return prompts_ ? kExitOk : first_failure_;
  }

 private:
  /// Prompts (on a terminal) and reads a line. Code and commands typed on a terminal join the
  /// history; answers to a person's prompts do not.
  LineEditor::Line read_line(const std::string &prompt, bool remember = true) {
    if (editor_) {
      LineEditor::Line line = editor_->read(prompt);
      if (remember && line.kind == LineEditor::Line::Kind::Text && !trim(line.text).empty()) editor_->remember(line.text);
      return line;
    }
    if (prompts_) std::cout << prompt << std::flush;
    std::string text;
    if (!std::getline(std::cin, text)) return {LineEditor::Line::Kind::End, ""};
    return {LineEditor::Line::Kind::Text, std::move(text)};
  }

  /// Whether the parser wants more lines for this entry.
  bool entry_goes_on(const std::string &entry) {
    if (trim(entry).empty()) return false;
    EvalOptions check;
    check.filename = kReplFile;
    check.parse_only = true;
    check.language = options_.language;
    Result parsed = sandbox_.eval(entry, check);
    return parsed.failed() && stopped_for_more(parsed.error(), entry);
  }

  /// Where what quickbox says about the session goes: stdout, or stderr with --json (whose
  /// stdout holds only envelopes).
  std::ostream &note() { return options_.json ? std::cerr : std::cout; }

  /// Runs a repl command; false when the repl should end.
  bool run_command(const CommandLine &line, std::string &entry) {
    if (!line.command) {
      std::cerr << "quickbox: unknown repl command '." << line.name << "'; .help lists them\n";
      failed(kExitUsage);
      return true;
    }
    std::string_view name = line.command->name;
    if (!line.command->operand.empty() && line.operand.empty()) {
      std::cerr << "quickbox: ." << name << " needs a " << line.command->operand << ": ." << name << ' '
                << line.command->operand << '\n';
      failed(kExitUsage);
      return true;
    }
    if (name == "exit") return false;  // the session's code so far stands (run() returns it)
    if (name == "break") entry.clear();
    if (name == "help") note() << repl_help() << std::flush;
    if (name == "load") load(line.operand);
    if (name == "save") save(line.operand);
    return true;
  }

  void load(const std::string &path) {
    auto contents = read_file(path, options_.sandbox.limits.source_bytes);
    if (auto *error = std::get_if<UsageError>(&contents)) {
      std::cerr << "quickbox: .load: " << error->message << '\n';
      failed(kExitUsage);
      return;
    }
    std::string source = std::get<std::string>(std::move(contents));
    if (!source.empty() && !source.ends_with('\n')) source += '\n';
    session_ += source;
    evaluate(source, path);
  }

  void save(const std::string &path) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << session_;
    out.close();
    if (!out) {
      std::cerr << "quickbox: .save: cannot write '" << path << "': " << std::strerror(errno) << '\n';
      failed(kExitOutput);
      return;
    }
    note() << "Session saved to " << path << '\n' << std::flush;
  }

  void evaluate(const std::string &source, const std::string &filename) {
    if (trim(source).empty()) return;
    collect_names(source, names_);
    EvalOptions eval_options;
    eval_options.filename = filename;
    eval_options.language = options_.language;
    if (!options_.json) eval_options.display = EvalOptions::Display::Inspect;
    Result result = sandbox_.eval(source, eval_options);
    while (result.is_suspended()) {
      // --json: the calls waiting go to stdout as `run --json` reports a suspension (with the
      // console lines so far), so a script reading envelopes sees what it is asked to settle.
      if (options_.json) {
        report_suspension(sandbox_, result, SuspensionNote{.state_file = std::nullopt, .resume_command = {}, .settled_now = true}, true,
                          options_.sandbox.limits.console_bytes);
      } else {
        print_console(result, options_.sandbox.limits.console_bytes);
      }
      if (!settle_with_person(result.pending())) {
        failed(kExitSuspended);
        return;
      }
      result = sandbox_.resume();
    }
    failed(report(result, options_.json, ValueDisplay::Inspect, options_.sandbox.limits.console_bytes));
    if (sandbox_.discarded()) recover();
  }

  /// Keeps the exit code of the session's first failure (an entry's or a command's).
  void failed(int exit_code) {
    if (first_failure_ == kExitOk) first_failure_ = exit_code;
  }

  /// Asks the person about every call the evaluation waits on. False when they would not say
  /// (Ctrl-C, end of input): the evaluation is then abandoned.
  bool settle_with_person(const std::vector<PendingCall> &pending) {
    for (const PendingCall &call : pending) {
      if (!settle_with_person(call)) {
        Status abandoned = sandbox_.abandon();
        std::cerr << "quickbox: the evaluation was abandoned: " << describe_call(call, &sandbox_) << " was not settled"
                  << (abandoned ? "" : " (" + abandoned.error().message + ")") << '\n';
        return false;
      }
    }
    return true;
  }

  bool settle_with_person(const PendingCall &call) {
    note() << describe_call(call, &sandbox_) << (call.needs_approval ? " needs approval" : " waits for an answer") << '\n'
           << std::flush;
    for (;;) {
      LineEditor::Line line =
          read_line(call.needs_approval ? "Approve? [y/N] " : "Answer (JSON; empty denies): ", false);
      if (line.kind != LineEditor::Line::Kind::Text) return false;
      std::string_view text = trim(line.text);
      Status settled = std::monostate{};
      if (call.needs_approval) {
        settled = text == "y" || text == "Y" || text == "yes" ? sandbox_.approve(call.call_id)
                                                             : sandbox_.deny(call.call_id, "");
      } else if (text.empty()) {
        settled = sandbox_.deny(call.call_id, "");
      } else {
        Decoded answer = parse_json(text);
        if (!answer.ok && prompts_) {
          std::cerr << "quickbox: the answer is not JSON (" << answer.error
                    << "); a string needs its quotes: \"yes\"\n";
          continue;
        }
        // A script gets no second try: reading on would take its next entries for answers.
        if (!answer.ok) {
          std::cerr << "quickbox: the answer to " << describe_call(call, &sandbox_) << " is not JSON (" << answer.error
                    << "); the call is denied. A string needs its quotes: \"yes\"\n";
          failed(kExitUsage);
        }
        settled = answer.ok ? sandbox_.resolve(call.call_id, answer.value) : sandbox_.deny(call.call_id, "");
      }
      if (settled) return true;
      std::cerr << "quickbox: cannot settle " << describe_call(call, &sandbox_) << ": " << settled.error().message << '\n';
    }
  }

  // A hard stop (e.g. code that never reached an interrupt check) discarded the instance; the
  // session can go on, but only in a fresh realm.
  void recover() {
    Result reset = sandbox_.reset();
    if (reset.ok()) {
      std::cerr << "quickbox: the sandbox was restarted after a hard stop; earlier declarations are gone\n";
      names_.clear();
    } else {
      std::cerr << "quickbox: the sandbox could not be restarted: " << reset.error().to_string() << '\n';
      usable_ = false;
    }
  }

  Sandbox &sandbox_;
  const Options &options_;
  const bool prompts_;                   ///< stdin is a terminal
  std::unique_ptr<LineEditor> editor_;   ///< stdin and stdout are terminals
  std::optional<CtrlCInterrupts> interrupts_;
  std::set<std::string> names_;          ///< names the session typed, for completion
  std::string session_;                  ///< every entry evaluated, for .save
  bool usable_ = true;                   ///< false once the sandbox is gone for good
  int first_failure_ = kExitOk;          ///< the exit code of a scripted session
};

}  // namespace

int run_repl(Sandbox &sandbox, const Options &options) { return Repl(sandbox, options).run(); }

}  // namespace quickbox::cli
