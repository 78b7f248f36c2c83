// The hostile-program corpus (tests/js/hostile) and the normal programs the soak mixes in
// (tests/js/normal), read from disk and run against their headers. Shared by the corpus
// specification (hostile_test.cc) and the soak test (tests/soak), so both judge a program by the
// same rules. Free of GoogleTest: the soak is a plain program.
//
// Header of a program (its leading `//` lines, `key: value`):
//   // expect: <ErrorKind> | Done        required
//   // why: <one line>                   required, what the program attacks (or exercises)
//   // name: <JS error name>             optional; an empty value means "no name" (non-Error throws)
//   // message: <substring>              optional, a substring of Error::message
//   // limit: <substring>                optional, for limits that are not a Limits field (the BigInt
//                                        size cap, the host memory budget, the pending-call cap): what
//                                        the message must state instead of the sandbox limit
//   // thrown: <inspect text>            optional, Error::thrown as util.inspect shows it (Sandbox::format)
//   // result: <inspect text>            optional, the Done value as util.inspect shows it
//   // console: <substring>              optional, a substring of some captured console line
//   // console-dropped: yes              optional, console output must have been capped
//   // discarded: no | yes               optional, whether the error must (not) discard the instance;
//                                        `no` pins a limit to the catchable check that should trip
//                                        first (the JS stack limit before the wasm stack)
//   // caps: <name> <name> ...           optional, host capabilities to register (see kCorpusCapabilities)
//   // cpu-time: <ms>                    optional, the CPU budget instead of the default for its kind
//   // wall-time: <ms>                   optional, Limits::wall_time
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"

namespace quickbox::test_support {

/// Programs expected to time out get a short budget so the suite stays fast; every other program
/// gets a generous one, so that a memory bomb cannot turn into a Timeout on a busy machine (the
/// budget counts elapsed time while the guest runs: a memory bomb that needs 2 s of CPU took over
/// 10 s with four soak threads on two heavily shared cores).
constexpr std::chrono::milliseconds kTimeoutBudget{500};
constexpr std::chrono::milliseconds kOtherBudget{30000};

/// The capabilities a program may ask for with `// caps:`. All are real host functions:
///   echo(v)       async; the handler resolves at once with v (so reactions run at settle time)
///   echoLater(v)  async; another thread resolves with v after 1 ms
///   echoSync(v)   sync; returns v
///   sleep(ms)     sync; blocks the calling thread for ms milliseconds (at most 10000)
///   hang(v)       external; nobody ever answers it (its calls stay pending)
/// Each accepts arguments up to 16 MiB, the sandbox's own value limit.
extern const std::vector<std::string> kCorpusCapabilities;

/// One program file and what its header promises.
struct CorpusProgram {
  std::string file_name;
  std::string source;
  std::optional<ErrorKind> kind;  // nullopt: Done
  std::optional<std::string> name, message, limit, thrown, result, console;
  bool console_dropped = false;
  std::optional<bool> discarded;
  std::vector<std::string> caps;
  std::optional<std::chrono::milliseconds> cpu_time, wall_time;
  std::string why;
  std::string header_problem;  // non-empty when the header cannot be understood

  /// The class a program belongs to: its file name up to the first '-' ("settle", "oom", ...).
  std::string family() const;
};

/// Parses a program's header from its source.
CorpusProgram parse_program(std::string file_name, std::string source);
/// Reads and parses one program file.
CorpusProgram load_program(const std::filesystem::path &path);
/// Every *.js file of a directory, sorted by name (empty if the directory does not exist).
std::vector<CorpusProgram> load_programs(const std::filesystem::path &dir);

/// tests/js/hostile and tests/js/normal of this source tree.
std::filesystem::path hostile_corpus_dir();
std::filesystem::path normal_programs_dir();

/// The sandbox options a program runs under (budgets from its header or its kind).
SandboxOptions options_for(const CorpusProgram &program);

/// How one run of a program went.
struct RunReport {
  /// Every way the run departed from the header or left a sandbox unusable, one sentence each.
  std::vector<std::string> problems;
  /// What the evaluation produced, as one line ("Done(2)", "Error(Timeout, ...)").
  std::string outcome;
  /// The ErrorKind the evaluation ended in (nullopt: Done or Suspended).
  std::optional<ErrorKind> kind;
  bool instance_discarded = false;
  /// CPU time the calling thread spent inside the evaluation (guest and host work together).
  std::chrono::microseconds thread_cpu{0};
  std::chrono::microseconds wall{0};

  bool ok() const { return problems.empty(); }
  /// All problems, one per line.
  std::string text() const;
};

/// Runs a program in a new sandbox of `engine` and checks, in order: that it ends as its header
/// says; that the evaluation's thread did not spend more CPU than the budget allows (so work at
/// settle time or on the host side cannot escape it) and, under a wall-time limit, that the
/// evaluation ended within twice that limit plus a second; that the same sandbox evaluates 1 + 1
/// afterwards (after reset() when the instance was discarded); and that a fresh sandbox sees
/// pristine intrinsics.
RunReport run_program(const Engine &engine, const CorpusProgram &program);

/// The most thread CPU an evaluation under `options` may use: both budgets and the hard deadline
/// behind them, plus room for the host's own linear work (encoding, decoding, the checks).
std::chrono::microseconds cpu_allowance(const SandboxOptions &options);

/// A result as one line ("Done(2)", "Error(Timeout, name '', message '...')", "Suspended(3 pending)").
std::string summarize(const Result &r);

}  // namespace quickbox::test_support
