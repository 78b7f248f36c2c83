// What the `quickbox` command prints about data a program controls costs time linear in its size:
// BigInts beyond 1 KiB print exactly in hexadecimal (decimal conversion is quadratic), BigInts over
// the sandbox's BigInt limit end as OutputLimit, and huge error text is cut with a marker.
#include <string>

#include <gtest/gtest.h>

#include "quickbox/value.hh"
#include "support/scratch_dir.hh"
#include "support/subprocess.hh"
#include "support/text.hh"

namespace {

using quickbox::Value;
using namespace quickbox::test_support;

class CliOutputBoundsTest : public ScratchDirTest {
 protected:
  CliOutputBoundsTest() : ScratchDirTest("quickbox-cli-bounds") {}
};

TEST_F(CliOutputBoundsTest, ABigIntUpTo1KiBPrintsInDecimalAsNodeDoes) {
  Outcome r = run_quickbox({"eval", "10n ** 2400n + 7n"});  // 998 bytes of magnitude
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "1" + std::string(2399, '0') + "7n\n");
}

TEST_F(CliOutputBoundsTest, ALargerBigIntPrintsExactlyInHexadecimal) {
  Outcome r = run_quickbox({"eval", "--", "-(1n << 20000n)"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "-0x1" + std::string(5000, '0') + "n\n");

  r = run_quickbox({"--json", "eval", "1n << 20000n"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(field(parse_json_output(r), "value"), Value("0x1" + std::string(5000, '0')));
}

TEST_F(CliOutputBoundsTest, ABigIntOverTheLimitIsAnOutputLimitNamingIt) {
  Outcome r = run_quickbox({"--timeout", "200ms", "eval", "Array(10).fill(2n ** 1000000n - 1n)"});
  EXPECT_EQ(r.exit_code, 6) << r;
  EXPECT_TRUE(r.err.starts_with("OutputLimit: BigInt at $[0] has 125000 bytes")) << r;
}

TEST_F(CliOutputBoundsTest, HugeErrorTextIsCutWithAMarker) {
  Outcome r = run_quickbox({"eval", "throw new Error('x'.repeat(1e6))"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(r.err.starts_with("Uncaught Error: " + std::string(65500, 'x') +
                                "\xe2\x80\xa6 [truncated 934500 more characters]"))
      << r.err.substr(0, 200);
  EXPECT_LT(r.err.size(), 200000u);
}

// A result that could not be written is not a success: the command says so and exits 12.
TEST_F(CliOutputBoundsTest, AFullDiskOrAClosedPipeIsReportedNotIgnored) {
  Outcome r = run_program("/bin/sh", {"-c", "exec \"$0\" eval 1 > /dev/full", kQuickboxBinary});
  EXPECT_EQ(r.exit_code, 12) << r;
  EXPECT_TRUE(contains(r.err, "could not write to stdout")) << r;
  // A reader that stops early: quickbox is not killed by SIGPIPE half-way, it finishes and says so.
  r = run_program("/bin/bash", {"-c", "set -o pipefail; \"$0\" eval 'for (let i = 0; i < 100000; i++) "
                                      "console.log(i); 1' | head -c 1 > /dev/null",
                                kQuickboxBinary});
  EXPECT_EQ(r.exit_code, 12) << r;
  EXPECT_TRUE(contains(r.err, "could not write to stdout")) << r;
  EXPECT_EQ(run_quickbox({"eval", "1"}).exit_code, 0);
}

}  // namespace
