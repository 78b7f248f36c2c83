// Base images: rewriting a wasm module so that it starts in a captured state (the Wizer technique).
// Only the constructs wasm-ld emits for our guest are supported; anything else is refused by name.
#include <openssl/evp.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "internal.hh"

namespace quickbox::internal {
namespace {

enum Section : uint8_t {
  kCustom = 0, kType = 1, kImport = 2, kFunction = 3, kTable = 4, kMemory = 5, kGlobal = 6,
  kExport = 7, kStart = 8, kElement = 9, kCode = 10, kData = 11, kDataCount = 12,
};

struct Reader {
  std::span<const uint8_t> bytes;
  size_t pos = 0;

  [[noreturn]] void fail(const std::string &why) const {
    throw std::runtime_error("wasm module: " + why + " at byte " + std::to_string(pos));
  }
  uint8_t byte() {
    if (pos >= bytes.size()) fail("unexpected end");
    return bytes[pos++];
  }
  uint64_t uleb() {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      result |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return result;
    }
    fail("LEB128 too long");
  }
  int64_t sleb() {
    int64_t result = 0;
    int shift = 0;
    uint8_t b;
    do {
      b = byte();
      result |= int64_t{b & 0x7f} << shift;
      shift += 7;
    } while ((b & 0x80) && shift < 64);
    if (shift < 64 && (b & 0x40)) result |= -(int64_t{1} << shift);
    return result;
  }
  std::span<const uint8_t> take(size_t n) {
    if (bytes.size() - pos < n) fail("unexpected end");
    auto out = bytes.subspan(pos, n);
    pos += n;
    return out;
  }
  bool done() const { return pos >= bytes.size(); }
};

void put_uleb(std::vector<uint8_t> &out, uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out.push_back(v ? (b | 0x80) : b);
  } while (v);
}

void put_sleb(std::vector<uint8_t> &out, int64_t v) {
  bool more = true;
  while (more) {
    uint8_t b = v & 0x7f;
    v >>= 7;
    more = !((v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40)));
    out.push_back(more ? (b | 0x80) : b);
  }
}

