// Whole-VM snapshots: capture, fail-closed parsing, restore, fork and inspect.
//
// Layout (little-endian):
//   header  [0,8) magic "QBSNAP\r\n"  [8,12) format version  [12,16) flags (bit 0: signed)
//           [16,48) guest build id (raw SHA-256)  [48,56) body size  [56,64) compressed size
//   body    zstd frame of: u32 memory pages, u32 chunk size, u32 chunk count,
//           u32 chunk index x count (strictly increasing), chunk bytes x count (memory XOR base
//           image, so unchanged bytes compress to nothing), u32 global count, (u32 export index,
//           u64 value) x count, u32 host-state size, host state (CBOR, see host_state_to_value)
//   trailer SHA-256 over header and body; HMAC-SHA256 under the embedder's key when signed
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_set>

#include "sandbox_impl.hh"

namespace quickbox {

using internal::format_bytes;
using internal::HostCall;

namespace {

constexpr char kMagic[8] = {'Q', 'B', 'S', 'N', 'A', 'P', '\r', '\n'};
constexpr uint32_t kFormatVersion = 2;  // 2: zstd content checksum and SHA-256 trailer
constexpr uint32_t kFlagSigned = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kMacSize = 32;
constexpr uint32_t kChunkSize = 4096;

// Bounds on what a snapshot's body may make the reader allocate, fixed before anything is read.
constexpr uint32_t kMaxMemoryPages = 65536;  // wasm32: 4 GiB
constexpr uint32_t kMaxGlobals = 64;
// The host state is CBOR, and a decoded value takes tens of bytes of host memory for each byte
// of encoding; both its size and its number of values (pending-call arguments included) are
// bounded, so a small state cannot expand into gigabytes of host memory.
constexpr uint64_t kMaxHostStateBytes = 64ull << 20;
constexpr uint64_t kMaxHostStateValues = 1ull << 18;
// The decompressor's window: the compressor's (level 3) is at most 2 MiB; a frame asking for a
// larger one is refused instead of being given the memory.
constexpr int kMaxWindowLog = 23;

Error refused(const std::string &why) {
  return Error{.kind = ErrorKind::InvalidInput, .message = "snapshot refused: " + why};
}

void put32(std::vector<uint8_t> &out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(std::vector<uint8_t> &out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get32(const uint8_t *p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::array<uint8_t, 32> hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  return out;
}

bool hex_to_raw(std::string_view hex, uint8_t *out, size_t n) {
  if (hex.size() != 2 * n) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < n; i++) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

// ---- Host state ---------------------------------------------------------------------------------

struct SavedCapability {
  std::string name;
  uint32_t id = 0;
  bool js_async = false;
  uint32_t calls_this_eval = 0;
};

struct SavedCall {
  uint32_t id = 0;
  uint32_t capability_id = 0;
  std::vector<uint8_t> args_cbor;
  std::vector<Value> args;
  HostCall::State state = HostCall::State::Queued;
};

struct HostStateSnapshot {
  std::vector<SavedCapability> capabilities;
  std::vector<SavedCall> calls;
  uint32_t next_call_id = 1;
  bool evaluating = false;
  uint32_t host_calls_this_eval = 0;
  int64_t cpu_budget_ms = 0;
  int64_t cpu_used_ns = 0;
  uint64_t clock_reads = 0;
  uint64_t monotonic_ns = 0;
};

Value host_state_to_value(const Sandbox::Impl &s) {
  Value::Array capabilities, calls;
  for (const auto &c : s.capabilities)
    capabilities.push_back(Value::Array{Value(c.name), Value(static_cast<double>(c.id)), Value(c.js_async),
                                        Value(static_cast<double>(c.calls_this_eval))});
  for (const auto &c : s.calls)
    calls.push_back(Value::Array{Value(static_cast<double>(c.id)), Value(static_cast<double>(c.capability_id)),
                                 Value(Bytes{c.args_cbor}), Value(static_cast<double>(c.state))});
  return Value::Object{
      {"capabilities", Value(std::move(capabilities))},
      {"calls", Value(std::move(calls))},
      {"next_call_id", Value(static_cast<double>(s.next_call_id))},
      {"evaluating", Value(s.evaluating.load())},
      {"host_calls_this_eval", Value(static_cast<double>(s.host_calls_this_eval))},
      {"cpu_budget_ms", Value(static_cast<double>(s.eval_cpu_budget.count()))},
      {"cpu_used_ns", Value(static_cast<double>(s.eval_cpu_used.count()))},
      {"clock_reads", Value(static_cast<double>(s.host.clock_reads))},
      // The guest's monotonic clock: a restore continues it, so pending timers (whose due times
      // are on it) wait for what was left of their delays, and performance.now() never goes back.
      {"monotonic_ns", Value(static_cast<double>(internal::guest_monotonic_ns(s.host)))},
  };
}

// Reads a non-negative integer field; false when missing or of the wrong type.
bool get_uint(const Value &obj, const char *key, uint64_t max, uint64_t &out) {
  const Value *v = obj.find(key);
  if (!v || !v->is_number()) return false;
  double d = v->as_number();
  if (!(d >= 0) || d > static_cast<double>(max) || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  out = static_cast<uint64_t>(d);
  return true;
}

bool as_uint(const Value &v, uint64_t max, uint64_t &out) {
  if (!v.is_number()) return false;
  double d = v.as_number();
  if (!(d >= 0) || d > static_cast<double>(max) || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  out = static_cast<uint64_t>(d);
  return true;
}

/// How many values decoding `value` produced (what DecodeLimits::max_items counts).
uint64_t count_values(const Value &value) {
  uint64_t count = 1;
  if (value.is_array())
    for (const Value &item : value.as_array()) count += count_values(item);
  if (value.is_object())
    for (const auto &[key, item] : value.as_object()) count += 1 + count_values(item);
  return count;
}

/// `values_left`: how many more decoded values the snapshot may hold (call arguments included).
Expected<HostStateSnapshot> host_state_from_value(const Value &v, uint64_t values_left) {
  auto bad = [](const std::string &what) { return refused("malformed host state (" + what + ")"); };
  if (!v.is_object()) return bad("not a map");
  HostStateSnapshot h;
  uint64_t n = 0;
  if (!get_uint(v, "next_call_id", UINT32_MAX, n)) return bad("next_call_id");
  h.next_call_id = static_cast<uint32_t>(n);
  if (!get_uint(v, "host_calls_this_eval", UINT32_MAX, n)) return bad("host_calls_this_eval");
  h.host_calls_this_eval = static_cast<uint32_t>(n);
  if (!get_uint(v, "cpu_budget_ms", uint64_t{1} << 40, n)) return bad("cpu_budget_ms");
  h.cpu_budget_ms = static_cast<int64_t>(n);
  if (!get_uint(v, "cpu_used_ns", uint64_t{1} << 52, n)) return bad("cpu_used_ns");
  h.cpu_used_ns = static_cast<int64_t>(n);
  if (!get_uint(v, "clock_reads", uint64_t{1} << 52, n)) return bad("clock_reads");
  h.clock_reads = n;
  if (!get_uint(v, "monotonic_ns", uint64_t{1} << 62, n)) return bad("monotonic_ns");
  h.monotonic_ns = n;
  const Value *evaluating = v.find("evaluating");
  if (!evaluating || !evaluating->is_bool()) return bad("evaluating");
  h.evaluating = evaluating->as_bool();
  const Value *caps = v.find("capabilities");
  if (!caps || !caps->is_array()) return bad("capabilities");
  std::unordered_set<uint32_t> capability_ids, call_ids;
  std::unordered_set<std::string> capability_names;
  for (const auto &c : caps->as_array()) {
    if (!c.is_array() || c.as_array().size() != 4 || !c.as_array()[0].is_string() || !c.as_array()[2].is_bool())
      return bad("capability entry");
    SavedCapability saved;
    saved.name = c.as_array()[0].as_string();
    uint64_t id, count;
    if (!as_uint(c.as_array()[1], UINT32_MAX, id) || !as_uint(c.as_array()[3], UINT32_MAX, count))
      return bad("capability entry");
    saved.id = static_cast<uint32_t>(id);
    saved.js_async = c.as_array()[2].as_bool();
    saved.calls_this_eval = static_cast<uint32_t>(count);
    if (!capability_ids.insert(saved.id).second || !capability_names.insert(saved.name).second)
      return bad("duplicate capability");
    h.capabilities.push_back(std::move(saved));
  }
  const Value *calls = v.find("calls");
  if (!calls || !calls->is_array()) return bad("calls");
  for (const auto &c : calls->as_array()) {
    if (!c.is_array() || c.as_array().size() != 4 || !c.as_array()[2].is_bytes()) return bad("call entry");
    SavedCall saved;
    uint64_t id, cap, state;
    if (!as_uint(c.as_array()[0], UINT32_MAX, id) || !as_uint(c.as_array()[1], UINT32_MAX, cap) ||
        !as_uint(c.as_array()[3], static_cast<uint64_t>(HostCall::State::AwaitingExternal), state))
      return bad("call entry");
    saved.id = static_cast<uint32_t>(id);
    saved.capability_id = static_cast<uint32_t>(cap);
    saved.state = static_cast<HostCall::State>(state);
    saved.args_cbor = c.as_array()[2].as_bytes().data;
    Decoded args = decode_cbor(saved.args_cbor, DecodeLimits{.max_items = values_left});
    if (!args.ok) return bad("call arguments: " + args.error);
    if (!args.value.is_array()) return bad("call arguments are not an array");
    values_left -= count_values(args.value);
    if (!call_ids.insert(saved.id).second) return bad("duplicate call id " + std::to_string(saved.id));
    saved.args = args.value.as_array();
    if (!capability_ids.contains(saved.capability_id) || saved.id >= h.next_call_id)
      return bad("call refers to an unknown capability or id");
    h.calls.push_back(std::move(saved));
  }
  return h;
}

Expected<HostStateSnapshot> host_state_from_cbor(std::span<const uint8_t> bytes) {
  DecodeLimits limits{.max_bytes = kMaxHostStateBytes, .max_items = kMaxHostStateValues};
  Decoded host = decode_cbor(bytes, limits);
  if (!host.ok) return refused("malformed host state: " + host.error);
  return host_state_from_value(host.value, kMaxHostStateValues - count_values(host.value));
}

// ---- Parsing ----------------------------------------------------------------------------------------

struct ParsedSnapshot {
  uint32_t version = 0;
  bool is_signed = false;
  std::array<uint8_t, 32> build_id{};
  uint64_t total_bytes = 0;
  uint64_t body_bytes = 0;
  uint32_t memory_pages = 0;
  std::vector<uint32_t> chunk_indexes;
  std::vector<uint8_t> chunk_bytes;  // chunk_indexes.size() * kChunkSize; empty when not kept
  std::vector<std::pair<uint32_t, uint64_t>> globals;
  HostStateSnapshot host;
};

/// The most memory the reading side accepts in a snapshot, and how to say so.
struct MemoryCeiling {
  uint64_t bytes = uint64_t{kMaxMemoryPages} * 65536;
  /// "a sandbox with a memory limit of 64 MiB can hold at most 81 MiB"
  std::string explanation = "a wasm32 sandbox holds at most 4 GiB";
};

/// What parse() keeps: restore needs the memory chunks, inspect only checks them.
enum class Keep { Memory, Description };

/// The body's zstd frame, decompressed a piece at a time into buffers the caller sized from
/// bounds it checked. The frame's own content size is never trusted: output beyond the size the
/// (authenticated) header announced is refused as it appears, so a small frame that expands to
/// gigabytes costs at most the announced size in time and nothing in memory.
class BodyStream {
 public:
  BodyStream(std::span<const uint8_t> frame, uint64_t announced)
      : in_{frame.data(), frame.size(), 0}, announced_(announced) {
    ZSTD_DCtx_reset(dctx().get(), ZSTD_reset_session_and_parameters);
    ZSTD_DCtx_setParameter(dctx().get(), ZSTD_d_windowLogMax, kMaxWindowLog);
  }

  /// Bytes of the announced body not read yet.
  uint64_t remaining() const { return announced_ - produced_; }

  /// Fills `out` with the next bytes of the body.
  std::optional<Error> read(std::span<uint8_t> out, const std::string &section) {
    if (out.size() > remaining()) return refused("truncated body (" + section + ")");
    ZSTD_outBuffer buffer{out.data(), out.size(), 0};
    while (buffer.pos < buffer.size) {
      if (frame_ended_) return refused("bad compression: the frame ends before its announced size");
      size_t before_in = in_.pos, before_out = buffer.pos;
      size_t status = ZSTD_decompressStream(dctx().get(), &buffer, &in_);
      if (ZSTD_isError(status)) return refused(std::string("bad compression: ") + ZSTD_getErrorName(status));
      if (status == 0) frame_ended_ = true;
      if (!frame_ended_ && in_.pos == before_in && buffer.pos == before_out)
        return refused("bad compression: the frame is truncated");
    }
    produced_ += out.size();
    return std::nullopt;
  }

  /// Reads and drops `count` bytes, a bounded piece at a time.
  std::optional<Error> skip(uint64_t count, const std::string &section) {
    std::array<uint8_t, 1 << 16> scratch;
    while (count > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(count, scratch.size()));
      if (auto error = read({scratch.data(), n}, section)) return error;
      count -= n;
    }
    return std::nullopt;
  }

  /// The body ended exactly at its announced size, the frame ended there, and its content
  /// checksum (verified by zstd as the frame ends) matched.
  std::optional<Error> finish() {
    if (remaining() != 0) return refused("trailing bytes in the body");
    uint8_t extra = 0;
    while (!frame_ended_) {
      ZSTD_outBuffer buffer{&extra, 1, 0};
      size_t before_in = in_.pos;
      size_t status = ZSTD_decompressStream(dctx().get(), &buffer, &in_);
      if (ZSTD_isError(status)) return refused(std::string("bad compression: ") + ZSTD_getErrorName(status));
      if (buffer.pos != 0) return refused("bad compression: the frame holds more than the announced body");
      if (status == 0) frame_ended_ = true;
      if (!frame_ended_ && in_.pos == before_in) return refused("bad compression: the frame is truncated");
    }
    if (in_.pos != in_.size) return refused("bad compression: bytes after the zstd frame");
    return std::nullopt;
  }

 private:
  // One context per thread: creating one per snapshot costs about as much as a small restore.
  static std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx *)> &dctx() {
    thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx *)> context(ZSTD_createDCtx(), ZSTD_freeDCtx);
    return context;
  }

  ZSTD_inBuffer in_;
  uint64_t announced_;
  uint64_t produced_ = 0;
  bool frame_ended_ = false;
};

/// Checks the header and the trailer: sizes, version, flags, and the MAC or checksum over all of
/// it, before any byte of the body is interpreted.
std::optional<Error> parse_header(std::span<const uint8_t> bytes, const RestoreOptions &options, ParsedSnapshot &p,
                                  std::span<const uint8_t> &frame) {
  p.total_bytes = bytes.size();
  if (bytes.size() > options.max_snapshot_bytes)
    return refused("it is " + format_bytes(bytes.size()) + ", more than the limit of " +
                   format_bytes(options.max_snapshot_bytes));
  if (bytes.size() < kHeaderSize) return refused("truncated header (" + std::to_string(bytes.size()) + " bytes)");
  if (std::memcmp(bytes.data(), kMagic, 8) != 0) return refused("wrong magic: this is not a quickbox snapshot");
  p.version = get32(bytes.data() + 8);
  if (p.version != kFormatVersion)
    return refused("unknown format version " + std::to_string(p.version) + " (this build reads version " +
                   std::to_string(kFormatVersion) + ")");
  uint32_t flags = get32(bytes.data() + 12);
  if (flags & ~kFlagSigned) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%x", flags);
    return refused(std::string("unknown flags ") + text);
  }
  p.is_signed = flags & kFlagSigned;
  std::memcpy(p.build_id.data(), bytes.data() + 16, 32);
  p.body_bytes = get64(bytes.data() + 48);
  uint64_t compressed = get64(bytes.data() + 56);
  if (compressed > bytes.size() || bytes.size() < kHeaderSize + compressed + kMacSize)
    return refused("truncated body (the header announces " + std::to_string(compressed) +
                   " compressed bytes, the snapshot is " + std::to_string(bytes.size()) + " bytes)");
  uint64_t expected_total = kHeaderSize + compressed + kMacSize;
  if (bytes.size() > expected_total)
    return refused("trailing bytes after the body (" + std::to_string(bytes.size() - expected_total) + ")");
  // Authenticity before anything else is interpreted.
  if (p.is_signed && options.hmac_key.empty()) {
    Error error = refused("it is signed; pass the key it was signed with (" + std::string(to_string(Setting::HmacKey)) + ")");
    error.setting = Setting::HmacKey;
    return error;
  }
  if (!p.is_signed && !options.hmac_key.empty())
    return refused("it is not signed, but a key was given: an unsigned snapshot is not trusted");
  const uint8_t *trailer = bytes.data() + kHeaderSize + compressed;
  if (p.is_signed) {
    auto mac = hmac_sha256(options.hmac_key, bytes.first(kHeaderSize + compressed));
    if (CRYPTO_memcmp(mac.data(), trailer, kMacSize) != 0)
      return refused("bad MAC: it was altered, or signed with another key");
  } else if (auto digest = internal::sha256(bytes.first(kHeaderSize + compressed));
             !std::equal(digest.begin(), digest.end(), trailer)) {
    return refused("bad checksum: the snapshot is corrupt (its SHA-256 does not match)");
  }
  // A signed snapshot is the embedder's own, but its sizes are bounded all the same: a key can leak.
  if (p.body_bytes > options.max_snapshot_bytes)
    return refused("its body is " + format_bytes(p.body_bytes) + " uncompressed, more than the limit of " +
                   format_bytes(options.max_snapshot_bytes));
  frame = bytes.subspan(kHeaderSize, compressed);
  unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN || content != p.body_bytes)
    return refused("bad compression: the body is not one zstd frame of the announced size");
  ZSTD_frameHeader frame_header;
  if (ZSTD_getFrameHeader(&frame_header, frame.data(), frame.size()) != 0 || !frame_header.checksumFlag)
    return refused("bad compression: the zstd frame carries no content checksum");
  if (frame_header.windowSize > (uint64_t{1} << kMaxWindowLog))
    return refused("bad compression: the zstd frame asks for a " + format_bytes(frame_header.windowSize) +
                   " window, more than the limit of " + format_bytes(uint64_t{1} << kMaxWindowLog));
  return std::nullopt;
}

uint32_t read32(const std::array<uint8_t, 12> &bytes, size_t at) { return get32(bytes.data() + at); }

Expected<ParsedSnapshot> parse(std::span<const uint8_t> bytes, const RestoreOptions &options,
                               const MemoryCeiling &ceiling, Keep keep) {
  ParsedSnapshot p;
  std::span<const uint8_t> frame;
  if (auto error = parse_header(bytes, options, p, frame)) return *error;
  BodyStream body(frame, p.body_bytes);
  auto read = [&](void *out, size_t n, const std::string &section) {
    return body.read({static_cast<uint8_t *>(out), n}, section);
  };

  // Every count below is checked against its bound and against the bytes left in the announced
  // body before the memory it sizes is allocated.
  std::array<uint8_t, 12> memory_header;
  if (auto error = read(memory_header.data(), 12, "memory header")) return *error;
  p.memory_pages = read32(memory_header, 0);
  uint32_t chunk_size = read32(memory_header, 4);
  uint32_t count = read32(memory_header, 8);
  if (p.memory_pages == 0 || p.memory_pages > kMaxMemoryPages) return refused("invalid memory size");
  uint64_t memory_bytes = uint64_t{p.memory_pages} * 65536;
  if (memory_bytes > ceiling.bytes)
    return refused("it holds " + format_bytes(memory_bytes) + " of memory; " + ceiling.explanation);
  if (chunk_size != kChunkSize) return refused("unsupported chunk size " + std::to_string(chunk_size));
  uint64_t max_chunks = memory_bytes / kChunkSize;
  if (count > max_chunks)
    return refused("it stores " + std::to_string(count) + " memory chunks; its memory has " +
                   std::to_string(max_chunks));
  if (uint64_t{count} * (4 + kChunkSize) > body.remaining()) return refused("truncated body (memory chunks)");
  p.chunk_indexes.resize(count);
  if (auto error = read(p.chunk_indexes.data(), uint64_t{count} * 4, "chunk indexes")) return *error;
  for (uint32_t i = 0; i < count; i++) {  // stored little-endian, as this host reads them
    if (p.chunk_indexes[i] >= max_chunks || (i && p.chunk_indexes[i] <= p.chunk_indexes[i - 1]))
      return refused("chunk index out of order or outside memory");
  }
  if (keep == Keep::Memory) {
    p.chunk_bytes.resize(uint64_t{count} * kChunkSize);
    if (auto error = read(p.chunk_bytes.data(), p.chunk_bytes.size(), "memory chunks")) return *error;
  } else if (auto error = body.skip(uint64_t{count} * kChunkSize, "memory chunks")) {
    return *error;
  }

  uint8_t globals_count[4];
  if (auto error = read(globals_count, 4, "globals")) return *error;
  uint32_t globals = get32(globals_count);
  if (globals > kMaxGlobals) return refused("it sets " + std::to_string(globals) + " globals");
  for (uint32_t i = 0; i < globals; i++) {
    uint8_t global[12];
    if (auto error = read(global, 12, "globals")) return *error;
    p.globals.emplace_back(get32(global), get64(global + 4));
  }

  uint8_t host_size_bytes[4];
  if (auto error = read(host_size_bytes, 4, "host state")) return *error;
  uint32_t host_size = get32(host_size_bytes);
  if (host_size > kMaxHostStateBytes)
    return refused("its host state is " + format_bytes(host_size) + ", more than the limit of " +
                   format_bytes(kMaxHostStateBytes));
  if (host_size > body.remaining()) return refused("truncated body (host state)");
  std::vector<uint8_t> host_bytes(host_size);
  if (auto error = read(host_bytes.data(), host_size, "host state")) return *error;
  if (auto error = body.finish()) return *error;
  auto state = host_state_from_cbor(host_bytes);
  if (!state) return state.error();
  p.host = std::move(state.value());
  return p;
}

// The name of a saved capability ("" for an id the host state does not know).
std::string name_of(const HostStateSnapshot &h, uint32_t capability_id) {
  for (const auto &k : h.capabilities)
    if (k.id == capability_id) return k.name;
  return "";
}

std::vector<PendingCall> pending_of(const HostStateSnapshot &h) {
  std::vector<PendingCall> out;
  for (const auto &c : h.calls) {
    if (c.state != HostCall::State::AwaitingApproval && c.state != HostCall::State::AwaitingExternal) continue;
    out.push_back(PendingCall{.call_id = c.id,
                              .capability = name_of(h, c.capability_id),
                              .args = c.args,
                              .needs_approval = c.state == HostCall::State::AwaitingApproval});
  }
  return out;
}

}  // namespace

