// make_seeds OUT_DIR: writes the seed corpora the fuzz targets start from.
//   OUT_DIR/cbor/      encodings of many values, and the CBOR host state of each snapshot
//   OUT_DIR/snapshot/  real snapshots of this build's guest (fresh, with globals, suspended on
//                      external calls and approvals; unsigned and signed with kSigningKey), and
//                      the same host states around the base image, unsigned and signed (no
//                      memory chunks: small and fast, so mutations go to the parts the host
//                      parses)
//   OUT_DIR/body/      the uncompressed bodies of the unsigned snapshots (restore_body_fuzzer)
#include <filesystem>
#include <fstream>
#include <iostream>

#include "harness.hh"

using namespace quickbox_fuzz;
namespace fs = std::filesystem;

namespace {

void write_file(const fs::path &path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

template <typename T>
T must(Expected<T> expected, const std::string &what) {
  if (!expected) throw std::runtime_error(what + ": " + expected.error().to_string());
  return std::move(expected).value();
}

void must_run(const Result &result, bool suspended, const std::string &what) {
  if (result.failed()) throw std::runtime_error(what + ": " + result.error().to_string());
  if (result.is_suspended() != suspended)
    throw std::runtime_error(what + (suspended ? " did not suspend" : " suspended"));
}

std::vector<Value> seed_values() {
  BigInt huge = BigInt::from_decimal("-123456789012345678901234567890");
  Value::Array nested{Value(1)};
  for (int i = 0; i < 12; i++) nested = Value::Array{Value(nested), Value(i)};
  Value::Array many;
  for (int i = 0; i < 40; i++) many.push_back(i % 3 ? Value(i * 1000.5) : Value(std::to_string(i)));
  Value::Object wide;
  for (int i = 0; i < 24; i++) wide.emplace_back("key" + std::to_string(i), Value(i));
  return {
      Value(),
      Value(nullptr),
      Value(true),
      Value(false),
      Value(0),
      Value(23),
      Value(24),
      Value(-1),
      Value(-25),
      Value(65536),
      Value(int64_t{9007199254740991}),
      Value(int64_t{-9007199254740991}),
      Value(0.5),
      Value(-0.0),
      Value(1e300),
      Value(std::numeric_limits<double>::quiet_NaN()),
      Value(std::numeric_limits<double>::infinity()),
      Value(BigInt::from_int64(0)),
      Value(BigInt::from_int64(-1)),
      Value(BigInt::from_decimal("18446744073709551616")),
      Value(huge),
      Value(""),
      Value("hello"),
      Value("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"),
      Value(Bytes{{0, 1, 2, 255}}),
      Value(Bytes{}),
      Value(Value::Array{}),
      Value(Value::Object{}),
      Value(Value::Array{Value(1), Value("two"), Value(Value::Array{Value(3)}), Value(nullptr)}),
      Value(Value::Object{{"a", Value(1)}, {"b", Value(Value::Object{{"c", Value(Bytes{{7}})}})}}),
      Value(ErrorValue{"TypeError", "x is not a function", "at f (<eval>:1)"}),
      Value(Value::Array{Value(ErrorValue{"Error", "boom", ""}), Value(huge)}),
      Value(nested),
      Value(many),
      Value(wide),
  };
}

uint32_t get32(const std::vector<uint8_t> &bytes, size_t at) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + at, 4);
  return v;
}

// The body without its memory chunks: restoring it gives the base image with this host state.
// Returns the host state's CBOR too.
std::pair<std::vector<uint8_t>, std::vector<uint8_t>> without_chunks(const std::vector<uint8_t> &body) {
  const uint32_t chunk_size = get32(body, 4), count = get32(body, 8);
  const size_t tail = 12 + size_t{count} * (4 + chunk_size);  // globals and host state
  std::vector<uint8_t> out(body.begin(), body.begin() + 12);
  std::memset(out.data() + 8, 0, 4);
  out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(tail), body.end());
  const size_t host_at = tail + 4 + size_t{get32(body, tail)} * 12 + 4;
  std::vector<uint8_t> host(body.begin() + static_cast<std::ptrdiff_t>(host_at), body.end());
  return {out, host};
}

