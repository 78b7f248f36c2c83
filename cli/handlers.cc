// The built-in handlers a capability manifest can name: ask, echo, read_text and append.
//
// Errors a program may see are CapabilityErrors that speak of paths as the program wrote them:
// nothing here tells the sandbox where on the host its files live.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "cli.hh"

namespace quickbox::cli {

namespace fs = std::filesystem;

// ---- Files beneath a directory (read_text, and the module loader of cli/modules.cc) -----------------

FileDescriptor::~FileDescriptor() {
  if (fd >= 0) close(fd);
}

/// Checks the path the program asked for before any lookup, for messages in its own terms:
/// relative, and never going up with "..".
static void check_requested_path(const std::string &requested, const std::string &capability) {
  if (requested.empty() || requested.find('\0') != std::string::npos)
    throw CapabilityError(capability + " expects a file name, got " + to_json(Value(requested)), "TypeError");
  fs::path relative(requested);
  if (relative.is_absolute())
    throw CapabilityError(in_quotes(requested) + " is an absolute path; " + capability +
                          " reads only paths relative to its directory");
  for (const fs::path &part : relative)
    if (part == "..")
      throw CapabilityError(in_quotes(requested) + " goes up with '..'; " + capability +
                            " reads only files inside its directory");
}

[[noreturn]] static void throw_open_error(int error, const std::string &requested, const std::string &capability) {
  if (error == ENOENT || error == ENOTDIR)
    throw CapabilityError("no file " + in_quotes(requested) + " in the directory of " + capability);
  if (error == EXDEV)
    throw CapabilityError(in_quotes(requested) + " leads outside the directory of " + capability +
                          " (through a symbolic link)");
  throw CapabilityError("cannot open " + in_quotes(requested) + ": " + std::strerror(error));
}

/// Opens `requested` for reading, never outside `root`. The kernel resolves the path beneath the
/// root directory in one step (openat2 with RESOLVE_BENEATH), so a directory swapped for a
/// symbolic link while the path is looked up cannot lead out: checking a resolved path and then
/// opening it would leave that window open. Symbolic links that stay inside are followed.
/// O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; what was opened is
/// checked with fstat before a byte is read.
FileDescriptor open_inside(const fs::path &root, const std::string &requested, const std::string &capability) {
  check_requested_path(requested, capability);
  FileDescriptor dir{open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd < 0)
    throw CapabilityError("the directory of " + capability + " cannot be opened: " + std::strerror(errno));
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = syscall(SYS_openat2, dir.fd, requested.c_str(), &how, sizeof how);
    if (fd >= 0) return FileDescriptor{static_cast<int>(fd)};
    if (errno == EINTR || errno == EAGAIN) continue;
    if (errno == ENOSYS)  // Linux before 5.6: refuse rather than fall back to a racy check
      throw CapabilityError(capability + " needs Linux 5.6 or later (openat2) to read files safely");
    throw_open_error(errno, requested, capability);
  }
}

/// The file's bytes, at most `max_bytes`: a file that grows while it is read is refused at the
/// limit, never read to its end.
std::string read_bounded(int fd, uint64_t max_bytes, const std::string &requested, const std::string &capability) {
  std::string text;
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw CapabilityError("cannot read " + in_quotes(requested) + ": " + std::strerror(errno));
    if (n == 0) return text;
    if (text.size() + static_cast<size_t>(n) > max_bytes)
      throw CapabilityError(in_quotes(requested) + " grew past the " + std::to_string(max_bytes) +
                            "-byte result limit of " + capability + " while it was read");
    text.append(chunk, static_cast<size_t>(n));
  }
}

/// "not a regular file (a named pipe)": only regular files are read or appended to.
std::string not_regular(unsigned mode) {
  std::string kind = S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a named pipe" : S_ISCHR(mode) || S_ISBLK(mode)
      ? "a device" : S_ISSOCK(mode) ? "a socket" : S_ISLNK(mode) ? "a symbolic link" : "another kind of file";
  return "not a regular file (" + kind + ")";
}