// ---- Capture ---------------------------------------------------------------------------------------

Expected<std::vector<uint8_t>> Sandbox::snapshot(const SnapshotOptions &options) {
  Impl &s = *impl_;
  // Exclusive: inside a host function the guest is mid-operation, a state no snapshot can resume.
  OperationGuard guard(s, "snapshot()", internal::Access::Exclusive);
  if (guard.refused()) return *guard.refused();
  if (s.discarded) return s.discarded_result().error();
  if (std::any_of(s.calls.begin(), s.calls.end(), [](const HostCall &c) { return c.state == HostCall::State::Running; }))
    return Error{.kind = ErrorKind::InvalidInput, .message = "cannot snapshot while host handlers are running"};
  const std::vector<uint8_t> &base = s.engine->base_memory();
  uint8_t *memory = wasmtime_memory_data(s.context, &s.host.memory);
  size_t size = wasmtime_memory_data_size(s.context, &s.host.memory);
  wasmtime_val_t sp;
  wasmtime_global_get(s.context, &s.stack_pointer, &sp);
  uint64_t dead_stack_end = static_cast<uint32_t>(sp.of.i32);  // below the stack pointer: dead frames

  std::vector<uint32_t> indexes;
  std::vector<uint8_t> chunks;
  static const uint8_t zeros[kChunkSize] = {};
  for (size_t offset = 0; offset < size; offset += kChunkSize) {
    if (offset + kChunkSize <= dead_stack_end) continue;
    const uint8_t *reference = offset + kChunkSize <= base.size() ? base.data() + offset : zeros;
    if (std::memcmp(memory + offset, reference, kChunkSize) == 0) continue;
    indexes.push_back(static_cast<uint32_t>(offset / kChunkSize));
    size_t at = chunks.size();
    chunks.resize(at + kChunkSize);
    for (size_t i = 0; i < kChunkSize; i++) chunks[at + i] = memory[offset + i] ^ reference[i];
  }

  std::vector<uint8_t> body;
  body.reserve(16 + indexes.size() * (4 + kChunkSize) + 256);
  put32(body, static_cast<uint32_t>(size / 65536));
  put32(body, kChunkSize);
  put32(body, static_cast<uint32_t>(indexes.size()));
  for (uint32_t i : indexes) put32(body, i);
  body.insert(body.end(), chunks.begin(), chunks.end());
  put32(body, 1);
  put32(body, static_cast<uint32_t>(s.engine->exports.stack_pointer));
  put64(body, static_cast<uint32_t>(sp.of.i32));
  std::vector<uint8_t> host = encode_cbor(host_state_to_value(s));
  put32(body, static_cast<uint32_t>(host.size()));
  body.insert(body.end(), host.begin(), host.end());

  std::vector<uint8_t> out(kHeaderSize + ZSTD_compressBound(body.size()));
  // The frame carries its content checksum, so corruption of an unsigned snapshot is detected.
  // One context per thread: creating one per snapshot cost as much as compressing.
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx *)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_reset(cctx.get(), ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  size_t compressed = ZSTD_compress2(cctx.get(), out.data() + kHeaderSize, out.size() - kHeaderSize,
                                     body.data(), body.size());
  if (ZSTD_isError(compressed))
    return Error{.kind = ErrorKind::Internal, .message = std::string("compressing the snapshot failed: ") +
                                                         ZSTD_getErrorName(compressed)};
  out.resize(kHeaderSize + compressed);
  std::memcpy(out.data(), kMagic, 8);
  uint32_t flags = options.hmac_key.empty() ? 0 : kFlagSigned;
  std::memcpy(out.data() + 8, &kFormatVersion, 4);
  std::memcpy(out.data() + 12, &flags, 4);
  if (!hex_to_raw(s.engine->info.guest_build_id, out.data() + 16, 32))
    return Error{.kind = ErrorKind::Internal, .message = "the engine's guest build id is not a SHA-256"};
  uint64_t body_size = body.size(), compressed_size = compressed;
  std::memcpy(out.data() + 48, &body_size, 8);
  std::memcpy(out.data() + 56, &compressed_size, 8);
  if (!options.hmac_key.empty()) {
    auto mac = hmac_sha256(options.hmac_key, out);
    out.insert(out.end(), mac.begin(), mac.end());
  } else {
    auto digest = internal::sha256(out);
    out.insert(out.end(), digest.begin(), digest.end());
  }
  return out;
}

