// The hostile-program corpus: every file in tests/js/hostile is a program written to hurt the host
// (endless loops, memory bombs, deep recursion, tampering, unencodable results). Each one must end
// exactly as its header says, with a message that explains itself, and must leave both its own
// sandbox and the next one fully usable.
//
// Memory bombs keep their allocations in block scope, so the garbage dies with the operation and
// "the same sandbox still works" is a fair demand (data a program parks in globals is its own).
//
// Header of a corpus file (leading `//` lines):
//   // expect: <ErrorKind> | Done        required
//   // name: <JS error name>             optional; an empty value means "no name" (non-Error throws)
//   // message: <substring>              optional, a substring of Error::message
//   // thrown: <inspect text>            optional, inspect() of Error::thrown
//   // result: <inspect text>            optional, inspect() of the Done value
//   // console: <substring>              optional, a substring of some captured console line
//   // console-dropped: yes              optional, console output must have been capped
//   // why: <one line>                   required, what the program attacks
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace test_support;

const fs::path kCorpusDir = fs::path(QUICKBOX_SOURCE_DIR) / "tests" / "js" / "hostile";

// Programs expected to time out get a short budget so the suite stays fast; every other program
// gets a generous one, so that a memory bomb on a busy machine cannot turn into a Timeout.
constexpr auto kTimeoutBudget = 500ms;
constexpr auto kOtherBudget = 10000ms;

/// One corpus file and what its header promises.
struct HostileProgram {
  std::string file_name;
  std::string source;
  std::optional<ErrorKind> kind;  // nullopt: Done
  std::optional<std::string> name, message, thrown, result, console;
  bool console_dropped = false;
  std::string why;
  std::string header_problem;  // non-empty when the header cannot be understood
};

std::optional<ErrorKind> parse_kind(const std::string &text, bool &known) {
  known = true;
  if (text == "Done") return std::nullopt;
  for (int k = static_cast<int>(ErrorKind::JSException); k <= static_cast<int>(ErrorKind::Deadlock); k++) {
    if (to_string(static_cast<ErrorKind>(k)) == text) return static_cast<ErrorKind>(k);
  }
  known = false;
  return std::nullopt;
}

/// gtest prints a parameter by its file name.
void PrintTo(const HostileProgram &program, std::ostream *out) { *out << program.file_name; }

HostileProgram load_program(const fs::path &path) {
  HostileProgram p;
  p.file_name = path.filename().string();
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  p.source = buffer.str();

  std::map<std::string, std::string> header;
  std::istringstream lines(p.source);
  for (std::string line; std::getline(lines, line) && line.rfind("//", 0) == 0;) {
    std::string body = line.substr(2);
    size_t colon = body.find(':');
    if (colon == std::string::npos) continue;
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(' '));
      s.erase(s.find_last_not_of(" \r") + 1);
      return s;
    };
    header[trim(body.substr(0, colon))] = trim(body.substr(colon + 1));
  }
  auto optional_field = [&](const char *key) -> std::optional<std::string> {
    auto it = header.find(key);
    return it == header.end() ? std::nullopt : std::optional(it->second);
  };

  if (!header.count("expect")) p.header_problem = "the header has no `// expect:` line";
  bool known = true;
  p.kind = parse_kind(header["expect"], known);
  if (!known) p.header_problem = "unknown expected kind '" + header["expect"] + "'";
  if (header["why"].empty()) p.header_problem = "the header has no `// why:` line";
  p.why = header["why"];
  p.name = optional_field("name");
  p.message = optional_field("message");
  p.thrown = optional_field("thrown");
  p.result = optional_field("result");
  p.console = optional_field("console");
  p.console_dropped = header["console-dropped"] == "yes";
  return p;
}

