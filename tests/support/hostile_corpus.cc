// Reading corpus programs and judging one run of each against its header (see hostile_corpus.hh).
#include "hostile_corpus.hh"

#include <time.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "text.hh"

namespace quickbox::test_support {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Arguments up to the sandbox's own value limit, so floods are limited by the host's budgets and
// not by one capability's argument cap.
constexpr uint64_t kCorpusArgumentBytes = 16ull << 20;
constexpr auto kLongestSleep = 10000ms;

CapabilityPolicy corpus_policy() {
  CapabilityPolicy policy;
  policy.max_argument_bytes = kCorpusArgumentBytes;
  return policy;
}

Value first_argument(std::span<const Value> args) { return args.empty() ? Value() : args[0]; }

Capability make_capability(const std::string &name) {
  if (name == "echo")
    return Capability::async(
        name, [](const CallInfo &, std::vector<Value> args, Completion done) { done.resolve(first_argument(args)); },
        corpus_policy());
  if (name == "echoSync")
    return Capability::sync(
        name, [](const CallInfo &, std::span<const Value> args) { return first_argument(args); }, corpus_policy());
  if (name == "sleep")
    return Capability::sync(
        name,
        [](const CallInfo &, std::span<const Value> args) {
          double ms = !args.empty() && args[0].is_number() ? args[0].as_number() : 0;
          std::this_thread::sleep_for(std::chrono::milliseconds(
              static_cast<int64_t>(std::clamp<double>(ms, 0, static_cast<double>(kLongestSleep.count())))));
          return Value();
        },
        corpus_policy());
  // "hang" (load_program refuses any other name)
  return Capability::external(name, corpus_policy());
}

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(' '));
  s.erase(s.find_last_not_of(" \r") + 1);
  return s;
}

std::optional<ErrorKind> parse_kind(const std::string &text, bool &known) {
  known = true;
  if (text == "Done") return std::nullopt;
  for (int k = static_cast<int>(ErrorKind::JSException); k <= static_cast<int>(ErrorKind::Deadlock); k++) {
    if (to_string(static_cast<ErrorKind>(k)) == text) return static_cast<ErrorKind>(k);
  }
  known = false;
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_ms(const std::string &text, bool &valid) {
  valid = !text.empty() && text.size() <= 6 && std::all_of(text.begin(), text.end(), ::isdigit);
  if (!valid) return std::nullopt;
  return std::chrono::milliseconds(std::stoll(text));
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
    case ErrorKind::Timeout: {
      std::vector<std::string> forms{std::to_string(limits.cpu_time.count()) + " ms"};
      if (limits.wall_time) forms.push_back(std::to_string(limits.wall_time->count()) + " ms");
      return forms;
    }
    case ErrorKind::OutOfMemory: return bytes(limits.memory_bytes);
    case ErrorKind::StackOverflow: return bytes(limits.stack_bytes);
    case ErrorKind::OutputLimit: return bytes(limits.result_bytes);
    default: return {};
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
  typeof Promise.prototype.then === 'function' && typeof Symbol.iterator === 'symbol' &&
  typeof JSON.stringify === 'function' && String([1, [2]]) === '1,2' &&
  !('tampered' in globalThis) && !('escaped' in globalThis)
)JS";

std::chrono::microseconds thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::nanoseconds(ts.tv_nsec));
}

class Judge {
 public:
  Judge(const CorpusProgram &program, RunReport &report) : program_(program), report_(report) {}
  void problem(const std::string &text) { report_.problems.push_back(program_.file_name + ": " + text); }

  /// The value as util.inspect shows it, by the sandbox's own formatter.
  static std::string shown(Sandbox &sandbox, const Value &value) {
    Expected<std::string> text = sandbox.format(value);
    return text ? text.value() : "(format failed: " + text.error().to_string() + ")";
  }

