// Claims on state files: `resume` takes one before anything in the state can run, so a state is
// resumed by one process at a time and an approved call never runs twice by accident.
//
// The claim is a file beside the state, STATE.claim, holding the claimant's process id and start
// time. It is created complete and already locked (flock) under a private name, then hard-linked
// into place: link() fails when the name exists, so of two racing resumes exactly one gets it.
// The lock is held until the claim is released; it tells a claim whose process is still running
// from one left by a process that died (crashed, killed) mid-resume, possibly after its handlers
// ran. Such a claim stays until a person says otherwise (resume --reclaim): guessing could run a
// call twice.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>
#include <string>

#include "cli.hh"

namespace quickbox::cli {
namespace {

/// What a claim file says: "pid 1234 since 2026-12-01T05:00:00Z".
std::string claim_text() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char since[32];
  std::strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return "pid " + std::to_string(getpid()) + " since " + since + "\n";
}

bool write_all(int fd, const std::string &text) {
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = pwrite(fd, text.data() + written, text.size() - written, static_cast<off_t>(written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

/// The claim file's text without its line break, bounded: it is only ever a short line.
std::string read_claim_text(int fd) {
  char buffer[128];
  ssize_t n = pread(fd, buffer, sizeof buffer - 1, 0);
  std::string text(buffer, n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void sync_directory_of(const std::string &path) {
  std::string directory = std::filesystem::path(path).parent_path().string();
  int fd = open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

/// The same file is still at `path` (it was not released and replaced while we looked at it).
bool still_at(int fd, const std::string &path) {
  struct stat open_file, named;
  return fstat(fd, &open_file) == 0 && stat(path.c_str(), &named) == 0 && open_file.st_dev == named.st_dev &&
         open_file.st_ino == named.st_ino;
}

/// Beside the file the state really is: two spellings of one state (a relative path, a symbolic
/// link to it) share one claim.
std::string claim_path(const std::string &state_file) {
  std::error_code error;
  std::filesystem::path real = std::filesystem::weakly_canonical(state_file, error);
  return (error ? state_file : real.string()) + ".claim";
}

}  // namespace

StateClaim::StateClaim(StateClaim &&other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) {
  other.fd_ = -1;
}

StateClaim::~StateClaim() { release(); }

void StateClaim::release() {
  if (fd_ < 0) return;
  // Unlink first, then unlock (close): a resume that waits on the lock never sees a released
  // claim as one left behind by a dead process.
  unlink(path_.c_str());
  close(fd_);
  fd_ = -1;
}

std::optional<ClaimHolder> claim_holder(const std::string &state_file) {
  std::string path = claim_path(state_file);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  ClaimHolder holder{.description = read_claim_text(fd), .running = false};
  // A shared lock is granted only when no claimant holds its exclusive one, i.e. it has ended.
  holder.running = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  bool present = still_at(fd, path);
  close(fd);
  if (!present) return std::nullopt;  // released while we looked
  return holder;
}

std::variant<StateClaim, ClaimRefusal> claim_state(const std::string &state_file, bool reclaim) {
  std::string path = claim_path(state_file);
  std::string text = claim_text();
  auto failure = [&](const std::string &what) {
    return ClaimRefusal{.message = "cannot claim '" + state_file + "' for this resume: " + what + ": " +
                                   std::strerror(errno),
                        .held = false};
  };
  // A claim released between our link() and our look at it is simply gone: try again. Each retry
  // means another resume finished meanwhile, so with N racing resumes a few tries suffice; two
  // were not enough with four (seen in cli_resume_once_test). The bound only stops a livelock.
  constexpr int kAttempts = 64;
  for (int attempt = 0; attempt < kAttempts; attempt++) {
    std::string fresh = path + "." + std::to_string(getpid());
    unlink(fresh.c_str());  // left by a process that had our pid and died here: it is ours to drop
    int fd = open(fresh.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return failure("cannot create '" + fresh + "'");
    bool ready = flock(fd, LOCK_EX | LOCK_NB) == 0 && write_all(fd, text) && fsync(fd) == 0;
    int link_errno = 0;
    if (ready && link(fresh.c_str(), path.c_str()) != 0) link_errno = errno;
    unlink(fresh.c_str());
    // On disk before anything runs: a claim lost to a power cut would let the state run again.
    if (ready && link_errno == 0) sync_directory_of(path);
    if (!ready) {
      close(fd);
      return failure("cannot write '" + fresh + "'");
    }
    if (link_errno == 0) return StateClaim(path, fd);
    close(fd);
    errno = link_errno;
    if (link_errno != EEXIST) return failure("cannot create '" + path + "'");

    int existing = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (existing < 0) {
      if (errno == ENOENT) continue;
      return failure("cannot open '" + path + "'");
    }
    std::string holder = read_claim_text(existing);
    bool holder_running = flock(existing, LOCK_EX | LOCK_NB) != 0;
    if (!still_at(existing, path)) {  // released while we looked: try again
      close(existing);
      continue;
    }
    if (holder_running) {
      close(existing);
      return ClaimRefusal{.message = "'" + state_file + "' is being resumed by another process (" + holder +
                                     "); a state is resumed once at a time",
                          .held = true};
    }
    if (!reclaim) {
      close(existing);
      return ClaimRefusal{
          .message = "'" + state_file + "' was claimed by a resume that never finished (" + holder +
                     "): it crashed or was killed, possibly after the calls it approved had run. Check "
                     "whether they had their effect; then resume with --reclaim to take the state over, or "
                     "delete " + path + " to allow resuming it again",
          .held = true};
    }
    // --reclaim: we hold the dead claimant's lock now, so no other reclaim can take it as well.
    if (ftruncate(existing, 0) != 0 || !write_all(existing, text)) {
      close(existing);
      return failure("cannot rewrite '" + path + "'");
    }
    return StateClaim(path, existing);
  }
  errno = EAGAIN;
  return failure("its claim keeps changing");
}

}  // namespace quickbox::cli
