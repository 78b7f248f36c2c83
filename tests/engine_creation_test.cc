// Specifications of Engine::create when the process cannot give the engine what it needs: it
// returns an Error saying why, and never aborts the process. Each case runs in a forked child (the
// limits it sets would starve the test process), which reports through its exit code.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "quickbox/quickbox.hh"
#include "support/sanitizers.hh"

namespace quickbox {
namespace {

constexpr int kRefusedClearly = 0, kCreated = 1, kRefusedVaguely = 2;

/// Runs Engine::create(options) in a child whose address space is capped at `address_space`
/// bytes; returns the child's exit code, or 128 + signal when it died.
int create_engine_under_limit(rlim_t address_space, const EngineOptions &options) {
  pid_t pid = fork();
  if (pid == 0) {
    rlimit limit{address_space, address_space};
    if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(99);
    Expected<Engine> engine = Engine::create(options);
    if (engine) _exit(kCreated);
    const std::string &message = engine.error().message;
    std::fprintf(stderr, "%s\n", message.c_str());
    bool clear = message.find("cannot create the engine") == 0 && message.find("ulimit -v") != std::string::npos &&
                 message.find(std::to_string(options.max_sandboxes) + " sandboxes") != std::string::npos;
    _exit(clear ? kRefusedClearly : kRefusedVaguely);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(EngineCreation, AnAddressSpaceTooSmallForThePoolIsAnErrorNamingTheLimitNotAnAbort) {
  if (test_support::kAddressSanitizer) GTEST_SKIP() << "an address-space limit stops AddressSanitizer itself";
  EXPECT_EQ(create_engine_under_limit(rlim_t{2000000} * 1024, EngineOptions{}), kRefusedClearly)
      << "ulimit -v 2000000 with the default pool (1000 to 10000 sandboxes of up to 4 GiB)";
}

TEST(EngineCreation, ASmallPoolStillFailsCleanlyWhenEvenOneSlotDoesNotFit) {
  if (test_support::kAddressSanitizer) GTEST_SKIP() << "an address-space limit stops AddressSanitizer itself";
  EngineOptions options;
  options.max_sandboxes = 2;
  options.max_sandbox_memory_bytes = 64ull << 20;
  EXPECT_EQ(create_engine_under_limit(rlim_t{512} << 20, options), kRefusedClearly);
}

}  // namespace
}  // namespace quickbox