  void check_outcome(Sandbox &sandbox, const SandboxOptions &options, const Result &r) {
    if (!program_.kind) {
      if (!r.ok()) return problem("expected Done, got " + summarize(r));
      if (program_.result && shown(sandbox, r.value()) != *program_.result)
        problem("expected the result " + *program_.result + ", got " + shown(sandbox, r.value()));
    } else {
      if (!r.failed() || r.error().kind != *program_.kind)
        return problem("expected " + std::string(to_string(*program_.kind)) + ", got " + summarize(r));
      const Error &e = r.error();
      if (e.message.empty()) problem("the error message is empty");
      if (program_.name && e.name != *program_.name)
        problem("expected the error name '" + *program_.name + "', got '" + e.name + "'");
      if (program_.message && !contains(e.message, *program_.message))
        problem("expected the message to contain '" + *program_.message + "', got '" + clip(e.message) + "'");
      if (program_.thrown && (!e.thrown || shown(sandbox, *e.thrown) != *program_.thrown))
        problem("expected the thrown value " + *program_.thrown + ", got " +
                (e.thrown ? shown(sandbox, *e.thrown) : std::string("none")));
      std::vector<std::string> forms =
          program_.limit ? std::vector<std::string>{*program_.limit} : renderings_of_limit(e.kind, options.limits);
      if (!forms.empty() &&
          std::none_of(forms.begin(), forms.end(), [&](const std::string &f) { return contains(e.message, f); }))
        problem("the message '" + clip(e.message) + "' does not state the limit (" + forms.front() + ")");
      if (program_.discarded && e.instance_discarded != *program_.discarded)
        problem(e.instance_discarded ? "the instance was discarded; the catchable limit should have tripped first"
                                     : "the instance was expected to be discarded");
    }
    if (program_.console &&
        std::none_of(r.console.begin(), r.console.end(),
                     [&](const ConsoleLine &line) { return contains(line.text, *program_.console); }))
      problem("no console line contains '" + *program_.console + "' (" + std::to_string(r.console.size()) +
              " lines captured)");
    if (program_.console_dropped) {
      if (r.console_dropped_bytes == 0) problem("console output was expected to be capped, nothing was dropped");
      uint64_t kept = 0;
      for (const auto &line : r.console) kept += line.text.size();
      if (kept > options.limits.console_bytes)
        problem("kept " + std::to_string(kept) + " console bytes, more than the limit of " +
                std::to_string(options.limits.console_bytes));
    }
  }

  void check_cpu_and_wall(const SandboxOptions &options) {
    auto allowed = cpu_allowance(options);
    if (report_.thread_cpu > allowed)
      problem("the evaluation used " + std::to_string(report_.thread_cpu.count() / 1000) +
              " ms of CPU, more than the " + std::to_string(allowed.count() / 1000) + " ms its budget allows");
    if (!options.limits.wall_time) return;
    // A running handler cannot be preempted, so the clock may overrun by one handler call; twice
    // the limit plus a second covers that for the corpus's handlers (sleep is bounded by the
    // program, and the corpus sleeps far less than its wall-time).
    auto wall_allowed = 2 * std::chrono::duration_cast<std::chrono::microseconds>(*options.limits.wall_time) + 1s;
    if (report_.wall > wall_allowed)
      problem("the evaluation took " + std::to_string(report_.wall.count() / 1000) + " ms of wall time, more than " +
              std::to_string(wall_allowed.count() / 1000) + " ms under a wall-time limit of " +
              std::to_string(options.limits.wall_time->count()) + " ms");
  }

  void check_sandbox_still_works(Sandbox &sandbox, const Result &r) {
    bool discarded = r.failed() && r.error().instance_discarded;
    if (discarded != sandbox.discarded()) problem("Error::instance_discarded and Sandbox::discarded() disagree");
    if (sandbox.suspended()) {
      // A program that ends waiting on `hang` is abandoned, as a host would.
      if (Status abandoned = sandbox.abandon(); !abandoned)
        problem("abandoning the suspended evaluation failed: " + abandoned.error().to_string());
    }
    if (discarded) {
      Result after = sandbox.eval("1 + 1");
      if (!after.failed() || after.error().kind != ErrorKind::Internal)
        problem("a discarded sandbox must refuse work with Internal until reset(), got " + summarize(after));
      Result reset = sandbox.reset();
      if (!reset.ok()) return problem("reset() after a discarded instance failed: " + summarize(reset));
    }
    Result next = sandbox.eval("1 + 1");
    if (!next.ok() || next.value() != Value(2))
      problem("the same sandbox no longer evaluates 1 + 1: " + summarize(next));
  }

  void check_fresh_sandbox_is_pristine(const Engine &engine) {
    auto fresh = Sandbox::create(engine);
    if (!fresh) return problem("a fresh sandbox cannot be created: " + fresh.error().to_string());
    Result probe = fresh.value().eval(kPristineRealmProbe);
    if (!probe.ok() || probe.value() != Value(true)) problem("a fresh sandbox is not pristine: " + summarize(probe));
  }

 private:
  // Huge messages are a corpus class of their own; a failure report quotes only their start.
  static std::string clip(const std::string &text) {
    return text.size() <= 300 ? text : text.substr(0, 300) + "... (" + std::to_string(text.size()) + " bytes)";
  }

  const CorpusProgram &program_;
  RunReport &report_;
};

}  // namespace

const std::vector<std::string> kCorpusCapabilities = {"echo", "echoSync", "sleep", "hang"};

std::string CorpusProgram::family() const { return file_name.substr(0, file_name.find_first_of("-.")); }

