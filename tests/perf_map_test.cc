// EngineOptions::perf_map: the guest's compiled code is named in /tmp/perf-PID.map for `perf
// report`, and nothing is written without it. Each test runs in a process of its own (ctest), so
// the file of this process id is this test's.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "quickbox/quickbox.hh"

namespace quickbox {
namespace {

std::string perf_map_path() { return "/tmp/perf-" + std::to_string(getpid()) + ".map"; }

TEST(PerfMap, NamesTheGuestsCompiledCodeForPerf) {
  std::remove(perf_map_path().c_str());
  Engine engine =
      Engine::create({.max_sandboxes = 4, .warm_sandboxes = 0, .prefaulted_sandboxes = 0, .perf_map = true}).unwrap();
  EXPECT_EQ(Sandbox::create(engine).unwrap().eval("1+2").value(), Value(3));
  std::ifstream map(perf_map_path());
  ASSERT_TRUE(map) << perf_map_path() << " was not written";
  std::string text((std::istreambuf_iterator<char>(map)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("wasm[0]::function["), std::string::npos) << text.substr(0, 200);
  std::remove(perf_map_path().c_str());
}

TEST(PerfMap, NothingIsWrittenByDefault) {
  std::remove(perf_map_path().c_str());
  Engine engine = Engine::create({.max_sandboxes = 4, .warm_sandboxes = 0, .prefaulted_sandboxes = 0}).unwrap();
  EXPECT_EQ(Sandbox::create(engine).unwrap().eval("1+2").value(), Value(3));
  EXPECT_FALSE(std::filesystem::exists(perf_map_path()));
}

}  // namespace
}  // namespace quickbox
