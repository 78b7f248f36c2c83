// Reading a snapshot costs what the reading side allows, whatever the snapshot claims. Every size
// a snapshot states (its body, its memory, its chunk count, its globals, its host state, the
// decompressor's window) is checked against a bound before memory is allocated for it, and the
// body is decompressed in bounded pieces, so a small file that expands to gigabytes is refused
// with a message naming the bound and a small, bounded peak of host memory.
//
// Each case builds a hostile but well-formed unsigned snapshot (valid zstd frame with its
// checksum, valid SHA-256 trailer: what anyone who can write the stored bytes can make), then
// reads it in a forked child process, which reports the error and how far its peak resident
// memory (getrusage maxrss) grew. No engine is ever created in this process, so the children
// start clean.
#define ZSTD_STATIC_LINKING_ONLY
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <cstring>
#include <iostream>
#include <functional>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sanitizers.hh"

namespace quickbox {
namespace {

using Bytes8 = std::vector<uint8_t>;

// What reading a hostile snapshot may add to the peak resident memory. The bombs below would
// each take at least 512 MiB to read if their sizes were believed.
constexpr long kPeakGrowthBoundKiB = 48 * 1024;
constexpr uint64_t kBombBodyBytes = 512ull << 20;  // RestoreOptions::max_snapshot_bytes

void put32(Bytes8 &out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

/// An unsigned snapshot whose body is `prefix` followed by zeros up to `body_bytes`, compressed
/// as one zstd frame (streamed: the test never holds the body either).
Bytes8 snapshot_with_body(const Bytes8 &prefix, uint64_t body_bytes, int window_log = 0) {
  Bytes8 out(64, 0);
  std::memcpy(out.data(), "QBSNAP\r\n", 8);
  uint32_t version = 2;
  std::memcpy(out.data() + 8, &version, 4);
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  if (window_log) ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, window_log);
  ZSTD_CCtx_setPledgedSrcSize(cctx, body_bytes);
  Bytes8 zeros(1 << 20, 0), frame(ZSTD_CStreamOutSize());
  uint64_t fed = 0;
  auto feed = [&](const uint8_t *data, size_t size, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data, size, 0};
    size_t remaining;
    do {
      ZSTD_outBuffer o{frame.data(), frame.size(), 0};
      remaining = ZSTD_compressStream2(cctx, &o, &in, mode);
      ASSERT_FALSE(ZSTD_isError(remaining)) << ZSTD_getErrorName(remaining);
      out.insert(out.end(), frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(o.pos));
    } while (in.pos < in.size || (mode == ZSTD_e_end && remaining != 0));
  };
  feed(prefix.data(), prefix.size(), ZSTD_e_continue);
  fed = prefix.size();
  while (fed < body_bytes) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), body_bytes - fed));
    feed(zeros.data(), n, ZSTD_e_continue);
    fed += n;
  }
  feed(nullptr, 0, ZSTD_e_end);
  ZSTD_freeCCtx(cctx);
  uint64_t compressed = out.size() - 64;
  std::memcpy(out.data() + 48, &body_bytes, 8);
  std::memcpy(out.data() + 56, &compressed, 8);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(out.data(), out.size(), digest);
  out.insert(out.end(), digest, digest + sizeof digest);
  return out;
}

/// The start of a body: memory size, chunk size, chunk count.
Bytes8 memory_header(uint32_t pages, uint32_t chunks) {
  Bytes8 out;
  put32(out, pages);
  put32(out, 4096);
  put32(out, chunks);
  return out;
}

struct Reading {
  std::string error;      ///< the refusal ("" when it was accepted)
  long peak_growth_kib;   ///< how far the peak resident memory grew while reading
};

