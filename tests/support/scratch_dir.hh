// A GoogleTest fixture that gives each test a fresh directory of its own (for the files a
// subprocess reads and writes), removed when the test ends.
#pragma once

#include <stdlib.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

namespace quickbox::test_support {

class ScratchDirTest : public ::testing::Test {
 protected:
  /// `prefix` starts the directory's name, so a left-over directory says which suite made it.
  explicit ScratchDirTest(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / (prefix_ + "-XXXXXX")).string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "cannot create " << pattern << ": " << std::strerror(errno);
    dir_ = pattern;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  /// Writes a file (and the directories it needs) in the test's directory; returns its path.
  std::string write_file(const std::string &name, std::string_view contents) {
    std::filesystem::path path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << contents;
    return path.string();
  }

  /// The path of `name` in the test's directory.
  std::string path(const std::string &name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;

 private:
  std::string prefix_;
};

}  // namespace quickbox::test_support
