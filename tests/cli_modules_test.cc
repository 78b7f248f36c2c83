// Specification of ES modules on the command line: `quickbox run FILE` imports files beneath
// FILE's directory, code without a file (eval, run -, repl) beneath the directory --modules-dir
// grants, and nothing outside it however a specifier or a symbolic link tries.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "support/scratch_dir.hh"
#include "support/subprocess.hh"

namespace {

using namespace quickbox::test_support;
namespace fs = std::filesystem;

/// The test's directory holds app/ (the entry file's directory) and, beside it, a secret that no
/// import may reach.
class CliModules : public ScratchDirTest {
 protected:
  CliModules() : ScratchDirTest("quickbox-cli-modules") {}

  void SetUp() override {
    ScratchDirTest::SetUp();
    write_file("secret.mjs", "export const secret = 'outside';");
    write_file("app/lib/math.mjs", "export const add = (a, b) => a + b;\nexport { twice } from './twice.mjs';");
    write_file("app/lib/twice.mjs", "export const twice = (x) => x * 2;");
  }

  Outcome run_main(const std::string &source, const std::string &name = "app/main.mjs") {
    return run_quickbox({"run", write_file(name, source)});
  }
};

bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

TEST_F(CliModules, AnMjsEntryImportsFilesBesideIt) {
  Outcome r = run_main("import { add, twice } from './lib/math.mjs';\nconsole.log(add(2, twice(20)));");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "42\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliModules, AJsFileWithImportStatementsRunsAsAModule) {
  Outcome r = run_main("import { add } from './lib/math.mjs';\nconsole.log(add(1, 1));", "app/main.js");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "2\n");
}

TEST_F(CliModules, AScriptMayImportDynamicallyAndStillPrintsItsValue) {
  Outcome r = run_main("const { add } = await import('./lib/math.mjs');\nadd(40, 2)", "app/script.js");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "42\n");
}

TEST_F(CliModules, ImportsFromASubdirectoryResolveAgainstThatModule) {
  write_file("app/lib/uses_parent.mjs", "export { add } from '../lib/math.mjs';");
  Outcome r = run_main("import { add } from './lib/uses_parent.mjs';\nconsole.log(add(3, 4));");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "7\n");
}

TEST_F(CliModules, DotDotOutOfTheEntryDirectoryIsRefused) {
  Outcome r = run_main("import { secret } from '../secret.mjs';\nconsole.log(secret);");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_FALSE(contains(r.out, "outside")) << r;
  EXPECT_TRUE(contains(r.err, "'../secret.mjs' imported by '" + path("app/main.mjs") +
                                  "' leads outside the entry file's directory"))
      << r;
  // Climbing out from a module deeper down is refused the same way.
  write_file("app/lib/sneaky.mjs", "export { secret } from '../../secret.mjs';");
  Outcome deeper = run_main("import { secret } from './lib/sneaky.mjs';\nconsole.log(secret);");
  EXPECT_EQ(deeper.exit_code, 1) << deeper;
  EXPECT_TRUE(contains(deeper.err, "'../../secret.mjs' imported by '" + path("app/lib/sneaky.mjs") + "' leads outside")) << deeper;
}

TEST_F(CliModules, AbsoluteAndBareSpecifiersAreRefused) {
  Outcome absolute = run_main("import { secret } from '" + path("secret.mjs") + "';");
  EXPECT_EQ(absolute.exit_code, 1) << absolute;
  EXPECT_TRUE(contains(absolute.err, "is an absolute path")) << absolute;
  Outcome bare = run_main("import fs from 'fs';");
  EXPECT_EQ(bare.exit_code, 1) << bare;
  EXPECT_TRUE(contains(bare.err, "cannot import 'fs': only relative paths such as './lib.mjs' are loaded")) << bare;
}

TEST_F(CliModules, ASymbolicLinkLeadingOutIsRefusedAndOneStayingInsideIsFollowed) {
  ASSERT_EQ(symlink(path("secret.mjs").c_str(), path("app/link.mjs").c_str()), 0);
  ASSERT_EQ(symlink(dir_.c_str(), path("app/up").c_str()), 0);
  ASSERT_EQ(symlink("lib/twice.mjs", path("app/inside.mjs").c_str()), 0);
  Outcome file_link = run_main("import { secret } from './link.mjs';\nconsole.log(secret);");
  EXPECT_EQ(file_link.exit_code, 1) << file_link;
  EXPECT_FALSE(contains(file_link.out, "outside")) << file_link;
  EXPECT_TRUE(contains(file_link.err, "'link.mjs' leads outside the directory of the entry file (through a symbolic link)"))
      << file_link;
  Outcome dir_link = run_main("import { secret } from './up/secret.mjs';\nconsole.log(secret);");
  EXPECT_EQ(dir_link.exit_code, 1) << dir_link;
  EXPECT_TRUE(contains(dir_link.err, "through a symbolic link")) << dir_link;
  // A module is named by the path it was imported by, not its link's target.
  Outcome inside = run_main("import { twice } from './inside.mjs';\nconsole.log(twice(3));");
  EXPECT_EQ(inside.exit_code, 0) << inside;
  EXPECT_EQ(inside.out, "6\n");
}