// ---- Restore ---------------------------------------------------------------------------------------

namespace {

// Everything that can be checked without an instance was checked by parse(); what remains needs
// the engine (build id, memory limits). On any failure the instance is dropped with `impl`.
Expected<std::unique_ptr<Sandbox::Impl>> restore_parsed(const Engine &engine, const ParsedSnapshot &p,
                                                        const SandboxOptions &options) {
  auto impl = std::make_unique<Sandbox::Impl>();
  std::array<uint8_t, 32> ours{};
  hex_to_raw(engine.info().guest_build_id, ours.data(), 32);
  if (ours != p.build_id)
    return refused("it was taken with another guest build (" + internal::to_hex(p.build_id) +
                   "); this engine runs " + engine.info().guest_build_id);
  uint64_t memory_bytes = uint64_t{p.memory_pages} * 65536;
  Sandbox::Impl &s = *impl;
  s.engine = engine.impl();
  s.options = options;
  for (const auto &[index, value] : p.globals)
    if (index != s.engine->exports.stack_pointer) return refused("it sets an unknown global");
  if (auto err = s.instantiate()) return *err;
  uint64_t current = wasmtime_memory_data_size(s.context, &s.host.memory);
  if (memory_bytes > current) {
    uint64_t previous;
    if (wasmtime_error_t *e = wasmtime_memory_grow(s.context, &s.host.memory, (memory_bytes - current) / 65536, &previous))
      return Error{.kind = ErrorKind::OutOfMemory,
                   .message = "growing the sandbox's memory for the snapshot failed: " + internal::take_error(e)};
  } else if (memory_bytes < current) {
    return refused("its memory is smaller than the base image's");
  }
  uint8_t *memory = wasmtime_memory_data(s.context, &s.host.memory);
  // The fresh instance holds the base image (zeros beyond it): XOR restores each chunk.
  for (size_t i = 0; i < p.chunk_indexes.size(); i++) {
    uint8_t *dest = memory + uint64_t{p.chunk_indexes[i]} * kChunkSize;
    const uint8_t *src = p.chunk_bytes.data() + i * kChunkSize;
    for (size_t k = 0; k < kChunkSize; k++) dest[k] ^= src[k];
  }
  for (const auto &[index, value] : p.globals) {
    wasmtime_val_t v{.kind = WASMTIME_I32, .of = {.i32 = static_cast<int32_t>(value)}};
    if (wasmtime_error_t *e = wasmtime_global_set(s.context, &s.stack_pointer, &v))
      return Error{.kind = ErrorKind::Internal, .message = "restoring a global failed: " + internal::take_error(e)};
  }
  // The restored memory holds its own exchange block, input buffer and configuration: re-read
  // and re-apply this sandbox's options (limits, and a fresh Math.random seed unless one is set).
  qb_exchange ex;
  if (auto err = s.read_exchange(ex)) return *err;
  if (ex.abi_version != QB_ABI_VERSION) return refused("its guest speaks another ABI version");
  s.input_ptr = ex.input_ptr;
  s.input_cap = ex.input_cap;
  if (auto err = s.configure()) return *err;

  const HostStateSnapshot &h = p.host;
  for (const auto &c : h.capabilities)
    s.capabilities.push_back(internal::RegisteredCapability{
        .name = c.name, .id = c.id, .js_async = c.js_async, .bound = false, .calls_this_eval = c.calls_this_eval});
  for (const auto &c : h.calls) {
    size_t audit_index = s.record_audit(AuditEntry{.capability = name_of(h, c.capability_id), .call_id = c.id,
                                                   .argument_bytes = c.args_cbor.size(),
                                                   .argument_digest = internal::sha256_hex(c.args_cbor),
                                                   .start = std::chrono::system_clock::now(),
                                                   .detail = "restored from a snapshot"});
    // The restoring sandbox's host memory budget holds the restored calls like any others.
    uint64_t cost = internal::pending_call_cost(c.args_cbor, c.args);
    if (!s.host_memory_fits(cost))
      return refused("its pending calls need more than this sandbox's host memory budget of " +
                     format_bytes(s.host_memory_budget()));
    s.calls.push_back(HostCall{.id = c.id,
                               .capability_id = c.capability_id,
                               .args_cbor = c.args_cbor,
                               .state = c.state,
                               .audit_index = audit_index,
                               .charge = internal::HostMemoryCharge(&s.call_bytes, cost)});
  }
  // Calls that held an in-flight slot when the snapshot was taken hold it again.
  for (auto &call : s.calls) {
    if (call.state == HostCall::State::AwaitingExternal) {
      call.holds_slot = true;
      if (auto *cap = s.find_capability(call.capability_id)) cap->in_flight++;
    }
  }
  s.restored_unsigned = !p.is_signed;
  s.next_call_id = h.next_call_id;
  s.evaluating = h.evaluating;
  s.host_calls_this_eval = h.host_calls_this_eval;
  // The restoring sandbox's limit governs, never the snapshot's: a snapshot is data and must not
  // be able to raise the host's CPU budget. What the evaluation already used still counts.
  s.eval_cpu_budget = options.limits.cpu_time;
  s.eval_cpu_used = std::min<std::chrono::nanoseconds>(std::chrono::nanoseconds(h.cpu_used_ns),
                                                        s.eval_cpu_budget);
  s.host.clock_reads = h.clock_reads;
  internal::set_guest_monotonic_ns(s.host, h.monotonic_ns);
  if (s.evaluating && s.calls.empty()) return refused("it is suspended but has no pending calls");
  return impl;
}

/// What a sandbox with these options can hold: parse() refuses more before allocating for it.
MemoryCeiling ceiling_for(const Engine &engine, const SandboxOptions &options) {
  Sandbox::Impl sizing;  // never instantiated: only its limit arithmetic is used
  sizing.engine = engine.impl();
  sizing.options = options;
  return MemoryCeiling{.bytes = sizing.hard_memory_limit(),
                       .explanation = "a sandbox with a memory limit of " + format_bytes(options.limits.memory_bytes) +
                                      " can hold at most " + format_bytes(sizing.hard_memory_limit())};
}

}  // namespace