namespace {


// ---- echo ------------------------------------------------------------------------------------------

AsyncHandler echo_handler(std::chrono::milliseconds delay) {
  return [delay](const CallInfo &, std::vector<Value> args, Completion done) {
    Value value = args.empty() ? Value() : std::move(args[0]);
    if (delay.count() == 0) return done.resolve(std::move(value));
    // A Completion may be settled from any thread and owns everything it touches, so a detached
    // thread is safe even if the process ends first; timeout_ms and wall_time_ms tests need it.
    std::thread([delay, value = std::move(value), done] {
      std::this_thread::sleep_for(delay);
      done.resolve(value);
    }).detach();
  };
}

// ---- read_text -------------------------------------------------------------------------------------

Value read_text(const fs::path &root, uint64_t max_bytes, const std::string &capability, std::span<const Value> args) {
  if (args.empty() || !args[0].is_string())
    throw CapabilityError(capability + " expects a file name (a string), got " +
                              (args.empty() ? std::string("nothing") : to_json(args[0])),
                          "TypeError");
  const std::string &requested = args[0].as_string();
  FileDescriptor file = open_inside(root, requested, capability);
  struct stat info;
  if (fstat(file.fd, &info) != 0) throw CapabilityError("cannot open " + in_quotes(requested) + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    throw CapabilityError(in_quotes(requested) + " is " + not_regular(info.st_mode) + "; " + capability +
                          " reads only regular files");
  if (static_cast<uint64_t>(info.st_size) > max_bytes)
    throw CapabilityError(in_quotes(requested) + " is " + std::to_string(info.st_size) + " bytes, more than the " +
                          std::to_string(max_bytes) + "-byte result limit of " + capability);
  Value text(read_bounded(file.fd, max_bytes, requested, capability));
  try {
    encode_cbor(text);  // the codec's own check: JS strings must come from valid UTF-8
  } catch (const std::invalid_argument &) {
    throw CapabilityError(in_quotes(requested) + " is not UTF-8 text");
  }
  return text;
}

AsyncHandler read_text_handler(fs::path root, uint64_t max_bytes) {
  return [root = std::move(root), max_bytes](const CallInfo &call, std::vector<Value> args, Completion done) {
    done.resolve(read_text(root, max_bytes, call.capability, args));
  };
}

// ---- append ----------------------------------------------------------------------------------------

/// Strings as they are, other values as JSON: one line either way.
std::string line_for(const std::string &capability, std::span<const Value> args) {
  if (args.empty()) throw CapabilityError(capability + " expects a line to append", "TypeError");
  std::string line = args[0].is_string() ? args[0].as_string() : to_json(args[0]);
  if (line.find_first_of("\r\n") != std::string::npos)
    throw CapabilityError(capability + " appends one line; its argument contains a line break");
  return line + "\n";
}

void append_line(const fs::path &file, const std::string &capability, std::span<const Value> args) {
  std::string line = line_for(capability, args);
  // Only a regular file is appended to. O_NOFOLLOW and O_NONBLOCK: a symbolic link put in its
  // place is refused, and a FIFO there cannot block the process waiting for a reader.
  FileDescriptor out{open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0644)};
  if (out.fd < 0 && errno == ELOOP)
    throw CapabilityError("the file of " + capability + " is not a regular file (a symbolic link); " + capability +
                          " appends only to a regular file");
  if (out.fd < 0 && errno == ENXIO)
    throw CapabilityError("the file of " + capability + " is not a regular file (a named pipe); " + capability +
                          " appends only to a regular file");
  if (out.fd < 0) throw CapabilityError("cannot open the file of " + capability + ": " + std::strerror(errno));
  struct stat info;
  if (fstat(out.fd, &info) != 0)
    throw CapabilityError("cannot open the file of " + capability + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    throw CapabilityError("the file of " + capability + " is " + not_regular(info.st_mode) + "; " + capability +
                          " appends only to a regular file");
  // One write per line: with O_APPEND, concurrent writers never interleave inside a line.
  ssize_t n = write(out.fd, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size()))
    throw CapabilityError("cannot append to the file of " + capability + ": " +
                          (n < 0 ? std::strerror(errno) : "short write"));
}

AsyncHandler append_handler(fs::path file) {
  return [file = std::move(file)](const CallInfo &call, std::vector<Value> args, Completion done) {
    append_line(file, call.capability, args);
    done.resolve(Value());
  };
}

}  // namespace

Capability make_capability(const CapabilitySpec &spec) {
  switch (spec.handler) {
    case Handler::Ask: return Capability::external(spec.name, spec.policy);
    case Handler::Echo: return Capability::async(spec.name, echo_handler(spec.delay), spec.policy);
    case Handler::ReadText:
      return Capability::async(spec.name, read_text_handler(spec.path, spec.policy.max_result_bytes), spec.policy);
    case Handler::Append: return Capability::async(spec.name, append_handler(spec.path), spec.policy);
  }
  throw std::logic_error("unknown handler");  // every Handler has a case above
}

}  // namespace quickbox::cli