TEST_F(CliModules, AMissingFileOrADirectoryIsNamed) {
  Outcome missing = run_main("import './nope.mjs';");
  EXPECT_EQ(missing.exit_code, 1) << missing;
  EXPECT_TRUE(contains(missing.err, "no file 'nope.mjs' in the directory of the entry file")) << missing;
  Outcome directory = run_main("import './lib';");
  EXPECT_EQ(directory.exit_code, 1) << directory;
  EXPECT_TRUE(contains(directory.err, "cannot import 'lib': it is not a regular file (a directory)")) << directory;
}

TEST_F(CliModules, CyclicImportsBetweenFilesWork) {
  write_file("app/ping.mjs", "import { pong } from './pong.mjs';\nexport const ping = (n) => n ? pong(n - 1) : 'ping';");
  write_file("app/pong.mjs", "import { ping } from './ping.mjs';\nexport const pong = (n) => n ? ping(n - 1) : 'pong';");
  Outcome r = run_main("import { ping } from './ping.mjs';\nconsole.log(ping(3), ping(4));");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "pong ping\n");
}

TEST_F(CliModules, TypeScriptModulesHaveTheirTypesStripped) {
  write_file("app/shapes.ts",
             "export interface Shape { area(): number }\n"
             "export enum Unit { Cm = 'cm' }\n"
             "export const square = (side: number): Shape => ({ area: () => side * side });\n");
  write_file("app/format.mts", "import type { Shape } from './shapes.ts';\n"
                               "export function show(s: Shape, unit: string): string { return `${s.area()} ${unit}2`; }\n");
  Outcome r = run_main("import { square, Unit } from './shapes.ts';\n"
                       "import { show } from './format.mts';\n"
                       "const s = square(3) as { area(): number };\n"
                       "console.log(show(s, Unit.Cm));\n",
                       "app/main.ts");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "9 cm2\n");
  // A plain .js module is not TypeScript: its annotation is a SyntaxError.
  write_file("app/typed.js", "export const n: number = 1;\n");
  Outcome js = run_main("import { n } from './typed.js';\n", "app/main.ts");
  EXPECT_EQ(js.exit_code, 1) << js;
  EXPECT_TRUE(contains(js.err, "SyntaxError")) << js;
}

TEST_F(CliModules, ASyntaxErrorInATypeScriptModuleNamesItsPosition) {
  write_file("app/broken.ts", "export const ok = 1;\nexport let x: = 2;\n");
  Outcome r = run_main("import { x } from './broken.ts';\n", "app/main.ts");
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(contains(r.err, "SyntaxError")) << r;
  EXPECT_TRUE(contains(r.err, path("app/broken.ts") + ":2:")) << r;
}

/// A program that waits on a person, then imports `specifier` and prints what it exports.
std::string import_after_pause(const std::string &specifier) {
  return "const n = await ask('how many?');\n"
         "const { add } = await import('" + specifier + "');\n"
         "console.log(add(n, 1));\n";
}