Expected<Sandbox> Sandbox::restore(const Engine &engine, std::span<const uint8_t> snapshot,
                                   const SandboxOptions &options, const RestoreOptions &restore_options) {
  if (auto err = internal::check_sandbox_options(options, engine.options())) return *err;
  auto parsed = parse(snapshot, restore_options, ceiling_for(engine, options), Keep::Memory);
  if (!parsed) return parsed.error();
  auto impl = restore_parsed(engine, parsed.value(), options);
  if (!impl) return impl.error();
  if (auto err = impl.value()->grant_network()) return *err;
  return Sandbox(std::move(impl).value());
}

Expected<std::vector<Sandbox>> Sandbox::fork(const Engine &engine, std::span<const uint8_t> snapshot, size_t count,
                                             const SandboxOptions &options, const RestoreOptions &restore_options) {
  if (auto err = internal::check_sandbox_options(options, engine.options())) return *err;
  auto parsed = parse(snapshot, restore_options, ceiling_for(engine, options), Keep::Memory);
  if (!parsed) return parsed.error();
  std::vector<Sandbox> out;
  out.reserve(count);
  for (size_t i = 0; i < count; i++) {
    auto impl = restore_parsed(engine, parsed.value(), options);
    if (!impl) return impl.error();
    if (auto err = impl.value()->grant_network()) return *err;
    out.push_back(Sandbox(std::move(impl).value()));
  }
  return out;
}

Expected<SnapshotInfo> inspect_snapshot(std::span<const uint8_t> bytes, const RestoreOptions &options) {
  // Without an engine the ceiling is wasm32's; the memory is checked but never held.
  auto parsed = parse(bytes, options, MemoryCeiling{}, Keep::Description);
  if (!parsed) return parsed.error();
  const ParsedSnapshot &p = parsed.value();
  SnapshotInfo info{.format_version = p.version,
                    .signed_ = p.is_signed,
                    .guest_build_id = internal::to_hex(p.build_id),
                    .total_bytes = p.total_bytes,
                    .body_bytes = p.body_bytes,
                    .memory_bytes = uint64_t{p.memory_pages} * 65536,
                    .changed_bytes = p.chunk_indexes.size() * uint64_t{kChunkSize},
                    .suspended = p.host.evaluating,
                    .capabilities = {},
                    .pending = pending_of(p.host)};
  for (const auto &c : p.host.capabilities) info.capabilities.push_back(c.name);
  return info;
}

}  // namespace quickbox