CorpusProgram parse_program(std::string file_name, std::string source) {
  CorpusProgram p;
  p.file_name = std::move(file_name);
  p.source = std::move(source);

  std::map<std::string, std::string> header;
  std::istringstream lines(p.source);
  for (std::string line; std::getline(lines, line) && line.rfind("//", 0) == 0;) {
    std::string body = line.substr(2);
    size_t colon = body.find(':');
    if (colon == std::string::npos) continue;
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
  p.limit = optional_field("limit");
  p.thrown = optional_field("thrown");
  p.result = optional_field("result");
  p.console = optional_field("console");
  p.console_dropped = header["console-dropped"] == "yes";
  if (header.count("discarded")) {
    if (header["discarded"] != "yes" && header["discarded"] != "no")
      p.header_problem = "`// discarded:` is yes or no";
    p.discarded = header["discarded"] == "yes";
  }
  std::istringstream caps(header["caps"]);
  for (std::string cap; caps >> cap;) {
    if (std::find(kCorpusCapabilities.begin(), kCorpusCapabilities.end(), cap) == kCorpusCapabilities.end())
      p.header_problem = "unknown capability '" + cap + "' in `// caps:`";
    p.caps.push_back(cap);
  }
  for (auto [key, field] : {std::pair{"cpu-time", &p.cpu_time}, std::pair{"wall-time", &p.wall_time}}) {
    if (!header.count(key)) continue;
    bool valid = false;
    *field = parse_ms(header[key], valid);
    if (!valid) p.header_problem = std::string("`// ") + key + ":` needs a whole number of milliseconds";
  }
  return p;
}

CorpusProgram load_program(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_program(path.filename().string(), buffer.str());
}

std::vector<CorpusProgram> load_programs(const fs::path &dir) {
  std::vector<fs::path> paths;
  if (fs::is_directory(dir)) {
    for (const auto &entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".js") paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<CorpusProgram> programs;
  for (const auto &path : paths) programs.push_back(load_program(path));
  return programs;
}

fs::path hostile_corpus_dir() { return fs::path(QUICKBOX_SOURCE_DIR) / "tests" / "js" / "hostile"; }
fs::path normal_programs_dir() { return fs::path(QUICKBOX_SOURCE_DIR) / "tests" / "js" / "normal"; }

SandboxOptions options_for(const CorpusProgram &program) {
  SandboxOptions options;
  options.limits.cpu_time = program.cpu_time.value_or(program.kind == ErrorKind::Timeout ? kTimeoutBudget : kOtherBudget);
  options.limits.wall_time = program.wall_time;
  return options;
}

std::chrono::microseconds cpu_allowance(const SandboxOptions &options) {
  // Twice the budget covers the hard deadline behind it (100 ms) and the host's linear work on
  // guest data (a 16 MiB result encoded and decoded); one more second absorbs scheduling noise.
  return 2 * std::chrono::duration_cast<std::chrono::microseconds>(options.limits.cpu_time) + 1s;
}

std::string summarize(const Result &r) {
  if (r.ok()) return "Done(" + to_json(r.value()).substr(0, 300) + ")";
  if (r.is_suspended()) return "Suspended(" + std::to_string(r.pending().size()) + " pending)";
  const Error &e = r.error();
  std::string message = e.message.size() <= 300 ? e.message : e.message.substr(0, 300) + "...";
  return "Error(" + std::string(to_string(e.kind)) + ", name '" + e.name + "', message '" + message + "'" +
         (e.instance_discarded ? ", instance discarded" : "") + ")";
}

std::string RunReport::text() const {
  std::string all;
  for (const auto &p : problems) all += p + "\n";
  return all;
}

RunReport run_program(const Engine &engine, const CorpusProgram &program) {
  RunReport report;
  Judge judge(program, report);
  if (!program.header_problem.empty()) {
    judge.problem(program.header_problem);
    return report;
  }
  SandboxOptions options = options_for(program);
  auto created = Sandbox::create(engine, options);
  if (!created) {
    judge.problem("cannot create a sandbox: " + created.error().to_string());
    return report;
  }
  Sandbox sandbox = std::move(created.value());
  for (const auto &name : program.caps) {
    if (Status registered = sandbox.register_capability(make_capability(name)); !registered)
      judge.problem("cannot register '" + name + "': " + registered.error().to_string());
  }
  EvalOptions eval_options;
  eval_options.filename = program.file_name;
  auto cpu_before = thread_cpu_now();
  auto wall_before = std::chrono::steady_clock::now();
  Result r = sandbox.eval(program.source, eval_options);
  report.thread_cpu = thread_cpu_now() - cpu_before;
  report.wall = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - wall_before);
  report.outcome = summarize(r);
  if (r.failed()) {
    report.kind = r.error().kind;
    report.instance_discarded = r.error().instance_discarded;
  }
  judge.check_outcome(sandbox, options, r);
  judge.check_cpu_and_wall(options);
  judge.check_sandbox_still_works(sandbox, r);
  judge.check_fresh_sandbox_is_pristine(engine);
  return report;
}

}  // namespace quickbox::test_support
