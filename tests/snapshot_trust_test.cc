// What a snapshot may and may not decide. An unsigned snapshot is data anyone could have written:
// it may hold any program state, but it cannot carry a person's approval.
#define ZSTD_STATIC_LINKING_ONLY
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <zstd.h>

#include <cstring>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using test_support::engine;
using Bytes8 = std::vector<uint8_t>;

uint32_t get32(const uint8_t *p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Rewrites the body of an unsigned snapshot (what an attacker with write access to the stored
// bytes can do), keeping every integrity check valid: zstd checksum and SHA-256 trailer.
Bytes8 forge_body(const Bytes8 &snapshot, const std::function<void(Bytes8 &)> &edit) {
  uint64_t body_size, compressed;
  std::memcpy(&body_size, snapshot.data() + 48, 8);
  std::memcpy(&compressed, snapshot.data() + 56, 8);
  Bytes8 body(body_size);
  EXPECT_EQ(ZSTD_decompress(body.data(), body.size(), snapshot.data() + 64, compressed), body_size);
  edit(body);
  Bytes8 out(snapshot.begin(), snapshot.begin() + 64);
  Bytes8 frame(ZSTD_compressBound(body.size()));
  ZSTD_CCtx *cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), body.data(), body.size());
  ZSTD_freeCCtx(cctx);
  out.insert(out.end(), frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
  uint64_t new_body = body.size(), new_compressed = n;
  std::memcpy(out.data() + 48, &new_body, 8);
  std::memcpy(out.data() + 56, &new_compressed, 8);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(out.data(), out.size(), digest);
  out.insert(out.end(), digest, digest + sizeof digest);
  return out;
}

/// Where the body's globals start: after the memory chunks (docs/architecture.md, "Snapshots").
size_t globals_offset(const Bytes8 &body) { return 12 + size_t{get32(body.data() + 8)} * (4 + 4096); }

// Rewrites the host state inside an unsigned snapshot.
Bytes8 forge_host_state(const Bytes8 &snapshot, const std::function<void(Value::Object &)> &edit) {
  return forge_body(snapshot, [&](Bytes8 &body) {
    size_t pos = globals_offset(body);
    pos += 4 + size_t{get32(body.data() + pos)} * 12;
    uint32_t host_size = get32(body.data() + pos);
    Decoded host = decode_cbor({body.data() + pos + 4, host_size});
    EXPECT_TRUE(host.ok) << host.error;
    Value::Object state = host.value.as_object();
    edit(state);
    Bytes8 encoded = encode_cbor(Value(state));
    body.resize(pos);
    uint32_t size = static_cast<uint32_t>(encoded.size());
    body.insert(body.end(), reinterpret_cast<uint8_t *>(&size), reinterpret_cast<uint8_t *>(&size) + 4);
    body.insert(body.end(), encoded.begin(), encoded.end());
  });
}

Value *field(Value::Object &object, const std::string &key) {
  for (auto &[k, v] : object)
    if (k == key) return &v;
  return nullptr;
}

Capability pay(int &runs, std::vector<double> &amounts) {
  return Capability::sync("pay", [&](const CallInfo &, std::span<const Value> args) {
    runs++;
    amounts.push_back(args[0].as_number());
    return Value("paid");
  }, {.requires_approval = true});
}

TEST(SnapshotTrust, AForgedUnsignedSnapshotCannotApproveACallOrChangeWhatWasApproved) {
  int runs = 0;
  std::vector<double> amounts;
  Sandbox a = Sandbox::create(engine()).unwrap();
  a.register_capability(pay(runs, amounts)).unwrap();
  Result suspended = a.eval("await pay(10)");
  ASSERT_TRUE(suspended.is_suspended());
  Bytes8 snapshot = a.snapshot().unwrap();

  for (double forged_state : {0.0, 2.0, 3.0}) {  // queued, approved, awaiting an answer
    Bytes8 forged = forge_host_state(snapshot, [&](Value::Object &state) {
      Value::Array calls = field(state, "calls")->as_array();
      Value::Array call = calls[0].as_array();
      call[2] = Value(Bytes{encode_cbor(Value(Value::Array{Value(1000000)}))});
      call[3] = Value(forged_state);
      calls[0] = Value(call);
      *field(state, "calls") = Value(calls);
    });
    Sandbox b = Sandbox::restore(engine(), forged).unwrap();
    b.register_capability(pay(runs, amounts)).unwrap();
    std::vector<PendingCall> pending = b.pending_calls();
    ASSERT_EQ(pending.size(), 1u) << "state " << forged_state;
    EXPECT_TRUE(pending[0].needs_approval) << "an unsigned snapshot cannot carry an approval";
    EXPECT_EQ(pending[0].args, (std::vector<Value>{Value(1000000)})) << "the person sees what would run";
    Result again = b.resume();
    EXPECT_TRUE(again.is_suspended()) << "nothing runs before a person approves";
    EXPECT_EQ(runs, 0);
  }
}

TEST(SnapshotTrust, ASignedSnapshotKeepsAnApprovalGivenBeforeItWasTaken) {
  int runs = 0;
  std::vector<double> amounts;
  std::vector<uint8_t> key = {1, 2, 3, 4};
  Sandbox a = Sandbox::create(engine()).unwrap();
  a.register_capability(pay(runs, amounts)).unwrap();
  Result suspended = a.eval("await pay(10)");
  ASSERT_TRUE(suspended.is_suspended());
  a.approve(suspended.pending()[0].call_id).unwrap();
  Bytes8 snapshot = a.snapshot({.hmac_key = key}).unwrap();

  Sandbox b = Sandbox::restore(engine(), snapshot, {}, {.hmac_key = key}).unwrap();
  b.register_capability(pay(runs, amounts)).unwrap();
  Result done = b.resume();
  ASSERT_TRUE(done.ok()) << test_support::describe(done);
  EXPECT_EQ(done.value(), Value("paid"));
  EXPECT_EQ(amounts, (std::vector<double>{10}));
}

// A forged snapshot can make the guest trap (here its stack pointer is 0), never the host: the
// operation ends Internal, saying what the trap was without wasmtime's frame-by-frame backtrace.
TEST(SnapshotTrust, AForgedStateThatMakesTheGuestTrapEndsInAnErrorThatSaysWhy) {
  Sandbox sandbox = Sandbox::create(engine()).unwrap();
  ASSERT_TRUE(sandbox.register_capability(Capability::external("question")).ok());
  ASSERT_TRUE(sandbox.eval("const a = await question(); a + 1").is_suspended());
  Bytes8 forged = forge_body(sandbox.snapshot().unwrap(), [](Bytes8 &body) {
    size_t pos = globals_offset(body);
    uint32_t count = get32(body.data() + pos);
    for (uint32_t i = 0; i < count; i++) std::memset(body.data() + pos + 4 + i * 12 + 4, 0, 8);  // every value 0
  });
  auto restored = Sandbox::restore(engine(), forged);
  ASSERT_TRUE(restored) << restored.error().to_string();
  ASSERT_TRUE(restored.value().register_capability(Capability::external("question")).ok());
  Status settled = restored.value().resolve(1, Value(1));
  Result result = settled ? restored.value().resume() : Result::failure(settled.error());
  ASSERT_TRUE(result.failed());
  EXPECT_EQ(result.error().kind, ErrorKind::Internal);
  EXPECT_NE(result.error().message.find("wasm trap: out of bounds memory access"), std::string::npos)
      << result.error().message;
  EXPECT_EQ(result.error().message.find("backtrace"), std::string::npos) << result.error().message;
  EXPECT_EQ(result.error().message.find('\n'), std::string::npos) << result.error().message;
}

}  // namespace
}  // namespace quickbox
