// Errors about a setting say which one (Error::setting) and name it as to_string(Setting) spells
// it, so that a front end with its own names (the Python package's keyword arguments, the command
// line's flags) words the message in its vocabulary with Error::message_naming(), for every
// setting the library can refuse.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace std::chrono_literals;
using test_support::engine;
using test_support::make_sandbox;

struct RefusedSetting {
  Setting setting;
  std::function<std::optional<Error>()> attempt;
};

std::optional<Error> create_with(const std::function<void(SandboxOptions &)> &change) {
  SandboxOptions options;
  change(options);
  auto created = Sandbox::create(engine(), options);
  return created ? std::nullopt : std::optional<Error>(created.error());
}

std::vector<RefusedSetting> refusals() {
  return {
      {Setting::MemoryBytes, [] { return create_with([](SandboxOptions &o) { o.limits.memory_bytes = 1000; }); }},
      {Setting::CpuTime, [] { return create_with([](SandboxOptions &o) { o.limits.cpu_time = 0ms; }); }},
      {Setting::WallTime, [] { return create_with([](SandboxOptions &o) { o.limits.wall_time = -1ms; }); }},
      {Setting::StackBytes, [] { return create_with([](SandboxOptions &o) { o.limits.stack_bytes = 1; }); }},
      {Setting::ConsoleBytes, [] { return create_with([](SandboxOptions &o) { o.limits.console_bytes = 1ull << 31; }); }},
      {Setting::ResultBytes, [] { return create_with([](SandboxOptions &o) { o.limits.result_bytes = 1; }); }},
      {Setting::SourceBytes, [] { return create_with([](SandboxOptions &o) { o.limits.source_bytes = 0; }); }},
      {Setting::MaxDepth, [] { return create_with([](SandboxOptions &o) { o.limits.max_depth = 0; }); }},
      {Setting::HostMemoryBytes, [] { return create_with([](SandboxOptions &o) { o.limits.host_memory_bytes = 1; }); }},
      {Setting::MaxPendingCalls, [] { return create_with([](SandboxOptions &o) { o.limits.max_pending_calls = 0; }); }},
      {Setting::BigIntBytes, [] { return create_with([](SandboxOptions &o) { o.limits.bigint_bytes = 1; }); }},
      {Setting::ClockStartMs, [] { return create_with([](SandboxOptions &o) { o.clock = {.mode = Clock::Mode::Fixed, .start_ms = -1}; }); }},
      {Setting::ClockStepUs, [] { return create_with([](SandboxOptions &o) { o.clock = {.mode = Clock::Mode::Deterministic, .step_us = -1}; }); }},
      {Setting::EvalCpuTime,
       [] {
         Sandbox sandbox = make_sandbox();
         Result r = sandbox.eval("1", EvalOptions{.cpu_time = 0ms});
         return r.failed() ? std::optional<Error>(r.error()) : std::nullopt;
       }},
      {Setting::CallCpuTime,
       [] {
         Sandbox sandbox = make_sandbox();
         Result r = sandbox.call("f", {}, 0ms);
         return r.failed() ? std::optional<Error>(r.error()) : std::nullopt;
       }},
      {Setting::CallTimeout,
       [] {
         Sandbox sandbox = make_sandbox();
         Status s = sandbox.register_capability(Capability::external("ask", {.call_timeout = 0ms}));
         return s ? std::nullopt : std::optional<Error>(s.error());
       }},
      {Setting::AllowAllThreeLabels,
       [] {
         Sandbox sandbox = make_sandbox();
         for (uint8_t label : {kSensitiveData, kUntrustedInput, kExternalEffect}) {
           Status s = sandbox.register_capability(Capability::external("f" + std::to_string(label), {.labels = label}));
           if (!s) return std::optional<Error>(s.error());
         }
         return std::optional<Error>();
       }},
      {Setting::HmacKey,
       [] {
         Sandbox sandbox = make_sandbox();
         auto signed_state = sandbox.snapshot({.hmac_key = {1, 2, 3}});
         auto restored = Sandbox::restore(engine(), signed_state.value());
         return restored ? std::nullopt : std::optional<Error>(restored.error());
       }},
      {Setting::MaxSandboxes,
       [] {
         auto created = Engine::create({.max_sandboxes = 0});
         return created ? std::nullopt : std::optional<Error>(created.error());
       }},
      {Setting::MaxSandboxMemoryBytes,
       [] {
         auto created = Engine::create({.max_sandbox_memory_bytes = 1});
         return created ? std::nullopt : std::optional<Error>(created.error());
       }},
      {Setting::EpochTick,
       [] {
         auto created = Engine::create({.epoch_tick = 0ms});
         return created ? std::nullopt : std::optional<Error>(created.error());
       }},
  };
}

TEST(SettingErrors, EachRefusedSettingIsNamedSoAFrontEndCanNameItItsOwnWay) {
  for (const RefusedSetting &c : refusals()) {
    const std::string name(to_string(c.setting));
    std::optional<Error> error = c.attempt();
    ASSERT_TRUE(error) << name << " was accepted";
    EXPECT_EQ(error->kind, ErrorKind::InvalidInput) << name;
    EXPECT_EQ(error->setting, std::optional<Setting>(c.setting)) << error->message;
    EXPECT_NE(error->message.find(name), std::string::npos) << error->message;
    const std::string worded = error->message_naming("the_front_ends_name");
    EXPECT_NE(worded.find("the_front_ends_name"), std::string::npos) << worded;
    EXPECT_EQ(worded.find("::"), std::string::npos) << "C++ wording left in: " << worded;
  }
}

TEST(SettingErrors, AnErrorAboutNoSettingKeepsItsMessage) {
  Sandbox sandbox = make_sandbox();
  Result r = sandbox.eval("throw new TypeError('x::y')");
  ASSERT_TRUE(r.failed());
  EXPECT_FALSE(r.error().setting);
  EXPECT_EQ(r.error().message_naming("anything"), "x::y");
}

}  // namespace
}  // namespace quickbox
