// Specifications of the engine's sandbox pool: how many sandboxes may be alive at once, and what
// happens to the memory of closed ones (EngineOptions::max_sandboxes, warm_sandboxes,
// prefaulted_sandboxes).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sanitizers.hh"

namespace quickbox {
namespace {

/// Under AddressSanitizer the host's freed memory sits in its quarantine, so private-memory
/// figures measure ASan as much as sandboxes: the tests below then check only what does not
/// depend on them.
constexpr bool kMemoryFiguresAreTheSandboxes = !test_support::kAddressSanitizer;

/// This process's private resident memory (RssAnon): what sandboxes' written pages cost.
double private_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("RssAnon:", 0) == 0) return std::stod(line.substr(8)) * 1024;
  ADD_FAILURE() << "RssAnon missing from /proc/self/status";
  return 0;
}

TEST(SandboxPool, TheDefaultCapIsSizedForTheMachineBetweenOneAndTenThousand) {
  uint32_t cap = EngineOptions{}.max_sandboxes;
  EXPECT_GE(cap, 1000u);
  EXPECT_LE(cap, 10000u);
  EXPECT_EQ(cap, default_max_sandboxes());
}

TEST(SandboxPool, TenThousandSandboxesCanBeAliveInOneEngine) {
  Engine engine = Engine::create({.max_sandboxes = 10000, .warm_sandboxes = 0}).unwrap();
  std::vector<Sandbox> sandboxes;
  sandboxes.reserve(10000);
  for (int i = 0; i < 10000; ++i) {
    auto sandbox = Sandbox::create(engine);
    ASSERT_TRUE(sandbox) << "sandbox " << i + 1 << ": " << sandbox.error().to_string();
    sandboxes.push_back(std::move(sandbox).value());
  }
  EXPECT_EQ(sandboxes.back().eval("1+2").value(), Value(3));
  auto one_more = Sandbox::create(engine);
  ASSERT_FALSE(one_more) << "the 10,001st sandbox fit in a pool of 10,000";
  EXPECT_NE(one_more.error().message.find("10000"), std::string::npos) << one_more.error().message;
}

TEST(SandboxPool, MemoryAboveTheWarmPoolGoesBackToTheSystemWhenSandboxesClose) {
  Engine engine = Engine::create({.max_sandboxes = 100, .warm_sandboxes = 5}).unwrap();
  double before = private_bytes();
  {
    std::vector<Sandbox> sandboxes;
    for (int i = 0; i < 40; ++i) {
      sandboxes.push_back(Sandbox::create(engine).unwrap());
      // 1 MiB of written memory each, so what stays behind stands out from the noise.
      ASSERT_TRUE(sandboxes.back().eval("globalThis.a = new Uint8Array(1 << 20).fill(7); a.length").ok());
    }
    EXPECT_GT(private_bytes() - before, 40.0 * (1 << 20)) << "the sandboxes did not write their memory";
  }
  // At most the 5 warm slots (about 1.6 MiB each) and allocator slack stay behind.
  if (kMemoryFiguresAreTheSandboxes) EXPECT_LT(private_bytes() - before, 12.0 * (1 << 20));
  // The warm and the returned slots both serve new sandboxes from a clean base image.
  for (int i = 0; i < 40; ++i) {
    Sandbox sandbox = Sandbox::create(engine).unwrap();
    EXPECT_EQ(sandbox.eval("typeof a").value(), Value("undefined")) << "sandbox " << i;
  }
}

// Every page of the base image a sandbox writes becomes its own (a copy-on-write fault, then
// private memory for as long as it lives), so what a small first evaluation writes sets both the
// cost of a sandbox's first operation on a fresh slot and how many sandboxes fit in memory.
TEST(SandboxPool, AFirstEvaluationMakesFewPagesPrivate) {
  constexpr int kSandboxes = 200;
  Engine engine = Engine::create({.max_sandboxes = kSandboxes, .warm_sandboxes = 0}).unwrap();
  std::vector<Sandbox> sandboxes;
  for (int i = 0; i < kSandboxes; ++i) sandboxes.push_back(Sandbox::create(engine).unwrap());
  double before = private_bytes();
  for (auto &sandbox : sandboxes) ASSERT_EQ(sandbox.eval("globalThis.n = 1 + 2").value(), Value(3));
  double per_sandbox = (private_bytes() - before) / kSandboxes;
  EXPECT_GT(per_sandbox, 4096.0) << "the evaluations wrote nothing";
  // About 15 pages measured, host memory for the evaluation included: a stack page, the static
  // data, the input and output buffers, a few shared objects' reference counts, and new blocks at
  // the top of the heap. Before the heap layout of cmake/PatchQuickJS.cmake (8) it was about 36.
  EXPECT_LE(per_sandbox, 20 * 4096.0) << per_sandbox / 4096 << " pages per sandbox";
}

