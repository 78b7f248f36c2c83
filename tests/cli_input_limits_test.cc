// Specifications of how the command line reads its program: endless or oversized input ends in a
// clear usage error at the source limit, never in an out-of-memory crash; and a process that may
// not reserve the engine's address space gets a clear error instead of an abort.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "support/sanitizers.hh"
#include "support/scratch_dir.hh"
#include "support/subprocess.hh"

namespace quickbox {
namespace {

using namespace test_support;

constexpr int kExitUsage = 2;

TEST(CliInputLimits, AnEndlessDeviceAsTheProgramIsAUsageErrorAtTheSourceLimit) {
  Outcome o = run_quickbox({"run", "/dev/zero"});
  EXPECT_EQ(o.exit_code, kExitUsage) << o;
  EXPECT_NE(o.err.find("'/dev/zero' is larger than the source limit of 16777216 bytes"), std::string::npos) << o;
}

TEST(CliInputLimits, AnEndlessStdinAsTheProgramIsAUsageErrorAtTheSourceLimit) {
  Outcome o = run_program("/bin/sh", {"-c", "exec \"$0\" run - < /dev/zero", kQuickboxBinary});
  EXPECT_EQ(o.exit_code, kExitUsage) << o;
  EXPECT_NE(o.err.find("the program on stdin is larger than the source limit"), std::string::npos) << o;
}

TEST(CliInputLimits, AnEndlessDeviceAsAManifestOrAKeyIsRefusedAtItsOwnSmallLimit) {
  // A manifest is a few KiB and a key a few bytes: reading a gigabyte first helped nobody.
  Outcome o = run_quickbox({"eval", "--caps", "/dev/zero", "1"});
  EXPECT_EQ(o.exit_code, kExitUsage) << o;
  EXPECT_NE(o.err.find("'/dev/zero' is larger than the limit for files quickbox reads of 1048576 bytes"),
            std::string::npos) << o;
  o = run_quickbox({"inspect", "--key-file", "/dev/zero", "/dev/null"});
  EXPECT_EQ(o.exit_code, kExitUsage) << o;
  EXPECT_NE(o.err.find("--key-file: '/dev/zero' is larger than the limit for files quickbox reads of 65536 bytes"),
            std::string::npos) << o;
}

class CliProgramFiles : public ScratchDirTest {
 protected:
  CliProgramFiles() : ScratchDirTest("quickbox-cli-input") {}
};

TEST_F(CliProgramFiles, AProgramFileOneByteOverTheSourceLimitIsRefusedAndOneAtTheLimitRuns) {
  constexpr size_t kSourceLimit = 16u << 20;
  std::string program = "console.log('ok')";
  std::string at_limit = program + std::string(kSourceLimit - program.size(), ' ');
  Outcome fits = run_quickbox({"run", write_file("fits.js", at_limit)});
  EXPECT_EQ(fits.exit_code, 0) << fits.err;
  EXPECT_EQ(fits.out, "ok\n");
  Outcome over = run_quickbox({"run", write_file("over.js", at_limit + " ")});
  EXPECT_EQ(over.exit_code, kExitUsage) << over.err;
  EXPECT_NE(over.err.find("over.js' is larger than the source limit of 16777216 bytes"), std::string::npos)
      << over.err;
}

TEST(CliInputLimits, AnAddressSpaceLimitTooSmallForTheEngineIsAClearErrorNotAnAbort) {
  if (test_support::kAddressSanitizer) GTEST_SKIP() << "an address-space limit stops AddressSanitizer itself";
  Outcome o = run_program("/bin/sh", {"-c", "ulimit -v 200000 && exec \"$0\" eval 1", kQuickboxBinary});
  EXPECT_LT(o.exit_code, 128) << "the process died of a signal\n" << o;
  EXPECT_NE(o.exit_code, 0) << o;
  EXPECT_NE(o.err.find("cannot create the engine"), std::string::npos) << o;
  EXPECT_NE(o.err.find("ulimit -v"), std::string::npos) << o;
}

}  // namespace
}  // namespace quickbox
