// Specification of TypeScript on the command line: `run` reads .ts, .mts and .tsx files as
// TypeScript (JSX refused), and --typescript does the same for `eval`, `run` and the repl.
// Every test runs the real `quickbox` binary.
#include <string>

#include <gtest/gtest.h>

#include "support/scratch_dir.hh"
#include "support/subprocess.hh"

namespace {

using namespace quickbox::test_support;

class CliTypeScript : public ScratchDirTest {
 protected:
  CliTypeScript() : ScratchDirTest("quickbox-cli-ts") {}
};

TEST_F(CliTypeScript, RunsTsFiles) {
  std::string path = write_file("prog.ts",
                                "interface User { name: string }\n"
                                "enum Level { Low = 1, High }\n"
                                "const u: User = { name: 'ada' };\n"
                                "`${u.name}:${Level.High}`\n");
  Outcome r = run_quickbox({"run", path});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "ada:2\n");
}

TEST_F(CliTypeScript, StackTracesNameTheTypeScriptLineAndColumn) {
  std::string path = write_file("thrower.ts",
                                "type N = number;\n"
                                "function explode(n: N): never {\n"
                                "  throw new Error(`kaboom ${n}`);\n"
                                "}\n"
                                "explode(1 as N);\n");
  Outcome r = run_quickbox({"run", path});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(r.err.starts_with("Uncaught Error: kaboom 1\n")) << r.err;
  EXPECT_NE(r.err.find("thrower.ts:3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("thrower.ts:5:"), std::string::npos) << r.err;
}

TEST_F(CliTypeScript, SyntaxErrorsNameTheTypeScriptPosition) {
  std::string path = write_file("broken.ts", "let ok = 1;\nlet x: = 2;\n");
  Outcome r = run_quickbox({"run", path});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(r.err.starts_with("Uncaught SyntaxError: ")) << r.err;
  EXPECT_NE(r.err.find("broken.ts:2:8"), std::string::npos) << r.err;
}

TEST_F(CliTypeScript, MtsFilesRunAsModules) {
  std::string path = write_file("mod.mts", "export const v: number = 1;\nconsole.log(typeof v);\n");
  Outcome r = run_quickbox({"run", path});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "number\n");
}

TEST_F(CliTypeScript, TsxFilesRunWithoutJsxAndRefuseJsx) {
  std::string plain = write_file("plain.tsx", "const n: number = 2;\nn * 21\n");
  Outcome r = run_quickbox({"run", plain});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "42\n");
  std::string jsx = write_file("view.tsx", "const el = <b>hi</b>;\n");
  r = run_quickbox({"run", jsx});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("JSX is not supported"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("view.tsx:1:12"), std::string::npos) << r.err;
}

TEST_F(CliTypeScript, EvalTakesTypeScriptWithTheFlag) {
  Outcome r = run_quickbox({"eval", "--typescript", "const x: number = 20; x + (1 as number) * 22"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "42\n");
  // Without the flag, TypeScript is a JavaScript SyntaxError.
  r = run_quickbox({"eval", "const x: number = 1; x"});
  EXPECT_EQ(r.exit_code, 1) << r;
}

TEST_F(CliTypeScript, RunTakesTypeScriptFromStdinWithTheFlag) {
  Outcome r = run_quickbox({"run", "--typescript", "-"}, "const s: string = 'in';\ns\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "in\n");
}

TEST_F(CliTypeScript, TheReplTakesTypeScriptWithTheFlag) {
  Outcome r = run_quickbox({"repl", "--typescript"},
                           "interface P { x: number }\n"
                           "function make(x: number): P {\n  return { x };\n}\n"
                           "make(41).x + 1\n");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "undefined\nundefined\n42\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTypeScript, AnEntryFileImportsTypeScriptModules) {
  write_file("lib.ts", "export const double = (n: number): number => n * 2;\n");
  std::string main = write_file("main.ts", "import { double } from './lib.ts';\nconst n: number = double(21);\nconsole.log(n);\n");
  Outcome r = run_quickbox({"run", main});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "42\n");
}

TEST_F(CliTypeScript, TheTypeScriptExampleRuns) {
  // examples/typescript: modules (.ts and .mts), an interface, an enum, URL, TextEncoder, and
  // timers whose callbacks run in the order they fall due.
  Outcome r = run_quickbox({"run", QUICKBOX_SOURCE_DIR "/examples/typescript/main.ts"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "Urgent fix the build (example.com/ci/builds/42)\n"
            "Normal write the report (example.com/docs/report)\n"
            "Low    tidy the wiki (wiki.example.com/Home)\n"
            "tick 1\n"
            "tick 2\n"
            "timeout after 25 ms\n"
            "tick 3\n"
            "3 ticks, 44 bytes of titles\n");
}

}  // namespace
