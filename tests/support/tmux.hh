// A real terminal for the specifications of interactive use: a tmux server of the test's own
// (its socket in the test's directory) runs one program in one window; keys are typed with
// `send-keys` and the screen is read with `capture-pane`, as a person would see it. tmux comes
// from scripts/install-deps.sh.
#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "subprocess.hh"

namespace quickbox::test_support {

/// tmux's path, found on PATH (run_program does not search it).
inline std::string tmux_path() {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = dir + "/tmux";
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

class TmuxTerminal {
 public:
  /// How long a test waits for text to appear before it fails: generous, for a loaded machine.
  static constexpr auto kPatience = std::chrono::seconds(30);

  /// Starts `program args...` in a 120x50 terminal with `environment` (NAME=VALUE) added.
  /// `directory` holds the server's socket and configuration.
  TmuxTerminal(const std::filesystem::path &directory, const std::string &program,
               const std::vector<std::string> &args, const std::vector<std::string> &environment)
      : tmux_(tmux_path()), socket_((directory / ("tmux-" + std::to_string(next_server_number()) + ".sock")).string()) {
    if (tmux_.empty()) {
      ADD_FAILURE() << "tmux is not installed (scripts/install-deps.sh installs it)";
      return;
    }
    // The window stays after the program ends, so its exit status can be read.
    std::string config = (directory / "tmux.conf").string();
    std::ofstream(config) << "set -g remain-on-exit on\nset -g history-limit 10000\nset -g status off\n";
    std::vector<std::string> command{"-S", socket_, "-f", config, "new-session", "-d", "-x", "120", "-y", "50"};
    for (const std::string &variable : environment) {
      command.push_back("-e");
      command.push_back(variable);
    }
    command.push_back("--");
    command.push_back(program);
    command.insert(command.end(), args.begin(), args.end());
    Outcome started = run_program(tmux_, command);
    started_ = started.exit_code == 0;
    EXPECT_TRUE(started_) << "tmux new-session: " << started;
  }

  ~TmuxTerminal() {
    if (started_) run_program(tmux_, {"-S", socket_, "kill-server"});
  }

  /// A socket of its own for every terminal: a test may start a second session in the same
  /// directory while the first one's server is still shutting down, and a new server on the old
  /// socket then dies ("server exited unexpectedly").
  static int next_server_number() {
    static std::atomic<int> count{0};
    return ++count;
  }

  TmuxTerminal(const TmuxTerminal &) = delete;
  TmuxTerminal &operator=(const TmuxTerminal &) = delete;

  /// Types text as it is (no key names).
  void type(std::string_view text) { tmux({"send-keys", "-l", std::string(text)}); }

  /// Presses keys by tmux's names: "Enter", "C-c", "Up", "Tab", "C-a"...
  void press(const std::vector<std::string> &keys) {
    std::vector<std::string> command{"send-keys"};
    command.insert(command.end(), keys.begin(), keys.end());
    tmux(command);
  }

  /// Everything the terminal shows, scrollback included, wrapped lines joined.
  std::string screen() { return tmux({"capture-pane", "-p", "-J", "-S", "-"}).out; }

  /// The last line of the screen that has text: the line being edited, usually.
  std::string last_line() {
    std::string shown = screen();
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == ' ')) shown.pop_back();
    size_t start = shown.rfind('\n');
    return start == std::string::npos ? shown : shown.substr(start + 1);
  }

  /// Waits until `text` is on the screen `times` times or more; fails the test (showing the
  /// screen) when it does not appear within kPatience.
  bool wait_for(std::string_view text, size_t times = 1) {
    auto deadline = std::chrono::steady_clock::now() + kPatience;
    std::string shown;
    while (std::chrono::steady_clock::now() < deadline) {
      shown = screen();
      if (count(shown, text) >= times) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "the terminal never showed \"" << text << "\" " << times << " time(s); it shows:\n" << shown;
    return false;
  }

  /// The program's exit status once it has ended (waiting for that), or nullopt when it runs on
  /// past kPatience.
  std::optional<int> exit_status() {
    auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string state = tmux({"display-message", "-p", "#{pane_dead} #{pane_dead_status}"}).out;
      if (state.starts_with("1 ")) return std::atoi(state.c_str() + 2);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }

  static size_t count(std::string_view text, std::string_view part) {
    size_t n = 0;
    for (size_t at = text.find(part); at != std::string_view::npos; at = text.find(part, at + part.size())) n++;
    return n;
  }

 private:
  Outcome tmux(std::vector<std::string> command) {
    command.insert(command.begin(), {"-S", socket_});
    Outcome outcome = run_program(tmux_, command);
    EXPECT_EQ(outcome.exit_code, 0) << "tmux " << command[2] << ": " << outcome;
    return outcome;
  }

  std::string tmux_;
  std::string socket_;
  bool started_ = false;
};

}  // namespace quickbox::test_support
