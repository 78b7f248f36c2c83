// The peer process of snapshot_process_test: one run starts a program and leaves it suspended in
// a snapshot file (role A), another run restores that file and finishes it (role B). Every call of
// the side-effecting capabilities appends a line "<role> <pid> <capability> <argument>" to the
// effects file, so the test can count what ran where.
//
//   snapshot_peer start  --snapshot FILE --effects FILE [--approval | --timer | --modules] [--key KEY]
//   snapshot_peer finish --snapshot FILE --effects FILE [--approval | --timer | --modules] [--key KEY] [--reject]
//
// --timer runs a program that also waits on a timer set in A, which must fire in B.
// --modules runs kModuleProgram as an ES module whose import waits on the caller; every module the
// loader hands out is an effect too ("load <name>").
//
// Prints one JSON line on stdout. Exit codes: 0 done (or suspended, for start), 1 the program
// failed, 2 the snapshot was refused, 3 anything else went wrong (usage, I/O, unexpected state).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"

using namespace quickbox;

namespace {

// The program A runs; B finishes it. Receipts made in A live in the JS heap across the processes.
constexpr const char *kAskProgram = R"(
  const receipts = [charge(1), charge(2)];
  const answer = await ask('approve?');
  receipts.push(charge(3));
  ({ answer, receipts })
)";

constexpr const char *kApprovalProgram = R"(
  const receipts = [charge(1)];
  receipts.push(await pay(100));
  receipts.push(charge(2));
  ({ receipts })
)";

// With --modules: the entry module imports `lib`, which waits on the caller at its top level; after
// the answer it imports `late`, which only process B loads. The result is the entry's namespace.
constexpr const char *kModuleProgram = R"(
  import { answer, receipts } from 'lib';
  const { shout } = await import('late');
  export const result = { answer: shout(answer), receipts };
)";

const char *module_source(const std::string &name) {
  if (name == "lib") return "export const receipts = [charge(1)]; export const answer = await ask('approve?'); receipts.push(charge(2));";
  if (name == "late") return "export const shout = (s) => s.toUpperCase();";
  return nullptr;
}

// A timer set in A, 400 ms long, is still pending when the program waits on its caller; B runs it.
constexpr const char *kTimerProgram = R"(
  const started = performance.now();
  const receipts = [charge(1)];
  const timer = new Promise((resolve) => setTimeout(() => resolve(charge('timer')), 400));
  const answer = await ask('approve?');
  receipts.push(await timer);
  ({ answer, receipts, waited: Math.round(performance.now() - started) })
)";

struct Arguments {
  std::string mode, snapshot_path, effects_path;
  bool approval = false, reject = false, timer = false, modules = false;
  std::vector<uint8_t> key;
};

[[noreturn]] void fail(int code, const std::string &json_status, const std::string &message) {
  std::cout << "{\"status\":" << to_json(Value(json_status)) << ",\"message\":" << to_json(Value(message)) << "}"
            << std::endl;
  std::exit(code);
}

