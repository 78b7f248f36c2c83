// The stack limit holds for recursion anywhere: in JavaScript, and inside QuickJS's own C code
// (the parser, JSON, Proxy forwarding, the regexp compiler, built-ins that call back). Wasm frames
// use the host thread's native stack as well as the guest's shadow stack, in a ratio that differs
// per function; the guest's stack check watches both, so every kind of recursion ends in the same
// catchable RangeError, at every documented stack size, without losing the instance.
#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "support/sandbox.hh"

namespace quickbox {
namespace {

namespace fs = std::filesystem;
using namespace test_support;

// The documented range of Limits::stack_bytes (docs/limits.md): its ends and the default.
const std::vector<uint32_t> kDocumentedStackSizes = {64u << 10, Limits{}.stack_bytes, 768u << 10};

SandboxOptions with_stack(uint32_t stack_bytes) {
  SandboxOptions options;
  options.limits.stack_bytes = stack_bytes;
  options.limits.cpu_time = std::chrono::seconds(30);  // a busy machine must not turn these into Timeouts
  return options;
}

std::string kib(uint32_t bytes) { return std::to_string(bytes >> 10) + " KiB"; }

// Recursion that happens in C, one level of C recursion per level of nesting.
const std::vector<std::string> kRecursionInC = {
    "JSON.parse('['.repeat(1e6))",
    "eval('x => '.repeat(1e5) + '1')",
    "eval('('.repeat(1e5) + '1' + ')'.repeat(1e5))",
    "new Function('return ' + '['.repeat(1e5) + ']'.repeat(1e5))",
    "let a = []; for (let i = 0; i < 2e5; i++) a = [a]; a.flat(Infinity)",
    "let o = {}; for (let i = 0; i < 2e5; i++) o = {o}; JSON.stringify(o)",
    "let p = {}; for (let i = 0; i < 2e5; i++) p = new Proxy(p, {}); p.x",
    "let f = function () {}; for (let i = 0; i < 2e5; i++) f = new Proxy(f, {}); f()",
    "new RegExp('(?:'.repeat(5e4) + 'a' + ')'.repeat(5e4))",
    "let o = 1; for (let i = 0; i < 1e5; i++) { const n = o; o = { valueOf() { return +n } } } +o",
};

TEST(StackInQuickJsCCode, RecursionInQuickJsCCodeEndsInACatchableRangeErrorAtEveryStackSize) {
  for (uint32_t stack : kDocumentedStackSizes) {
    Sandbox sandbox = make_sandbox(with_stack(stack));
    for (const std::string &recursion : kRecursionInC) {
      std::string program = "try { " + recursion + "; 'no error' } catch (e) { "
                            "e instanceof RangeError ? e.message : 'caught ' + String(e) }";
      Result r = sandbox.eval(program);
      ASSERT_TRUE(r.ok()) << "stack " << kib(stack) << ": " << recursion << "\n  -> " << describe(r);
      EXPECT_EQ(r.value(), Value("Maximum call stack size exceeded"))
          << "stack " << kib(stack) << ": " << recursion;
    }
    EXPECT_EQ(eval_ok(sandbox, "1 + 1"), Value(2));
  }
}

std::vector<fs::path> corpus_programs_recursing_in_c() {
  std::vector<fs::path> paths;
  for (const auto &entry : fs::directory_iterator(fs::path(QUICKBOX_SOURCE_DIR) / "tests/js/hostile")) {
    std::string name = entry.path().filename().string();
    if (name.rfind("stack-c-", 0) == 0 || name.rfind("recursion-", 0) == 0) paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::string read_file(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(StackInQuickJsCCode, UncaughtItIsStackOverflowAndTheInstanceIsKeptAtEveryStackSize) {
  auto programs = corpus_programs_recursing_in_c();
  ASSERT_GE(programs.size(), 30u) << "the hostile corpus's stack-c-* and recursion-* programs";
  for (const auto &path : programs) {
    std::string source = read_file(path);
    if (source.find("// expect: StackOverflow") == std::string::npos) continue;  // e.g. caught-and-retried
    for (uint32_t stack : kDocumentedStackSizes) {
      Sandbox sandbox = make_sandbox(with_stack(stack));
      Result r = sandbox.eval(source);
      std::string where = path.filename().string() + " at " + kib(stack);
      ASSERT_TRUE(r.failed()) << where << " -> " << describe(r);
      EXPECT_EQ(r.error().kind, ErrorKind::StackOverflow) << where << " -> " << describe(r);
      EXPECT_FALSE(r.error().instance_discarded) << where << " -> " << describe(r);
      EXPECT_TRUE(contains(r.error().message, kib(stack))) << where << " names the limit: " << r.error().message;
      EXPECT_EQ(eval_ok(sandbox, "[1, 2].map(x => x * 2).join()"), Value("2,4")) << where;
    }
  }
}

TEST(StackInQuickJsCCode, MoreStackNeverMeansShallowerRecursion) {
  // Plain JS recursion is bounded by stack_bytes up to about 480 KiB; beyond that the 2 MiB
  // native wasm stack bounds it first (docs/limits.md), so the depth grows and then levels off.
  const char *measure = "let depth = 0; function down() { depth++; down(); } try { down() } catch {} depth";
  double previous = 0;
  for (uint32_t stack : {64u << 10, 128u << 10, 256u << 10, Limits{}.stack_bytes, 768u << 10}) {
    Sandbox sandbox = make_sandbox(with_stack(stack));
    double depth = eval_ok(sandbox, measure).as_number();
    if (stack <= (256u << 10)) EXPECT_GT(depth, previous * 1.5) << "stack " << kib(stack);
    EXPECT_GE(depth, previous) << "stack " << kib(stack);
    EXPECT_GT(depth, 150) << "stack " << kib(stack);
    previous = depth;
  }
}

// Runs `work` on a new thread with a stack of `stack_bytes`.
template <typename F>
void run_on_thread_with_stack(size_t stack_bytes, F work) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, stack_bytes), 0);
  pthread_t thread;
  auto trampoline = [](void *arg) -> void * {
    (*static_cast<F *>(arg))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, trampoline, &work), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

TEST(NativeStack, AThreadWithTooLittleStackGetsAClearErrorNotACrash) {
  Sandbox made_elsewhere = make_sandbox();
  std::optional<Error> create_error;
  std::optional<Result> evaluated;
  run_on_thread_with_stack(1u << 20, [&] {
    auto created = Sandbox::create(engine());
    if (!created) create_error = created.error();
    evaluated.emplace(made_elsewhere.eval("1 + 1"));
  });
  ASSERT_TRUE(create_error.has_value()) << "creating a sandbox runs guest code too";
  ASSERT_TRUE(evaluated.has_value());
  ASSERT_TRUE(evaluated->failed()) << describe(*evaluated);
  EXPECT_EQ(evaluated->error().kind, ErrorKind::Internal) << describe(*evaluated);
  for (const std::string &message : {create_error->message, evaluated->error().message}) {
    EXPECT_TRUE(contains(message, "KiB of stack left")) << message;
    EXPECT_TRUE(contains(message, "docs/limits.md")) << message;
  }
}

TEST(NativeStack, AThreadWithAnOrdinaryStackRunsEveryRecursionToItsRangeError) {
  // 8 MiB is the usual default for the main thread and for new threads (Python's among them).
  std::vector<std::string> outcomes;
  run_on_thread_with_stack(8u << 20, [&] {
    Sandbox sandbox = make_sandbox(with_stack(768u << 10));
    for (const std::string &recursion : kRecursionInC) {
      Result r = sandbox.eval("try { " + recursion + "; 'no error' } catch (e) { e.message }");
      outcomes.push_back(r.ok() && r.value().is_string() ? r.value().as_string() : describe(r));
    }
  });
  ASSERT_EQ(outcomes.size(), kRecursionInC.size());
  for (size_t i = 0; i < outcomes.size(); i++)
    EXPECT_EQ(outcomes[i], "Maximum call stack size exceeded") << kRecursionInC[i];
}

}  // namespace
}  // namespace quickbox