std::vector<HostileProgram> load_corpus() {
  std::vector<fs::path> paths;
  if (fs::is_directory(kCorpusDir)) {
    for (const auto &entry : fs::directory_iterator(kCorpusDir)) {
      if (entry.path().extension() == ".js") paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<HostileProgram> corpus;
  for (const auto &path : paths) corpus.push_back(load_program(path));
  return corpus;
}

const std::vector<HostileProgram> &corpus() {
  static const std::vector<HostileProgram> programs = load_corpus();
  return programs;
}

SandboxOptions options_for(const HostileProgram &program) {
  SandboxOptions options;
  options.limits.cpu_time = program.kind == ErrorKind::Timeout ? kTimeoutBudget : kOtherBudget;
  return options;
}

/// The ways a message may state a limit: "64 MiB" as the host prints it, or the raw figure.
std::vector<std::string> renderings_of_limit(ErrorKind kind, const Limits &limits) {
  auto bytes = [](uint64_t n) {
    std::vector<std::string> forms{std::to_string(n) + " bytes", std::to_string(n)};
    if (n % (1u << 20) == 0) forms.push_back(std::to_string(n >> 20) + " MiB");
    if (n % (1u << 10) == 0) forms.push_back(std::to_string(n >> 10) + " KiB");
    return forms;
  };
  switch (kind) {
    case ErrorKind::Timeout: return {std::to_string(limits.cpu_time.count()) + " ms"};
    case ErrorKind::OutOfMemory: return bytes(limits.memory_bytes);
    case ErrorKind::StackOverflow: return bytes(limits.stack_bytes);
    case ErrorKind::OutputLimit: return bytes(limits.result_bytes);
    default: return {};
  }
}

/// Every way the run of `program` departs from its header, one sentence each (empty: all good).
class Verdict {
 public:
  explicit Verdict(const HostileProgram &program) : program_(program) {}

  void problem(const std::string &text) { problems_.push_back(program_.file_name + ": " + text); }
  bool empty() const { return problems_.empty(); }
  std::string text() const {
    std::string all;
    for (const auto &p : problems_) all += p + "\n";
    return all;
  }

 private:
  const HostileProgram &program_;
  std::vector<std::string> problems_;
};

void check_outcome(const HostileProgram &program, const SandboxOptions &options, const Result &r,
                   Verdict &verdict) {
  if (!program.kind) {
    if (!r.ok()) return verdict.problem("expected Done, got " + describe(r));
    if (program.result && inspect(r.value()) != *program.result)
      verdict.problem("expected the result " + *program.result + ", got " + inspect(r.value()));
  } else {
    if (r.ok() || r.error().kind != *program.kind)
      return verdict.problem("expected " + std::string(to_string(*program.kind)) + ", got " + describe(r));
    const Error &e = r.error();
    if (e.message.empty()) verdict.problem("the error message is empty");
    if (program.name && e.name != *program.name)
      verdict.problem("expected the error name '" + *program.name + "', got '" + e.name + "'");
    if (program.message && !contains(e.message, *program.message))
      verdict.problem("expected the message to contain '" + *program.message + "', got '" + e.message + "'");
    if (program.thrown && (!e.thrown || inspect(*e.thrown) != *program.thrown))
      verdict.problem("expected the thrown value " + *program.thrown + ", got " +
                      (e.thrown ? inspect(*e.thrown) : std::string("none")));
    auto forms = renderings_of_limit(e.kind, options.limits);
    if (!forms.empty() &&
        std::none_of(forms.begin(), forms.end(), [&](const std::string &f) { return contains(e.message, f); }))
      verdict.problem("the message '" + e.message + "' does not state the limit (" + forms.front() + ")");
  }
  if (program.console &&
      std::none_of(r.console.begin(), r.console.end(),
                   [&](const ConsoleLine &line) { return contains(line.text, *program.console); }))
    verdict.problem("no console line contains '" + *program.console + "' (" +
                    std::to_string(r.console.size()) + " lines captured)");
  if (program.console_dropped) {
    if (r.console_dropped_bytes == 0) verdict.problem("console output was expected to be capped, nothing was dropped");
    uint64_t kept = 0;
    for (const auto &line : r.console) kept += line.text.size();
    if (kept > options.limits.console_bytes)
      verdict.problem("kept " + std::to_string(kept) + " console bytes, more than the limit of " +
                      std::to_string(options.limits.console_bytes));
  }
}

// Proves a realm is pristine: the intrinsics a tampering program attacks are intact and nothing a
// previous program set is visible.
constexpr const char *kPristineRealmProbe = R"JS(
  typeof console === 'object' && typeof console.log === 'function' &&
  !Object.isFrozen(Object.prototype) && !Object.isFrozen(globalThis) &&
  Object.prototype.toString.call([]) === '[object Array]' &&
  !('injected' in {}) && typeof Object.prototype.then === 'undefined' &&
  [].push(1) === 1 && [1, 2].join('-') === '1-2' &&
  typeof Function.prototype.call === 'function' && Math.max.call(null, 1, 2) === 2 &&
  (2n ** 70n).toString(16) === '400000000000000000' &&
  !('tampered' in globalThis) && !('escaped' in globalThis)
)JS";

void check_sandbox_still_works(Sandbox &sandbox, const Result &r, Verdict &verdict) {
  bool discarded = !r.ok() && r.error().instance_discarded;
  if (discarded != sandbox.discarded())
    verdict.problem("Error::instance_discarded and Sandbox::discarded() disagree");
  if (discarded) {
    Result after = sandbox.eval("1 + 1");
    if (after.ok() || after.error().kind != ErrorKind::Internal)
      verdict.problem("a discarded sandbox must refuse work with Internal until reset(), got " + describe(after));
    Result reset = sandbox.reset();
    if (!reset.ok()) return verdict.problem("reset() after a discarded instance failed: " + describe(reset));
  }
  Result next = sandbox.eval("1 + 1");
  if (!next.ok() || next.value() != Value(2))
    verdict.problem("the same sandbox no longer evaluates 1 + 1: " + describe(next));
}

void check_fresh_sandbox_is_pristine(Verdict &verdict) {
  auto fresh = Sandbox::create(engine());
  if (!fresh) return verdict.problem("a fresh sandbox cannot be created: " + fresh.error().to_string());
  Result probe = fresh.value().eval(kPristineRealmProbe);
  if (!probe.ok() || probe.value() != Value(true))
    verdict.problem("a fresh sandbox is not pristine: " + describe(probe));
}

Verdict run_program(const HostileProgram &program) {
  Verdict verdict(program);
  if (!program.header_problem.empty()) {
    verdict.problem(program.header_problem);
    return verdict;
  }
  SandboxOptions options = options_for(program);
  auto created = Sandbox::create(engine(), options);
  if (!created) {
    verdict.problem("cannot create a sandbox: " + created.error().to_string());
    return verdict;
  }
  Sandbox sandbox = std::move(created.value());
  EvalOptions eval_options;
  eval_options.filename = program.file_name;
  Result r = sandbox.eval(program.source, eval_options);
  check_outcome(program, options, r, verdict);
  check_sandbox_still_works(sandbox, r, verdict);
  check_fresh_sandbox_is_pristine(verdict);
  return verdict;
}

// ---- The corpus itself --------------------------------------------------------------------------

TEST(HostileCorpus, HoldsAtLeast36ProgramsWithReadableHeaders) {
  EXPECT_GE(corpus().size(), 36u) << "corpus directory: " << kCorpusDir;
  for (const auto &program : corpus()) {
    EXPECT_EQ(program.header_problem, "") << program.file_name;
  }
}

// ---- One test per program -----------------------------------------------------------------------

class HostileProgramTest : public testing::TestWithParam<HostileProgram> {};

TEST_P(HostileProgramTest, EndsAsItsHeaderSaysAndLeavesSandboxesUsable) {
  const HostileProgram &program = GetParam();
  SCOPED_TRACE("why: " + program.why);
  Verdict verdict = run_program(program);
  EXPECT_TRUE(verdict.empty()) << verdict.text();
}

std::string test_name(const testing::TestParamInfo<HostileProgram> &info) {
  std::string name = fs::path(info.param.file_name).stem().string();
  for (char &c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Hostile, HostileProgramTest, testing::ValuesIn(corpus()), test_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(HostileProgramTest);

// ---- All of them at once ------------------------------------------------------------------------

TEST(HostileCorpus, RunsConcurrentlyOnTwoThreadsWithTheSameOutcomes) {
  ASSERT_FALSE(corpus().empty());
  std::atomic<size_t> next{0};
  std::vector<std::string> failures(2);
  auto worker = [&](size_t thread_index) {
    for (size_t i = next++; i < corpus().size(); i = next++) {
      Verdict verdict = run_program(corpus()[i]);
      if (!verdict.empty()) failures[thread_index] += verdict.text();
    }
  };
  std::thread first(worker, 0), second(worker, 1);
  first.join();
  second.join();
  EXPECT_EQ(failures[0] + failures[1], "");
}

}  // namespace
}  // namespace quickbox