TEST_F(CliModules, AResumedProgramImportsFromTheModulesDirectoryRunPrinted) {
  std::string caps = write_file("caps.json", R"({"capabilities": {"ask": {"handler": "ask"}}})");
  std::string state = path("state.qbs");
  Outcome run = run_quickbox({"run", write_file("app/main.mjs", import_after_pause("./lib/math.mjs")), "--caps", caps,
                              "--suspend-to", state});
  ASSERT_EQ(run.exit_code, 10) << run;
  EXPECT_TRUE(contains(run.out, " --modules-dir " + path("app") + " ")) << run;
  // Another process resumes it: the module, never loaded before the pause, loads now.
  Outcome resumed = run_quickbox({"resume", state, "--caps", caps, "--modules-dir", path("app"), "--answer", "1=41"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed;
  EXPECT_EQ(resumed.out, "42\n");
  // Without --modules-dir the import fails, saying what to pass.
  Outcome bare = run_quickbox({"resume", state, "--caps", caps, "--answer", "1=41"});
  EXPECT_EQ(bare.exit_code, 1) << bare;
  EXPECT_TRUE(contains(bare.err, "cannot import './lib/math.mjs': this resume loads no modules; pass --modules-dir"))
      << bare;
  // A directory spelled otherwise than run spelled it is named as the problem, not searched.
  Outcome other = run_quickbox({"resume", state, "--caps", caps, "--modules-dir", path("app/lib"), "--answer", "1=41"});
  EXPECT_EQ(other.exit_code, 1) << other;
  EXPECT_TRUE(contains(other.err, "resume with the --modules-dir that run printed")) << other;
  Outcome missing = run_quickbox({"resume", state, "--caps", caps, "--modules-dir", path("nope"), "--answer", "1=41"});
  EXPECT_EQ(missing.exit_code, 2) << missing;
  EXPECT_TRUE(contains(missing.err, "--modules-dir: '" + path("nope") + "' is not a directory")) << missing;
}

TEST_F(CliModules, AResumeRunFromTheSameDirectoryTakesTheRelativeCommandRunPrinted) {
  write_file("caps.json", R"({"capabilities": {"ask": {"handler": "ask"}}})");
  write_file("app/main.mjs", import_after_pause("./lib/math.mjs"));
  std::string in_dir = "cd '" + dir_.string() + "' && '" + kQuickboxBinary + "' ";
  Outcome run = run_program("/bin/sh", {"-c", in_dir + "run app/main.mjs --caps caps.json --suspend-to s.qbs"});
  ASSERT_EQ(run.exit_code, 10) << run;
  EXPECT_TRUE(contains(run.out, "quickbox resume s.qbs --caps caps.json --modules-dir app --answer 1=JSON")) << run;
  Outcome resumed =
      run_program("/bin/sh", {"-c", in_dir + "resume s.qbs --caps caps.json --modules-dir app --answer 1=1"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed;
  EXPECT_EQ(resumed.out, "2\n");
}

TEST_F(CliModules, AResumedProgramStillCannotImportOutsideTheDirectory) {
  std::string caps = write_file("caps.json", R"({"capabilities": {"ask": {"handler": "ask"}}})");
  ASSERT_EQ(symlink(path("secret.mjs").c_str(), path("app/link.mjs").c_str()), 0);
  write_file("outside.mjs", "export const add = () => 'outside';");
  for (std::string specifier : {"../outside.mjs", "./link.mjs", "./lib/../../outside.mjs"}) {
    std::string state = path("state.qbs");
    Outcome run = run_quickbox(
        {"run", write_file("app/main.mjs", import_after_pause(specifier)), "--caps", caps, "--suspend-to", state});
    ASSERT_EQ(run.exit_code, 10) << run;
    Outcome resumed = run_quickbox({"resume", state, "--caps", caps, "--modules-dir", path("app"), "--answer", "1=1"});
    EXPECT_EQ(resumed.exit_code, 1) << specifier << resumed;
    EXPECT_FALSE(contains(resumed.out, "outside")) << resumed;
    EXPECT_TRUE(contains(resumed.err, "leads outside")) << specifier << resumed;
  }
}

TEST_F(CliModules, CodeWithoutAFileImportsNothingUnlessGivenAModulesDirectory) {
  for (const auto &[args, input] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"eval", "await import('./lib/math.mjs')"}, ""},
           {{"run", "-"}, "import { add } from './lib/math.mjs';\nconsole.log(add(1, 2));"}}) {
    Outcome r = run_quickbox(args, input);
    EXPECT_EQ(r.exit_code, 1) << r;
    EXPECT_TRUE(contains(r.err, "cannot import './lib/math.mjs': code from eval, stdin or the REPL has no directory "
                                "to import from; pass --modules-dir DIR"))
        << r;
  }
}

TEST_F(CliModules, EvalAndStdinImportFromTheModulesDirectory) {
  Outcome evaluated = run_quickbox({"eval", "(await import('./lib/math.mjs')).twice(21)", "--modules-dir", path("app")});
  EXPECT_EQ(evaluated.exit_code, 0) << evaluated;
  EXPECT_EQ(evaluated.out, "42\n");
  Outcome piped = run_quickbox({"run", "-", "--modules-dir", path("app")},
                               "import { add } from './lib/math.mjs';\nconsole.log(add(40, 2));");
  EXPECT_EQ(piped.exit_code, 0) << piped;
  EXPECT_EQ(piped.out, "42\n");
  Outcome repl = run_quickbox({"repl", "--modules-dir", path("app")}, "(await import('./lib/math.mjs')).add(40, 2)\n");
  EXPECT_EQ(repl.exit_code, 0) << repl;
  EXPECT_TRUE(contains(repl.out, "42")) << repl;
}

TEST_F(CliModules, TheModulesDirectoryOfEvalIsAsClosedAsAnEntryFilesDirectory) {
  fs::create_directory_symlink(path("."), path("app/up"));
  for (const std::string specifier : {"../secret.mjs", "./lib/../../secret.mjs", "./up/secret.mjs", "secret.mjs"}) {
    Outcome r = run_quickbox({"eval", "(await import('" + specifier + "')).secret", "--modules-dir", path("app")});
    EXPECT_EQ(r.exit_code, 1) << specifier << r;
    EXPECT_FALSE(contains(r.out, "outside")) << specifier << r;
    EXPECT_TRUE(contains(r.err, "--modules-dir")) << specifier << r;
  }
}

TEST_F(CliModules, AModulesDirectoryMustBeADirectoryAndIsNotForRunFile) {
  Outcome missing = run_quickbox({"eval", "1", "--modules-dir", path("nowhere")});
  EXPECT_EQ(missing.exit_code, 2) << missing;
  EXPECT_TRUE(contains(missing.err, "is not a directory")) << missing;
  Outcome with_file = run_quickbox({"run", write_file("app/main.mjs", "1"), "--modules-dir", path("app")});
  EXPECT_EQ(with_file.exit_code, 2) << with_file;
  EXPECT_TRUE(contains(with_file.err, "run FILE imports from FILE's directory")) << with_file;
}

}  // namespace