/// Runs `read` in a forked child; it returns the error message ("" when the snapshot was
/// accepted). `prepare` runs in the child before the baseline is taken (e.g. creates an engine).
Reading in_child(const std::function<void()> &prepare, const std::function<std::string()> &attempt) {
  int pipe_fds[2];
  EXPECT_EQ(pipe(pipe_fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    prepare();
    rusage before{}, after{};
    getrusage(RUSAGE_SELF, &before);
    std::string error = attempt();
    getrusage(RUSAGE_SELF, &after);
    std::string report = std::to_string(after.ru_maxrss - before.ru_maxrss) + "\n" + error;
    ssize_t ignored = write(pipe_fds[1], report.data(), report.size());
    (void)ignored;
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the reading process died (status " << status << ")";
  size_t line = report.find('\n');
  if (line == std::string::npos) return {"(no report from the child)", -1};
  return {report.substr(line + 1), std::stol(report.substr(0, line))};
}

Reading inspected(const Bytes8 &snapshot) {
  return in_child([] {}, [&] {
    auto info = inspect_snapshot(snapshot);
    return info ? std::string() : info.error().message;
  });
}

Reading restored(const Bytes8 &snapshot, uint64_t memory_limit = 16 << 20) {
  std::optional<Engine> engine;
  return in_child(
      [&] {
        auto created = Engine::create(EngineOptions{.max_sandboxes = 2, .max_sandbox_memory_bytes = 64 << 20});
        if (!created) _exit(3);
        engine = created.value();
      },
      [&] {
        SandboxOptions options;
        options.limits.memory_bytes = memory_limit;
        auto sandbox = Sandbox::restore(*engine, snapshot, options);
        return sandbox ? std::string() : sandbox.error().message;
      });
}

void expect_refused_cheaply(const Reading &reading, const std::string &naming) {
  std::cout << "  peak grew " << reading.peak_growth_kib << " KiB: " << reading.error << '\n';
  EXPECT_NE(reading.error.find("snapshot refused"), std::string::npos) << reading.error;
  EXPECT_NE(reading.error.find(naming), std::string::npos) << "expected \"" << naming << "\" in: " << reading.error;
  EXPECT_GE(reading.peak_growth_kib, 0);
  if (!test_support::kAddressSanitizer)  // under ASan the figure measures its quarantine and redzones
    EXPECT_LT(reading.peak_growth_kib, kPeakGrowthBoundKiB) << reading.error;
}

// A few hundred KiB that expand to the largest body a snapshot may announce, of which only the
// first bytes mean anything: the rest is never held, only streamed until it is found wrong.
TEST(SnapshotBounds, ABodyThatExpandsToHundredsOfMebibytesIsRefusedWithoutHoldingIt) {
  Bytes8 prefix = memory_header(1, 0);
  put32(prefix, 0);  // no globals
  put32(prefix, 0);  // an empty host state: everything after it is surplus
  Bytes8 bomb = snapshot_with_body(prefix, kBombBodyBytes);
  EXPECT_LT(bomb.size(), 1u << 20) << "the bomb should be small";
  expect_refused_cheaply(inspected(bomb), "trailing bytes in the body");
  expect_refused_cheaply(restored(bomb), "trailing bytes in the body");
}

TEST(SnapshotBounds, MemoryLargerThanTheRestoringSandboxMayHoldIsRefusedBeforeReadingIt) {
  Bytes8 bomb = snapshot_with_body(memory_header(65536, 0), kBombBodyBytes);
  expect_refused_cheaply(restored(bomb, 16 << 20), "it holds 4 GiB of memory; a sandbox with a memory limit of 16 MiB");
}

TEST(SnapshotBounds, MemoryLargerThanWasm32IsRefused) {
  Bytes8 bomb = snapshot_with_body(memory_header(65537, 0), 1 << 20);
  expect_refused_cheaply(inspected(bomb), "invalid memory size");
}

TEST(SnapshotBounds, MoreChunksThanTheMemoryHasIsRefused) {
  Bytes8 bomb = snapshot_with_body(memory_header(16, 0xFFFFFFFF), kBombBodyBytes);
  expect_refused_cheaply(inspected(bomb), "stores 4294967295 memory chunks; its memory has 256");
  expect_refused_cheaply(restored(bomb), "stores 4294967295 memory chunks; its memory has 256");
}

TEST(SnapshotBounds, MoreChunksThanTheBodyCanHoldIsRefusedBeforeAllocatingThem) {
  // A million chunks fit a 4 GiB memory, but 4 GiB of chunks do not fit a 512 MiB body.
  Bytes8 bomb = snapshot_with_body(memory_header(65536, 1'000'000), kBombBodyBytes);
  expect_refused_cheaply(inspected(bomb), "truncated body (memory chunks)");
}

TEST(SnapshotBounds, InspectChecksChunksWithoutHoldingThem) {
  // 120,000 chunks (469 MiB) that fit the body: inspect streams them through and never keeps
  // them; their indexes are all zero, which is refused once they have been read.
  Bytes8 bomb = snapshot_with_body(memory_header(65536, 120'000), kBombBodyBytes);
  expect_refused_cheaply(inspected(bomb), "chunk index out of order");
}

TEST(SnapshotBounds, TooManyGlobalsAreRefused) {
  Bytes8 prefix = memory_header(1, 0);
  put32(prefix, 0xFFFFFFFF);
  expect_refused_cheaply(inspected(snapshot_with_body(prefix, kBombBodyBytes)), "it sets 4294967295 globals");
}

TEST(SnapshotBounds, AHostStateOverItsLimitIsRefusedBeforeAllocatingIt) {
  Bytes8 prefix = memory_header(1, 0);
  put32(prefix, 0);
  put32(prefix, 0xFFFFFFFF);
  Bytes8 bomb = snapshot_with_body(prefix, kBombBodyBytes);
  expect_refused_cheaply(inspected(bomb), "its host state is 4294967295 bytes, more than the limit of 64 MiB");
  expect_refused_cheaply(restored(bomb), "its host state is 4294967295 bytes, more than the limit of 64 MiB");
}

TEST(SnapshotBounds, AHostStateOfMillionsOfTinyValuesIsRefusedBeforeTheyAreBuilt) {
  // 8 Mi one-byte CBOR integers: 8 MiB encoded, about a GiB once decoded into values.
  constexpr uint32_t kValues = 8u << 20;
  Bytes8 host{0xa1, 0x6c};  // {"capabilities": [0, 0, ...]}
  for (char c : std::string("capabilities")) host.push_back(static_cast<uint8_t>(c));
  host.push_back(0x9a);
  for (int i = 3; i >= 0; i--) host.push_back(static_cast<uint8_t>(kValues >> (8 * i)));
  host.resize(host.size() + kValues, 0);
  Bytes8 body = memory_header(1, 0);
  put32(body, 0);
  put32(body, static_cast<uint32_t>(host.size()));
  body.insert(body.end(), host.begin(), host.end());
  Bytes8 bomb = snapshot_with_body(body, body.size());
  expect_refused_cheaply(inspected(bomb), "more than 262144 values");
}

TEST(SnapshotBounds, AFrameAskingForAHugeDecompressionWindowIsRefused) {
  Bytes8 bomb = snapshot_with_body(memory_header(1, 0), 256ull << 20, /*window_log=*/27);
  expect_refused_cheaply(inspected(bomb), "window, more than the limit of 8 MiB");
}

TEST(SnapshotBounds, ABodyShorterThanItsHeaderSaysIsRefused) {
  Bytes8 prefix = memory_header(1, 0);
  Bytes8 bomb = snapshot_with_body(prefix, prefix.size());
  expect_refused_cheaply(inspected(bomb), "truncated body (globals)");
}

}  // namespace
}  // namespace quickbox
