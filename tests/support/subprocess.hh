// Runs a program of this build (the `quickbox` command line, or a test's own peer executable) as a
// real subprocess and captures its exit code, stdout and stderr separately, so that a test checks
// each one; reads the JSON that quickbox prints. A run that hangs is killed and fails the test.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quickbox/value.hh"

namespace quickbox::test_support {

inline const std::string kQuickboxBinary = QUICKBOX_BINARY_DIR "/quickbox";
/// A run that takes longer than this is hung; it is killed and the test fails.
inline constexpr auto kRunDeadline = std::chrono::seconds(60);

/// How a subprocess ended and what it wrote.
struct Outcome {
  int exit_code = -1;  ///< the exit status, or 128 + signal number when the process was killed
  std::string out;
  std::string err;
};

inline std::ostream &operator<<(std::ostream &os, const Outcome &o) {
  return os << "exit code " << o.exit_code << "\n--- stdout ---\n" << o.out << "\n--- stderr ---\n" << o.err;
}

namespace subprocess_detail {

/// Where a child's standard streams go.
struct Wiring {
  int in, out, err;
};

[[noreturn]] inline void exec_program(const std::string &program, const std::vector<std::string> &args,
                                      Wiring wiring) {
  dup2(wiring.in, STDIN_FILENO);
  dup2(wiring.out, STDOUT_FILENO);
  dup2(wiring.err, STDERR_FILENO);
  std::vector<char *> argv{const_cast<char *>(program.c_str())};
  for (const std::string &arg : args) argv.push_back(const_cast<char *>(arg.c_str()));
  argv.push_back(nullptr);
  execv(program.c_str(), argv.data());
  _exit(127);
}

inline int wait_for_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Feeds `input` to fd `to_child` and collects everything written to the `from_child` fds until
/// they all reach end of file (EIO counts as end of file: that is how a pty master reports a
/// closed terminal). Kills the child `program` when it runs past kRunDeadline.
inline void pump(const std::string &program, pid_t pid, int to_child, std::string_view input,
                 std::vector<std::pair<int, std::string *>> from_child) {
  const auto deadline = std::chrono::steady_clock::now() + kRunDeadline;
  size_t written = 0;
  auto stop_feeding = [&to_child] {
    close(to_child);
    to_child = -1;
  };
  if (to_child >= 0 && input.empty()) stop_feeding();
  while (!from_child.empty()) {
    std::vector<pollfd> fds;
    for (auto [fd, sink] : from_child) fds.push_back({fd, POLLIN, 0});
    if (to_child >= 0) fds.push_back({to_child, POLLOUT, 0});
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || poll(fds.data(), fds.size(), static_cast<int>(left.count())) == 0) {
      kill(pid, SIGKILL);
      ADD_FAILURE() << std::filesystem::path(program).filename().string() << " ran longer than "
                    << kRunDeadline.count() << " s and was killed";
      break;
    }
    for (size_t i = 0; i < from_child.size(); i++) {
      if (!fds[i].revents) continue;
      char chunk[65536];
      ssize_t n = read(fds[i].fd, chunk, sizeof chunk);
      if (n > 0) {
        from_child[i].second->append(chunk, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(from_child[i].first);
        from_child[i].first = -1;
      }
    }
    std::erase_if(from_child, [](const auto &entry) { return entry.first < 0; });
    if (to_child >= 0 && fds.back().revents) {
      ssize_t n = write(to_child, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (written == input.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) stop_feeding();
    }
  }
  for (auto [fd, sink] : from_child) close(fd);
  if (to_child >= 0) stop_feeding();
}

}  // namespace subprocess_detail

/// Runs `program args...` with `input` on its stdin (pipes on all three streams). With
/// merge_stderr, stderr goes into the same pipe as stdout, so their relative order is kept.
inline Outcome run_program(const std::string &program, const std::vector<std::string> &args,
                           std::string_view input = {}, bool merge_stderr = false) {
  using namespace subprocess_detail;
  signal(SIGPIPE, SIG_IGN);  // a child that exits without reading its stdin must not kill us
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return {};
  }
  pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return {};
  }
  if (pid == 0) exec_program(program, args, {in[0], out[1], merge_stderr ? out[1] : err[1]});
  close(in[0]);
  close(out[1]);
  close(err[1]);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  Outcome outcome;
  pump(program, pid, in[1], input, {{out[0], &outcome.out}, {err[0], &outcome.err}});
  outcome.exit_code = wait_for_exit(pid);
  return outcome;
}

/// Runs `quickbox args...`; see run_program().
inline Outcome run_quickbox(const std::vector<std::string> &args, std::string_view input = {},
                            bool merge_stderr = false) {
  return run_program(kQuickboxBinary, args, input, merge_stderr);
}

/// Runs quickbox with a pseudo-terminal as stdin, stdout and stderr, typing `keystrokes`.
/// Everything the terminal showed (including the echo of the typed text) lands in `out`.
inline Outcome run_on_terminal(const std::vector<std::string> &args, std::string_view keystrokes) {
  using namespace subprocess_detail;
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) || unlockpt(master)) {
    ADD_FAILURE() << "cannot open a pseudo-terminal: " << std::strerror(errno);
    return {};
  }
  // Opened before the fork so the terminal is never without a user: a master whose terminal has
  // no open descriptor reports end of file.
  int tty = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty < 0) {
    ADD_FAILURE() << "cannot open the terminal: " << std::strerror(errno);
    return {};
  }
  pid_t pid = fork();
  if (pid == 0) exec_program(kQuickboxBinary, args, {tty, tty, tty});
  close(tty);
  int typing = dup(master);  // pump() closes it when done typing; reading goes on on `master`
  Outcome outcome;
  pump(kQuickboxBinary, pid, typing, keystrokes, {{master, &outcome.out}});
  outcome.exit_code = wait_for_exit(pid);
  return outcome;
}

/// The one JSON object quickbox printed on stdout, parsed.
inline Value parse_json_output(const Outcome &outcome) {
  EXPECT_EQ(std::count(outcome.out.begin(), outcome.out.end(), '\n'), 1) << "expected one line: " << outcome;
  Decoded parsed = parse_json(outcome.out);
  EXPECT_TRUE(parsed.ok) << parsed.error << "\n" << outcome;
  EXPECT_TRUE(parsed.value.is_object()) << outcome;
  return parsed.value;
}

/// The member `key` of a JSON object; fails the test (and gives undefined) when it is missing.
inline const Value &field(const Value &object, std::string_view key) {
  static const Value missing;
  const Value *found = object.find(key);
  EXPECT_NE(found, nullptr) << "no field \"" << key << "\" in " << to_json(object);
  return found ? *found : missing;
}

}  // namespace quickbox::test_support