// Named snapshots of the situations a host meets: fresh, with state, suspended on external
// calls, waiting for approvals, and partly settled. One sandbox at a time: the pool is small.
std::vector<std::pair<std::string, std::vector<uint8_t>>> take_snapshots(const Engine &engine) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  auto take = [&](const std::string &name, Sandbox &sandbox) {
    out.emplace_back(name, must(sandbox.snapshot(), "snapshot " + name));
    out.emplace_back(name + "-signed", must(sandbox.snapshot({.hmac_key = kSigningKey}), "snapshot " + name));
  };
  auto require = [](const Status &status, const std::string &what) {
    if (!status) throw std::runtime_error(what + ": " + status.error().to_string());
  };
  {
    Sandbox fresh = must(Sandbox::create(engine), "create");
    take("fresh", fresh);
  }
  {
    Sandbox globals = must(Sandbox::create(engine), "create");
    must_run(globals.eval("var counter = 41; let text = 'h\\u00e9llo'; globalThis.data = {list: [1, 2n, null]};"
                          "function next() { return ++counter; }"),
             false, "defining globals");
    take("globals", globals);
  }
  {
    Sandbox external = must(Sandbox::create(engine), "create");
    require(external.register_capability(Capability::external("ask")), "registering ask");
    require(external.register_capability(Capability::external("tools.fetch")), "registering tools.fetch");
    must_run(external.eval("const a = ask('question', 42);"
                           "const b = tools.fetch({url: 'x', body: new Uint8Array([1, 2])});"
                           "const c = ask(2n ** 70n, [true, undefined]);"
                           "(await a) + (await b) + (await c);"),
             true, "calling external capabilities");
    take("external", external);
    require(external.resolve(external.pending_calls().front().call_id, Value("answer")), "resolving a call");
    take("external-partly-settled", external);
  }
  {
    Sandbox approval = must(Sandbox::create(engine), "create");
    CapabilityPolicy needs_approval{.max_calls_per_eval = 5, .requires_approval = true};
    auto echo = [](const CallInfo &, std::span<const Value> args) { return args.empty() ? Value() : args[0]; };
    require(approval.register_capability(Capability::sync("pay", echo, needs_approval)), "registering pay");
    must_run(approval.eval("await pay({amount: 10, to: 'someone'});"), true, "calling an approval capability");
    take("approval", approval);
  }
  return out;
}

// The targets frame bodies themselves (harness.hh): if that drifts from src/snapshot.cc, every
// input would be refused before the body and the fuzzers would quietly test nothing.
void check_framing(const std::vector<uint8_t> &reframed, const std::string &name) {
  auto info = inspect_snapshot(reframed, restore_options_for(reframed));
  if (!info)
    throw std::runtime_error("fuzz/harness.hh frames snapshots differently from src/snapshot.cc (the body of " +
                             name + " reframed is refused: " + info.error().message + ")");
}

void write_seeds(const fs::path &root, const Engine &engine) {
  for (const char *dir : {"cbor", "snapshot", "body"}) fs::create_directories(root / dir);
  int n = 0;
  for (const Value &value : seed_values()) write_file(root / "cbor" / ("value-" + std::to_string(n++)), encode_cbor(value));
  for (const auto &[name, snapshot] : take_snapshots(engine)) {
    write_file(root / "snapshot" / name, snapshot);
    if (name.ends_with("-signed")) continue;
    std::optional<std::vector<uint8_t>> body = body_of(snapshot, UINT64_MAX);
    if (!body) throw std::runtime_error("the snapshot " + name + " does not decompress");
    auto [small_body, host_state] = without_chunks(*body);
    write_file(root / "body" / name, *body);
    write_file(root / "body" / (name + "-no-chunks"), small_body);
    std::array<uint8_t, kBodySizeOffset> header;
    std::memcpy(header.data(), snapshot.data(), header.size());
    check_framing(frame_body(*body, header), name);
    check_framing(frame_body(*body, engine.info().guest_build_id), name);
    write_file(root / "snapshot" / (name + "-no-chunks"), frame_body(small_body, header));
    header[kFlagsOffset] |= kFlagSigned;
    check_framing(frame_body(*body, header), name + " (signed)");
    write_file(root / "snapshot" / (name + "-no-chunks-signed"), frame_body(small_body, header));
    write_file(root / "cbor" / ("host-state-" + name), host_state);
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds OUT_DIR\n";
    return 2;
  }
  try {
    write_seeds(argv[1], engine());
  } catch (const std::exception &e) {
    std::cerr << "make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
