/// \file cli.hh
/// \brief Declarations shared by the files of the `quickbox` command line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "quickbox/quickbox.hh"

namespace quickbox::cli {

// ---- Exit codes ----------------------------------------------------------------------------------

/// One row of the exit-code table. Every exit code the program uses is a row here; `--help`
/// prints this table and exit_code_for() reads it, so the two cannot drift apart.
struct ExitStatus {
  int code;
  std::string_view name;
  std::optional<ErrorKind> kind;  ///< the error kind this code reports, if it reports one
  std::string_view meaning;
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternal = 8;

inline constexpr ExitStatus kExitStatuses[] = {
    {kExitOk, "ok", std::nullopt, "the program ran to completion"},
    {1, "JSException", ErrorKind::JSException, "an uncaught JavaScript exception"},
    {kExitUsage, "usage", std::nullopt, "bad flags or arguments, or the file cannot be read"},
    {3, "Timeout", ErrorKind::Timeout, "the CPU time limit (--timeout) was exceeded"},
    {4, "OutOfMemory", ErrorKind::OutOfMemory, "the memory limit (--memory) was exceeded"},
    {5, "StackOverflow", ErrorKind::StackOverflow, "the stack limit (--stack) was exceeded"},
    {6, "OutputLimit", ErrorKind::OutputLimit, "the result is larger than the result size limit"},
    {7, "InvalidInput", ErrorKind::InvalidInput, "the program was rejected (e.g. not valid UTF-8)"},
    {kExitInternal, "Internal", ErrorKind::Internal, "a bug or an unexpected trap inside quickbox"},
    {9, "Deadlock", ErrorKind::Deadlock, "the awaited promise can never settle"},
};

/// The exit code that reports an error of this kind.
int exit_code_for(ErrorKind kind);

// ---- The command line ------------------------------------------------------------------------------

enum class Command { Eval, Run, Repl, Help, Version };

/// Everything the command line asked for.
struct Options {
  Command command = Command::Help;
  /// The subcommand's operands: the code for eval, the file for run, the topic for help.
  std::vector<std::string> operands;
  SandboxOptions sandbox;
  bool json = false;
  bool module = false;
  /// `quickbox <cmd> --help`: show the command's help instead of running it.
  bool help = false;
};

/// A command line that cannot be run; the message says what was wrong.
struct UsageError {
  std::string message;
};

/// Parses argv. Flags may come before or after the operands; `--` ends the flags.
std::variant<Options, UsageError> parse_command_line(int argc, char **argv);

/// The help text for a command (Command::Help: the overview), ending in a newline.
std::string help_text(Command command);

// ---- Showing results --------------------------------------------------------------------------------

/// How the final value of a successful evaluation is printed in text mode.
enum class ValueDisplay {
  NodePrint,               ///< like `node -p`: strings raw, `undefined` printed (eval)
  NodePrintUnlessUndefined,///< like `node -p`, but nothing for undefined (run: files end in statements)
  Inspect,                 ///< like Node's REPL: util.inspect, strings quoted (repl)
};

/// Prints a result: console lines, then the value (stdout) or the error (stderr); in JSON mode one
/// envelope object on stdout instead. Returns the exit code for it.
int report(const Result &result, bool json, ValueDisplay display, uint64_t console_limit);

/// Prints an error that did not come from an evaluation (the engine or sandbox failed to start).
/// Returns the exit code for it.
int report_setup_error(const Error &error, bool json);

// ---- Commands ---------------------------------------------------------------------------------------

/// Reads JavaScript lines from stdin and evaluates each in one sandbox. Returns the exit code.
int run_repl(Sandbox &sandbox, const Options &options);

/// True when `source` ends inside an open bracket, template literal or block comment, so a REPL
/// should read another line before evaluating it.
bool is_incomplete(std::string_view source);

}  // namespace quickbox::cli