Arguments parse_arguments(int argc, char **argv) {
  Arguments a;
  if (argc < 2) fail(3, "usage", "snapshot_peer start|finish --snapshot FILE --effects FILE [options]");
  a.mode = argv[1];
  for (int i = 2; i < argc; i++) {
    std::string flag = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail(3, "usage", flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--snapshot") a.snapshot_path = next();
    else if (flag == "--effects") a.effects_path = next();
    else if (flag == "--key") {
      std::string key = next();
      a.key.assign(key.begin(), key.end());
    } else if (flag == "--approval") a.approval = true;
    else if (flag == "--reject") a.reject = true;
    else if (flag == "--modules") a.modules = true;
    else if (flag == "--timer") a.timer = true;
    else fail(3, "usage", "unknown option " + flag);
  }
  if ((a.mode != "start" && a.mode != "finish") || a.snapshot_path.empty() || a.effects_path.empty())
    fail(3, "usage", "snapshot_peer start|finish --snapshot FILE --effects FILE [options]");
  return a;
}

/// A sync handler with a visible side effect: one line in the effects file per call.
SyncHandler recording(const Arguments &args, const std::string &role) {
  return [path = args.effects_path, role](const CallInfo &info, std::span<const Value> call_args) {
    std::string argument = call_args.empty() ? "" : call_args[0].is_string() ? call_args[0].as_string() : to_json(call_args[0]);
    std::ofstream(path, std::ios::app) << role << ' ' << getpid() << ' ' << info.capability << ' ' << argument << '\n';
    return Value(role + ":" + info.capability + " " + argument);
  };
}

/// The options of both processes: with --modules, a loader that records what it loads.
SandboxOptions options_for(const Arguments &args, const std::string &role) {
  SandboxOptions options;
  if (args.modules)
    options.modules.load = [path = args.effects_path, role](std::string_view name) -> std::optional<std::string> {
      std::ofstream(path, std::ios::app) << role << ' ' << getpid() << " load " << name << '\n';
      const char *source = module_source(std::string(name));
      return source ? std::optional<std::string>(source) : std::nullopt;
    };
  return options;
}

void register_all(Sandbox &sandbox, const Arguments &args, const std::string &role) {
  std::vector<Capability> capabilities = {Capability::sync("charge", recording(args, role))};
  if (args.approval)
    capabilities.push_back(Capability::sync("pay", recording(args, role), {.requires_approval = true}));
  else
    capabilities.push_back(Capability::external("ask"));
  for (auto &capability : capabilities) {
    std::string name = capability.name;
    if (Status s = sandbox.register_capability(std::move(capability)); !s.ok())
      fail(3, "error", "registering " + name + ": " + s.error().to_string());
  }
}

std::string pending_json(const std::vector<PendingCall> &pending) {
  std::string out = "[";
  for (const auto &call : pending) {
    if (out.size() > 1) out += ",";
    out += "{\"id\":" + std::to_string(call.call_id) + ",\"capability\":" + to_json(Value(call.capability)) +
           ",\"args\":" + to_json(Value(Value::Array(call.args))) +
           ",\"needs_approval\":" + (call.needs_approval ? "true" : "false") + "}";
  }
  return out + "]";
}

int start(const Engine &engine, const Arguments &args) {
  Sandbox sandbox = Sandbox::create(engine, options_for(args, "A")).unwrap();
  register_all(sandbox, args, "A");
  EvalOptions module;
  module.kind = EvalOptions::Kind::Module;
  module.module_namespace = true;
  Result r = args.modules ? sandbox.eval(kModuleProgram, module)
                          : sandbox.eval(args.approval ? kApprovalProgram : args.timer ? kTimerProgram : kAskProgram);
  if (!r.is_suspended())
    fail(3, "error", "expected the program to suspend, got " + (r.ok() ? to_json(r.value()) : r.error().to_string()));
  auto bytes = sandbox.snapshot(SnapshotOptions{.hmac_key = args.key});
  if (!bytes.ok()) fail(3, "error", "snapshot: " + bytes.error().to_string());
  std::ofstream out(args.snapshot_path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.value().data()), static_cast<std::streamsize>(bytes.value().size()));
  if (!out.flush()) fail(3, "error", "cannot write " + args.snapshot_path);
  std::cout << "{\"status\":\"suspended\",\"pid\":" << getpid() << ",\"pending\":" << pending_json(r.pending())
            << "}" << std::endl;
  return 0;
}

int finish(const Engine &engine, const Arguments &args) {
  std::ifstream in(args.snapshot_path, std::ios::binary);
  if (!in) fail(3, "error", "cannot read " + args.snapshot_path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto restored = Sandbox::restore(engine, bytes, options_for(args, "B"), RestoreOptions{.hmac_key = args.key});
  if (!restored.ok()) fail(2, "refused", restored.error().message);
  Sandbox &sandbox = restored.value();
  register_all(sandbox, args, "B");
  std::vector<PendingCall> pending = sandbox.pending_calls();
  if (pending.size() != 1) fail(3, "error", "expected one pending call, found " + pending_json(pending));
  const PendingCall &call = pending[0];
  Status answered = args.approval ? sandbox.approve(call.call_id)
                    : args.reject ? sandbox.reject(call.call_id, "the reviewer said no")
                                  : sandbox.resolve(call.call_id, "yes");
  if (!answered.ok()) fail(3, "error", "answering call #" + std::to_string(call.call_id) + ": " + answered.error().to_string());
  auto resuming = std::chrono::steady_clock::now();
  Result r = sandbox.resume();
  auto resume_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - resuming).count();
  std::string head = "{\"pid\":" + std::to_string(getpid()) + ",\"pending\":" + pending_json(pending) +
                     ",\"resume_ms\":" + std::to_string(resume_ms);
  if (r.ok()) {
    std::cout << head << ",\"status\":\"done\",\"value\":" << to_json(r.value()) << "}" << std::endl;
    return 0;
  }
  if (r.failed()) {
    std::cout << head << ",\"status\":\"error\",\"kind\":" << to_json(Value(to_string(r.error().kind)))
              << ",\"message\":" << to_json(Value(r.error().message)) << "}" << std::endl;
    return 1;
  }
  fail(3, "error", "the program suspended again: " + pending_json(r.pending()));
}

}  // namespace

int main(int argc, char **argv) {
  Arguments args = parse_arguments(argc, argv);
  auto engine = Engine::create();
  if (!engine.ok()) fail(3, "error", "engine: " + engine.error().to_string());
  return args.mode == "start" ? start(engine.value(), args) : finish(engine.value(), args);
}