void put_section(std::vector<uint8_t> &out, uint8_t id, const std::vector<uint8_t> &body) {
  out.push_back(id);
  put_uleb(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
}

struct RawSection {
  uint8_t id;
  std::span<const uint8_t> body;
};

std::vector<RawSection> split_sections(std::span<const uint8_t> wasm) {
  static const uint8_t header[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  if (wasm.size() < 8 || !std::equal(header, header + 8, wasm.begin()))
    throw std::runtime_error("wasm module: not a version-1 wasm binary");
  Reader r{wasm, 8};
  std::vector<RawSection> sections;
  while (!r.done()) {
    uint8_t id = r.byte();
    uint64_t size = r.uleb();
    sections.push_back({id, r.take(size)});
  }
  return sections;
}

// Skips a constant expression; returns the i32/i64 constant when it is one.
void skip_const_expr(Reader &r) {
  uint8_t op = r.byte();
  switch (op) {
    case 0x41: r.sleb(); break;          // i32.const
    case 0x42: r.sleb(); break;          // i64.const
    case 0x43: r.take(4); break;         // f32.const
    case 0x44: r.take(8); break;         // f64.const
    case 0x23: r.uleb(); break;          // global.get
    case 0xd0: r.byte(); break;          // ref.null
    case 0xd2: r.uleb(); break;          // ref.func
    default: r.fail("unsupported constant expression opcode " + std::to_string(op));
  }
  if (r.byte() != 0x0b) r.fail("constant expression longer than one instruction");
}

struct GlobalInfo {
  uint8_t type;
  bool mutable_;
};

std::vector<GlobalInfo> read_globals(std::span<const uint8_t> body) {
  Reader r{body};
  std::vector<GlobalInfo> globals;
  uint64_t count = r.uleb();
  for (uint64_t i = 0; i < count; i++) {
    uint8_t type = r.byte();
    bool mut = r.byte() == 1;
    skip_const_expr(r);
    globals.push_back({type, mut});
  }
  return globals;
}

uint32_t count_imported_globals(const std::vector<RawSection> &sections) {
  uint32_t n = 0;
  for (const auto &s : sections) {
    if (s.id != kImport) continue;
    Reader r{s.body};
    uint64_t count = r.uleb();
    for (uint64_t i = 0; i < count; i++) {
      r.take(r.uleb());
      r.take(r.uleb());
      uint8_t kind = r.byte();
      switch (kind) {
        case 0: r.uleb(); break;                         // func: type index
        case 1: r.byte(); if (r.byte() & 1) { r.uleb(); } r.uleb(); break;  // table
        case 2: { uint8_t f = r.byte(); r.uleb(); if (f & 1) r.uleb(); break; }  // memory
        case 3: r.byte(); r.byte(); n++; break;          // global
        default: r.fail("unknown import kind");
      }
    }
  }
  return n;
}

std::vector<uint8_t> rewrite_memory(std::span<const uint8_t> body, uint64_t pages) {
  Reader r{body};
  if (r.uleb() != 1) r.fail("expected exactly one memory");
  uint8_t flags = r.byte();
  if (flags & ~1u) r.fail("shared or 64-bit memories are not supported");
  r.uleb();  // old minimum
  std::vector<uint8_t> out;
  put_uleb(out, 1);
  out.push_back(flags);
  put_uleb(out, pages);
  if (flags & 1) {
    uint64_t max = r.uleb();
    if (max < pages) r.fail("snapshot is larger than the memory's maximum");
    put_uleb(out, max);
  }
  return out;
}

std::vector<uint8_t> rewrite_globals(std::span<const uint8_t> body, uint32_t imported,
                                     const InstanceState &state) {
  Reader r{body};
  uint64_t count = r.uleb();
  std::vector<uint8_t> out;
  put_uleb(out, count);
  for (uint64_t i = 0; i < count; i++) {
    uint8_t type = r.byte();
    uint8_t mut = r.byte();
    size_t expr_start = r.pos;
    skip_const_expr(r);
    out.push_back(type);
    out.push_back(mut);
    const auto *captured = [&]() -> const std::pair<uint32_t, uint64_t> * {
      for (const auto &g : state.globals)
        if (g.first == imported + i) return &g;
      return nullptr;
    }();
    if (mut && !captured) r.fail("mutable global " + std::to_string(imported + i) + " was not captured");
    if (!captured) {
      auto expr = body.subspan(expr_start, r.pos - expr_start);
      out.insert(out.end(), expr.begin(), expr.end());
      continue;
    }
    if (type == 0x7f) {
      out.push_back(0x41);
      put_sleb(out, static_cast<int32_t>(captured->second));
    } else if (type == 0x7e) {
      out.push_back(0x42);
      put_sleb(out, static_cast<int64_t>(captured->second));
    } else {
      r.fail("only i32/i64 mutable globals can be captured");
    }
    out.push_back(0x0b);
  }
  return out;
}

void check_data_is_active(std::span<const uint8_t> body) {
  Reader r{body};
  uint64_t count = r.uleb();
  for (uint64_t i = 0; i < count; i++) {
    uint64_t flags = r.uleb();
    if (flags != 0) r.fail("passive or multi-memory data segments are not supported");
    skip_const_expr(r);
    r.take(r.uleb());
  }
}

// The non-zero ranges of memory as active segments. Zero runs shorter than kGap stay inside a
// segment: fewer, larger segments keep the module small and the image build fast.
std::vector<std::pair<uint32_t, uint32_t>> nonzero_ranges(const std::vector<uint8_t> &memory) {
  constexpr size_t kGap = 64;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  size_t i = 0, n = memory.size();
  while (i < n) {
    while (i < n && memory[i] == 0) i++;
    if (i == n) break;
    size_t start = i, end = i;
    while (i < n) {
      if (memory[i] != 0) {
        end = ++i;
        continue;
      }
      size_t zeros = 0;
      while (i < n && memory[i] == 0 && zeros < kGap) i++, zeros++;
      if (zeros >= kGap || i == n) break;
    }
    ranges.emplace_back(static_cast<uint32_t>(start), static_cast<uint32_t>(end - start));
  }
  return ranges;
}

std::vector<uint8_t> data_section(const std::vector<uint8_t> &memory,
                                  const std::vector<std::pair<uint32_t, uint32_t>> &ranges) {
  std::vector<uint8_t> out;
  put_uleb(out, ranges.size());
  for (const auto &[offset, length] : ranges) {
    out.push_back(0);  // active, memory 0
    out.push_back(0x41);
    put_sleb(out, static_cast<int32_t>(offset));
    out.push_back(0x0b);
    put_uleb(out, length);
    out.insert(out.end(), memory.begin() + offset, memory.begin() + offset + length);
  }
  return out;
}

}  // namespace

std::vector<std::pair<uint32_t, std::string>> exported_mutable_globals(std::span<const uint8_t> wasm) {
  auto sections = split_sections(wasm);
  uint32_t imported = count_imported_globals(sections);
  std::vector<GlobalInfo> globals;
  std::vector<std::pair<uint32_t, std::string>> exports;
  for (const auto &s : sections) {
    if (s.id == kGlobal) globals = read_globals(s.body);
    if (s.id == kExport) {
      Reader r{s.body};
      uint64_t count = r.uleb();
      for (uint64_t i = 0; i < count; i++) {
        auto name = r.take(r.uleb());
        uint8_t kind = r.byte();
        uint64_t index = r.uleb();
        if (kind == 3) exports.emplace_back(static_cast<uint32_t>(index), std::string(name.begin(), name.end()));
      }
    }
  }
  std::vector<std::pair<uint32_t, std::string>> result;
  for (size_t i = 0; i < globals.size(); i++) {
    if (!globals[i].mutable_) continue;
    uint32_t index = imported + static_cast<uint32_t>(i);
    auto it = std::find_if(exports.begin(), exports.end(), [&](auto &e) { return e.first == index; });
    if (it == exports.end())
      throw std::runtime_error("wasm module: mutable global " + std::to_string(index) +
                               " is not exported, so its state cannot be captured");
    result.push_back(*it);
  }
  return result;
}

std::vector<uint8_t> bake_module(std::span<const uint8_t> wasm, const InstanceState &state) {
  if (state.memory.size() % 65536) throw std::runtime_error("memory snapshot is not whole pages");
  auto sections = split_sections(wasm);
  uint32_t imported = count_imported_globals(sections);
  auto ranges = nonzero_ranges(state.memory);
  std::vector<uint8_t> out = {0, 'a', 's', 'm', 1, 0, 0, 0};
  bool wrote_data = false;
  for (const auto &s : sections) {
    switch (s.id) {
      case kMemory:
        put_section(out, kMemory, rewrite_memory(s.body, state.memory.size() / 65536));
        break;
      case kGlobal:
        put_section(out, kGlobal, rewrite_globals(s.body, imported, state));
        break;
      case kDataCount: {
        std::vector<uint8_t> body;
        put_uleb(body, ranges.size());
        put_section(out, kDataCount, body);
        break;
      }
      case kData:
        check_data_is_active(s.body);
        put_section(out, kData, data_section(state.memory, ranges));
        wrote_data = true;
        break;
      case kStart:
        throw std::runtime_error("wasm module: a start function would run again on every instance");
      default:
        out.push_back(s.id);
        put_uleb(out, s.body.size());
        out.insert(out.end(), s.body.begin(), s.body.end());
    }
    // A module without a data section gets one right after the code section.
    if (s.id == kCode && !wrote_data) {
      bool has_data = std::any_of(sections.begin(), sections.end(), [](auto &x) { return x.id == kData; });
      if (!has_data) {
        put_section(out, kData, data_section(state.memory, ranges));
        wrote_data = true;
      }
    }
  }
  return out;
}

std::vector<uint8_t> initial_memory(std::span<const uint8_t> wasm) {
  auto sections = split_sections(wasm);
  std::vector<uint8_t> memory;
  for (const auto &s : sections) {
    if (s.id != kMemory) continue;
    Reader r{s.body};
    if (r.uleb() != 1) r.fail("expected exactly one memory");
    uint8_t flags = r.byte();
    if (flags & ~1u) r.fail("shared or 64-bit memories are not supported");
    memory.assign(r.uleb() * 65536, 0);
  }
  for (const auto &s : sections) {
    if (s.id != kData) continue;
    Reader r{s.body};
    uint64_t count = r.uleb();
    for (uint64_t i = 0; i < count; i++) {
      if (r.uleb() != 0) r.fail("passive or multi-memory data segments are not supported");
      if (r.byte() != 0x41) r.fail("data segment offsets must be i32.const");
      uint64_t offset = static_cast<uint32_t>(r.sleb());
      if (r.byte() != 0x0b) r.fail("data segment offset is not a single constant");
      auto bytes = r.take(r.uleb());
      if (offset + bytes.size() > memory.size()) r.fail("data segment outside the initial memory");
      std::copy(bytes.begin(), bytes.end(), memory.begin() + static_cast<std::ptrdiff_t>(offset));
    }
  }
  return memory;
}

void fill_random(std::span<uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = getrandom(bytes.data() + done, bytes.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
}

uint64_t random_seed() {
  uint64_t seed;
  fill_random({reinterpret_cast<uint8_t *>(&seed), sizeof seed});
  return seed;
}

std::array<uint8_t, 32> sha256(std::span<const uint8_t> bytes) {
  // Fetched once: looking the algorithm up on every digest (what EVP_sha256() amounts to in
  // OpenSSL 3) took half of a small audit digest's time.
  static EVP_MD *const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX *)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::array<uint8_t, 32> digest{};
  unsigned int length = 0;
  if (!algorithm || !ctx || !EVP_DigestInit_ex2(ctx.get(), algorithm, nullptr) ||
      !EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) ||
      !EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) || length != digest.size())
    throw std::runtime_error("SHA-256 failed");
  return digest;
}

std::string sha256_hex(std::span<const uint8_t> bytes) { return to_hex(sha256(bytes)); }

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out(2 * bytes.size(), '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

std::string format_bytes(uint64_t n) {
  if (n >= (1ull << 30) && n % (1ull << 30) == 0) return std::to_string(n >> 30) + " GiB";
  if (n >= (1ull << 20) && n % (1ull << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= (1ull << 10) && n % (1ull << 10) == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

}  // namespace quickbox::internal