// Engine::create pre-faults prefaulted_sandboxes slots: their sandboxes' first evaluations find
// the pages they write already private (no copy-on-write fault each), and no slot stays taken.
TEST(SandboxPool, PrefaultedSlotsStartWithTheirPagesInPlaceAndAllSlotsFree) {
  constexpr uint32_t kSlots = 20;
  // Private memory that `kSlots` first evaluations add, on an engine pre-faulting `prefaulted`.
  auto first_evaluations_add = [&](uint32_t prefaulted) {
    Engine engine =
        Engine::create({.max_sandboxes = 2 * kSlots, .warm_sandboxes = kSlots, .prefaulted_sandboxes = prefaulted})
            .unwrap();
    EXPECT_EQ(engine.options().prefaulted_sandboxes, prefaulted);
    std::vector<Sandbox> sandboxes;
    for (uint32_t i = 0; i < 2 * kSlots; ++i) sandboxes.push_back(Sandbox::create(engine).unwrap());
    double before = private_bytes();
    for (uint32_t i = 0; i < kSlots; ++i) EXPECT_EQ(sandboxes[i].eval("globalThis.n = 1 + 2").value(), Value(3));
    return (private_bytes() - before) / kSlots;
  };
  double never_used = first_evaluations_add(0), prefaulted = first_evaluations_add(kSlots);
  if (!kMemoryFiguresAreTheSandboxes) return;
  EXPECT_GT(never_used, 4 * 4096.0) << "a first evaluation on a slot never used copied few pages";
  EXPECT_LT(prefaulted, never_used / 3) << prefaulted / 4096 << " pages per sandbox on a prefaulted slot, "
                                        << never_used / 4096 << " on one never used";
}

// The memory kept is in the slots wasmtime hands out next (the most recently freed): after a
// burst larger than the warm pool, closed in the order it was made, new sandboxes start warm.
TEST(SandboxPool, AfterABurstTheNextSandboxesFindTheWarmPoolsPages) {
  constexpr uint32_t kWarm = 10;
  Engine engine = Engine::create({.max_sandboxes = 100, .warm_sandboxes = kWarm, .prefaulted_sandboxes = 0}).unwrap();
  {
    std::vector<Sandbox> burst;
    for (int i = 0; i < 50; ++i) {
      burst.push_back(Sandbox::create(engine).unwrap());
      ASSERT_EQ(burst.back().eval("globalThis.n = 1 + 2").value(), Value(3));
    }
  }
  std::vector<Sandbox> next;
  for (uint32_t i = 0; i < kWarm; ++i) next.push_back(Sandbox::create(engine).unwrap());
  double before = private_bytes();
  for (auto &sandbox : next) ASSERT_EQ(sandbox.eval("globalThis.n = 1 + 2").value(), Value(3));
  double per_sandbox = (private_bytes() - before) / kWarm;
  // About 15 pages on a cold slot (AFirstEvaluationMakesFewPagesPrivate).
  if (kMemoryFiguresAreTheSandboxes)
    EXPECT_LT(per_sandbox, 4 * 4096.0) << per_sandbox / 4096 << " pages per sandbox: it started on a cold slot";
}

TEST(SandboxPool, NoMoreSlotsArePrefaultedThanTheWarmPoolKeeps) {
  Engine engine = Engine::create({.max_sandboxes = 10, .warm_sandboxes = 3, .prefaulted_sandboxes = 8}).unwrap();
  EXPECT_EQ(engine.options().prefaulted_sandboxes, 3u);
}

TEST(SandboxPool, AWarmPoolLargerThanTheCapMeansEverySlot) {
  Engine engine = Engine::create({.max_sandboxes = 10, .warm_sandboxes = 100}).unwrap();
  EXPECT_EQ(engine.options().warm_sandboxes, 10u);
  EXPECT_EQ(Sandbox::create(engine).unwrap().eval("1+2").value(), Value(3));
}

}  // namespace
}  // namespace quickbox
