// Specifications of ES modules (docs/modules.md): static and dynamic import through the host's
// ModuleLoader, the namespace as a result, cycles, the module limits, and hostile specifiers and
// loaders, each of which ends in a clear error while the sandbox stays usable.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "quickbox/quickbox.hh"
#include "support/sandbox.hh"

namespace quickbox {
namespace {

using namespace test_support;

/// An in-memory module store that counts what the sandbox asks of it.
struct Store {
  std::map<std::string, std::string> sources;
  std::vector<std::pair<std::string, std::string>> normalized;  ///< (base, specifier)
  std::vector<std::string> loaded;
};

/// A loader over a store: bare specifiers are names, "./x" is resolved against the importer's
/// directory, as a file system would.
ModuleLoader loader_of(const std::shared_ptr<Store> &store) {
  ModuleLoader loader;
  loader.normalize = [store](std::string_view base, std::string_view specifier) -> std::optional<std::string> {
    store->normalized.emplace_back(base, specifier);
    std::string spec(specifier);
    if (spec.rfind("./", 0) != 0) return spec;
    std::string dir(base.substr(0, base.rfind('/') == std::string_view::npos ? 0 : base.rfind('/') + 1));
    return dir + spec.substr(2);
  };
  loader.load = [store](std::string_view name) -> std::optional<std::string> {
    store->loaded.emplace_back(name);
    auto found = store->sources.find(std::string(name));
    if (found == store->sources.end()) return std::nullopt;
    return found->second;
  };
  return loader;
}

Sandbox sandbox_with(const std::shared_ptr<Store> &store, Limits limits = {}) {
  SandboxOptions options;
  options.limits = limits;
  options.modules = loader_of(store);
  return make_sandbox(options);
}

EvalOptions module_options(bool want_namespace = false, std::string filename = "main.js") {
  EvalOptions options;
  options.kind = EvalOptions::Kind::Module;
  options.module_namespace = want_namespace;
  options.filename = std::move(filename);
  return options;
}

bool contains(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

/// The sandbox still evaluates, and nothing was discarded.
void expect_usable(Sandbox &sandbox) {
  EXPECT_FALSE(sandbox.discarded());
  EXPECT_EQ(eval_ok(sandbox, "6 * 7"), Value(42));
}

// ---- Static and dynamic import ---------------------------------------------------------------------

TEST(Modules, AStaticImportLoadsThroughTheLoader) {
  auto store = std::make_shared<Store>();
  store->sources["math"] = "export const add = (a, b) => a + b;";
  Sandbox sandbox = sandbox_with(store);
  eval_ok(sandbox, "import { add } from 'math'; globalThis.sum = add(3, 4);", module_options());
  EXPECT_EQ(eval_ok(sandbox, "sum"), Value(7));
  EXPECT_EQ(store->loaded, std::vector<std::string>{"math"});
}

TEST(Modules, NormalizeSeesTheImportersNameAndTheSpecifier) {
  auto store = std::make_shared<Store>();
  store->sources["app/pkg/main.js"] = "import { greet } from './util.js'; export const msg = greet('world');";
  store->sources["app/pkg/util.js"] = "export const greet = (n) => `hi ${n}`;";
  Sandbox sandbox = sandbox_with(store);
  Value ns = eval_ok(sandbox, "export { msg } from './pkg/main.js';", module_options(true, "app/entry.js"));
  EXPECT_EQ(ns, Value(Value::Object{{"msg", "hi world"}}));
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(store->normalized, (std::vector<Pair>{{"app/entry.js", "./pkg/main.js"}, {"app/pkg/main.js", "./util.js"}}));
  EXPECT_EQ(store->loaded, (std::vector<std::string>{"app/pkg/main.js", "app/pkg/util.js"}));
}

TEST(Modules, WithoutNormalizeTheSpecifierIsTheName) {
  auto store = std::make_shared<Store>();
  store->sources["./only"] = "export const v = 99;";
  SandboxOptions options;
  options.modules.load = loader_of(store).load;
  Sandbox sandbox = make_sandbox(options);
  EXPECT_EQ(eval_ok(sandbox, "export { v } from './only';", module_options(true)), Value(Value::Object{{"v", 99}}));
}

TEST(Modules, TheNamespaceIsTheResultOnlyWhenAskedFor) {
  auto store = std::make_shared<Store>();
  Sandbox sandbox = sandbox_with(store);
  const char *source = "export const a = 1; export let b = await Promise.resolve('two'); export default [3];";
  EXPECT_EQ(eval_ok(sandbox, source, module_options(false)), Value());
  EXPECT_EQ(eval_ok(sandbox, source, module_options(true)),
            Value(Value::Object{{"a", 1}, {"b", "two"}, {"default", Value(Value::Array{3})}}));
  // A namespace holding a function cannot cross, as any function cannot.
  Error e = eval_error(sandbox, "export function f() {}", module_options(true));
  EXPECT_EQ(e.name, "TypeError");
  EXPECT_TRUE(contains(e.message, "function")) << e.message;
}

TEST(Modules, DynamicImportWorksInScriptsAndModules) {
  auto store = std::make_shared<Store>();
  store->sources["lib"] = "export const v = 5; export default 'dflt';";
  Sandbox sandbox = sandbox_with(store);
  EXPECT_EQ(eval_ok(sandbox, "const m = await import('lib'); [m.v, m.default]"), Value(Value::Array{5, "dflt"}));
  EXPECT_EQ(eval_ok(sandbox, "const { v } = await import('lib'); export const twice = v * 2;", module_options(true)),
            Value(Value::Object{{"twice", 10}}));
  EXPECT_EQ(store->loaded, std::vector<std::string>{"lib"}) << "the module is loaded once per sandbox";
}

TEST(Modules, ALoaderAnsweringTheSameNameKeepsOneRecord) {
  auto store = std::make_shared<Store>();
  store->sources["counter"] = "export let count = 0; export const bump = () => ++count; export const box = {};";
  SandboxOptions options;
  options.modules = loader_of(store);
  options.modules.normalize = [](std::string_view, std::string_view) -> std::optional<std::string> {
    return "counter";  // every specifier means the one module
  };
  Sandbox sandbox = make_sandbox(options);
  eval_ok(sandbox,
          "import { bump, box } from './a'; import * as other from '../b/c'; bump(); bump();"
          "const again = await import('anything'); globalThis.seen = [other.count, again.box === box];",
          module_options());
  EXPECT_EQ(eval_ok(sandbox, "seen"), Value(Value::Array{2, true}));
  EXPECT_EQ(store->loaded, std::vector<std::string>{"counter"});
}

TEST(Modules, ASyntaxErrorInAnImportedModuleNamesThatModule) {
  auto store = std::make_shared<Store>();
  store->sources["broken.js"] = "export const = ;";
  Sandbox sandbox = sandbox_with(store);
  Error e = eval_error(sandbox, "import 'broken.js';", module_options());
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.name, "SyntaxError");
  EXPECT_TRUE(contains(e.stack, "broken.js")) << e.stack;
  expect_usable(sandbox);
}

// ---- Cycles --------------------------------------------------------------------------------------------

TEST(Modules, CyclicImportsFollowESSemantics) {
  auto store = std::make_shared<Store>();
  // even/odd import each other; hoisted functions work across the cycle.
  store->sources["even"] = "import { odd } from 'odd'; export function even(n) { return n === 0 ? true : odd(n - 1); }";
  store->sources["odd"] = "import { even } from 'even'; export function odd(n) { return n === 0 ? false : even(n - 1); }";
  Sandbox sandbox = sandbox_with(store);
  eval_ok(sandbox, "import { even } from 'even'; globalThis.r = [even(10), even(7)];", module_options());
  EXPECT_EQ(eval_ok(sandbox, "r"), Value(Value::Array{true, false}));
  EXPECT_EQ(store->loaded, (std::vector<std::string>{"even", "odd"}));
}

TEST(Modules, ReadingABindingOfACycleBeforeItIsInitialisedIsAReferenceError) {
  auto store = std::make_shared<Store>();
  store->sources["a"] = "import { b } from 'b'; export const a = 'A' + b;";
  store->sources["b"] = "import { a } from 'a'; export const b = 'B' + a;";  // a is not initialised yet
  Sandbox sandbox = sandbox_with(store);
  Error e = eval_error(sandbox, "import { a } from 'a';", module_options());
  EXPECT_EQ(e.name, "ReferenceError");
  EXPECT_TRUE(contains(e.message, "a")) << e.message;
  expect_usable(sandbox);
}

TEST(Modules, AModuleMayImportItself) {
  auto store = std::make_shared<Store>();
  store->sources["self"] = "import * as me from 'self'; export const x = 1; export const y = me.x + 1;";
  Sandbox sandbox = sandbox_with(store);
  EXPECT_EQ(eval_ok(sandbox, "export { x, y } from 'self';", module_options(true)),
            Value(Value::Object{{"x", 1}, {"y", 2}}));
  EXPECT_EQ(store->loaded, std::vector<std::string>{"self"});
}

// ---- Failing loaders ---------------------------------------------------------------------------------

TEST(Modules, WithoutALoaderEveryImportFailsClearly) {
  Sandbox sandbox = make_sandbox();
  Error e = eval_error(sandbox, "import { x } from 'anything';", module_options());
  EXPECT_EQ(e.kind, ErrorKind::JSException);
  EXPECT_EQ(e.message, "cannot import 'anything': no module loader is set for this sandbox");
  Error dynamic = eval_error(sandbox, "await import('anything')");
  EXPECT_EQ(dynamic.message, "cannot import 'anything': no module loader is set for this sandbox");
  expect_usable(sandbox);
}

TEST(Modules, AMissingModuleAndAnUnresolvableSpecifierSaySo) {
  auto store = std::make_shared<Store>();
  SandboxOptions options;
  options.modules = loader_of(store);
  Sandbox missing = make_sandbox(options);
  EXPECT_EQ(eval_error(missing, "import 'nowhere';", module_options()).message, "cannot find module 'nowhere'");
  options.modules.normalize = [](std::string_view, std::string_view) { return std::optional<std::string>(); };
  Sandbox refused = make_sandbox(options);
  EXPECT_EQ(eval_error(refused, "import '../secret';", module_options()).message,
            "cannot resolve module '../secret' imported by 'main.js'");
  // Caught in JS like any error: the program decides.
  EXPECT_EQ(eval_ok(refused, "try { await import('x') } catch (e) { e.message }"),
            Value("cannot resolve module 'x' imported by '<eval>'"));
  expect_usable(refused);
}

TEST(Modules, ALoaderThrowingReachesJSAsItsErrorOrAsAPlainFailure) {
  SandboxOptions options;
  options.modules.load = [](std::string_view name) -> std::optional<std::string> {
    if (name == "denied") throw CapabilityError("'denied' is not allowed here", "TypeError");
    throw std::runtime_error("database password is hunter2");
  };
  Sandbox sandbox = make_sandbox(options);
  Error denied = eval_error(sandbox, "import 'denied';", module_options());
  EXPECT_EQ(denied.name, "TypeError");
  EXPECT_EQ(denied.message, "'denied' is not allowed here");
  Error other = eval_error(sandbox, "import 'other';", module_options());
  EXPECT_EQ(other.message, "the module loader failed on 'other'");
  EXPECT_FALSE(contains(other.message + other.stack, "hunter2")) << "the host's exception text stays on the host";
  expect_usable(sandbox);
}

TEST(Modules, ALoaderAnsweringBadTextIsRefused) {
  SandboxOptions options;
  options.modules.load = [](std::string_view) -> std::optional<std::string> { return std::string("export const s = '\xff';"); };
  options.modules.normalize = [](std::string_view, std::string_view spec) -> std::optional<std::string> {
    if (spec == "nul") return std::string("a\0b", 3);
    if (spec == "empty") return std::string();
    return std::string(spec);
  };
  Sandbox sandbox = make_sandbox(options);
  Error utf8 = eval_error(sandbox, "import 'x';", module_options());
  EXPECT_EQ(utf8.name, "TypeError");
  EXPECT_EQ(utf8.message, "the module loader answered 'x' with text that is not valid UTF-8");
  for (const char *spec : {"nul", "empty"}) {
    Error e = eval_error(sandbox, std::string("import '") + spec + "';", module_options());
    EXPECT_EQ(e.name, "TypeError") << spec;
    EXPECT_TRUE(contains(e.message, "empty or holds a NUL character")) << e.message;
  }
  expect_usable(sandbox);
}

TEST(Modules, AFailedGraphLeavesNoBrokenRecordsBehind) {
  auto store = std::make_shared<Store>();
  // c1 and c2 form a cycle; c1 also imports a module that does not exist.
  store->sources["c1"] = "import { two } from 'c2'; import 'missing'; export const one = 1;";
  store->sources["c2"] = "import { one } from 'c1'; export const two = 2;";
  store->sources["chain"] = "import 'c1'; export const chained = true;";
  Sandbox sandbox = sandbox_with(store);
  EXPECT_EQ(eval_error(sandbox, "import 'c1';", module_options()).message, "cannot find module 'missing'");
  // Every later way into the broken graph fails cleanly, and nothing reads a freed record.
  for (const char *again : {"import 'c1';", "import 'c2';", "import 'chain';", "import { two } from 'c2';"}) {
    Result r = sandbox.eval(again, module_options());
    ASSERT_TRUE(r.failed()) << again << " -> " << describe(r);
    EXPECT_EQ(r.error().kind, ErrorKind::JSException) << again << " -> " << describe(r);
    expect_usable(sandbox);
  }
  Result dynamic = sandbox.eval("try { await import('c2'); 'loaded' } catch (e) { e.name }");
  ASSERT_TRUE(dynamic.ok()) << describe(dynamic);
  expect_usable(sandbox);
}

// ---- Hostile specifiers ------------------------------------------------------------------------------

TEST(Modules, AHugeSpecifierIsRefusedBeforeTheLoaderSeesIt) {
  auto store = std::make_shared<Store>();
  Sandbox sandbox = sandbox_with(store);
  Error e = eval_error(sandbox, "await import('a'.repeat(1000000))");
  EXPECT_EQ(e.name, "RangeError");
  EXPECT_TRUE(contains(e.message, "is 1000000 bytes, more than the limit of 4096 bytes")) << e.message;
  EXPECT_LT(e.message.size(), 200u) << "the message quotes only the start of the specifier";
  Error static_import = eval_error(sandbox, "import '" + std::string(5000, 'b') + "';", module_options());
  EXPECT_EQ(static_import.name, "RangeError");
  EXPECT_TRUE(store->normalized.empty() && store->loaded.empty());
  expect_usable(sandbox);
}

TEST(Modules, ASpecifierWithANulCharacterIsRefused) {
  auto store = std::make_shared<Store>();
  store->sources["a"] = "export const v = 'the wrong module';";
  Sandbox sandbox = sandbox_with(store);
  Error dynamic = eval_error(sandbox, "await import('a\\0b')");
  EXPECT_EQ(dynamic.name, "TypeError");
  EXPECT_EQ(dynamic.message, "an import specifier cannot contain a NUL character");
  Error static_import = eval_error(sandbox, "import { v } from 'a\\u0000b';", module_options());
  EXPECT_EQ(static_import.message, "an import specifier cannot contain a NUL character");
  EXPECT_TRUE(store->loaded.empty()) << "'a\\0b' must never become 'a'";
  expect_usable(sandbox);
}

TEST(Modules, ALoneSurrogateInASpecifierReachesTheLoaderAsReplacementCharacter) {
  auto store = std::make_shared<Store>();
  Sandbox sandbox = sandbox_with(store);
  eval_error(sandbox, "await import('x\\uD800')");
  ASSERT_EQ(store->normalized.size(), 1u);
  EXPECT_EQ(store->normalized[0].second, "x\xEF\xBF\xBD");
  expect_usable(sandbox);
}

// ---- Limits ---------------------------------------------------------------------------------------------

/// A chain m0 -> m1 -> ... -> m<n-1>, each exporting its depth.
std::shared_ptr<Store> chain_of(int n) {
  auto store = std::make_shared<Store>();
  for (int i = 0; i < n; i++)
    store->sources["m" + std::to_string(i)] =
        i + 1 < n ? "export { depth } from 'm" + std::to_string(i + 1) + "';" : "export const depth = " + std::to_string(n) + ";";
  return store;
}

TEST(Modules, TheModuleLimitEndsAnImportWithAnErrorNamingIt) {
  Limits limits;
  limits.max_modules = 5;
  Sandbox sandbox = sandbox_with(chain_of(10), limits);
  Error e = eval_error(sandbox, "import 'm0';", module_options());
  EXPECT_EQ(e.name, "RangeError");
  EXPECT_EQ(e.message, "module limit exceeded: this sandbox may load 5 modules, so 'm5' cannot be loaded");
  expect_usable(sandbox);
  // The limit counts over the sandbox's life, and a reset starts it again.
  EXPECT_TRUE(contains(eval_error(sandbox, "await import('m9')").message, "module limit exceeded"));
  ASSERT_TRUE(sandbox.reset().ok());
  EXPECT_EQ(eval_ok(sandbox, "(await import('m9')).depth"), Value(10));
}

TEST(Modules, TheModuleSourceLimitEndsAnImportWithAnErrorNamingIt) {
  auto store = std::make_shared<Store>();
  store->sources["small"] = "export const s = '" + std::string(50, 's') + "';";
  store->sources["second"] = "export const t = '" + std::string(50, 't') + "';";
  store->sources["huge"] = "export const h = '" + std::string(1000, 'h') + "';";
  Limits limits;
  limits.module_source_bytes = 100;
  Sandbox sandbox = sandbox_with(store, limits);
  Error huge = eval_error(sandbox, "import 'huge';", module_options());
  EXPECT_EQ(huge.name, "RangeError");
  EXPECT_EQ(huge.message, "module source limit exceeded: 'huge' is 1020 bytes, more than the limit of 100 bytes");
  EXPECT_EQ(eval_ok(sandbox, "(await import('small')).s.length"), Value(50));
  Error second = eval_error(sandbox, "await import('second')");
  EXPECT_EQ(second.name, "RangeError");
  EXPECT_EQ(second.message,
            "module source limit exceeded: this sandbox may load 100 bytes of module source, and 'second' does not "
            "fit in the 30 bytes left");
  expect_usable(sandbox);
}

TEST(Modules, ModuleLimitsAreValidated) {
  SandboxOptions options;
  options.limits.max_modules = 0;
  auto none = Sandbox::create(engine(), options);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().setting, Setting::MaxModules);
  EXPECT_TRUE(contains(none.error().message, "Limits::max_modules must be between 1 and 1000000")) << none.error().message;
  options.limits.max_modules = 10;
  options.limits.module_source_bytes = 2ull << 30;
  auto huge = Sandbox::create(engine(), options);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().setting, Setting::ModuleSourceBytes);
}

TEST(Modules, ATenThousandModuleGraphEndsInTheModuleLimitByDefault) {
  auto store = std::make_shared<Store>();
  std::string entry;
  for (int i = 0; i < 10000; i++) {
    store->sources["w" + std::to_string(i)] = "export default " + std::to_string(i) + ";";
    entry += "import w" + std::to_string(i) + " from 'w" + std::to_string(i) + "';\n";
  }
  Sandbox sandbox = sandbox_with(store);
  Error e = eval_error(sandbox, entry, module_options());
  EXPECT_EQ(e.message, "module limit exceeded: this sandbox may load 1000 modules, so 'w1000' cannot be loaded");
  expect_usable(sandbox);
}

TEST(Modules, AChainOfImportsTooDeepForTheStackIsAStackOverflow) {
  // Each level of a chain is resolved inside the previous one's compilation (QuickJS resolves
  // imports recursively), so depth is bounded by the JS stack well before the module limit.
  Sandbox sandbox = sandbox_with(chain_of(10000));
  Error e = eval_error(sandbox, "import { depth } from 'm0';", module_options());
  EXPECT_EQ(e.kind, ErrorKind::StackOverflow) << e.message;
  expect_usable(sandbox);
  EXPECT_EQ(eval_ok(sandbox, "export { depth } from 'm9990';", module_options(true)), Value(Value::Object{{"depth", 10000}}))
      << "the end of the chain still loads";
}

TEST(Modules, ATenThousandModuleChainUnderARaisedLimitLoadsOrOverflowsTheStackCleanly) {
  Limits limits;
  limits.max_modules = 20000;
  Sandbox sandbox = sandbox_with(chain_of(10000), limits);
  Result r = sandbox.eval("export { depth } from 'm0';", module_options(true));
  if (r.ok()) {
    EXPECT_EQ(r.value(), Value(Value::Object{{"depth", 10000}}));
  } else {
    ASSERT_TRUE(r.failed()) << describe(r);
    EXPECT_EQ(r.error().kind, ErrorKind::StackOverflow) << describe(r);
  }
  expect_usable(sandbox);
}

TEST(Modules, ATenThousandModuleWideGraphLoadsUnderARaisedLimit) {
  auto store = std::make_shared<Store>();
  std::string entry;
  for (int i = 0; i < 10000; i++) {
    store->sources["w" + std::to_string(i)] = "export default " + std::to_string(i) + ";";
    entry += "import w" + std::to_string(i) + " from 'w" + std::to_string(i) + "';\n";
  }
  entry += "let sum = 0;\n";
  for (int i = 0; i < 10000; i += 1000) entry += "sum += w" + std::to_string(i) + ";\n";
  entry += "export { sum };";
  Limits limits;
  limits.max_modules = 10000;
  Sandbox sandbox = sandbox_with(store, limits);
  EXPECT_EQ(eval_ok(sandbox, entry, module_options(true)), Value(Value::Object{{"sum", 45000}}));
  EXPECT_EQ(store->loaded.size(), 10000u);
}

// ---- Suspension and snapshots ----------------------------------------------------------------------

TEST(Modules, AProgramSuspendedInsideAnImportedModuleResumesAfterASnapshot) {
  auto store = std::make_shared<Store>();
  store->sources["lib"] = "export const answer = await ask('ok?'); export const late = (await import('late')).v;";
  store->sources["late"] = "export const v = 'loaded after the restore';";
  Sandbox sandbox = sandbox_with(store);
  ASSERT_TRUE(sandbox.register_capability(Capability::external("ask")).ok());
  Result r = sandbox.eval("import { answer, late } from 'lib'; export const result = [answer, late];",
                          module_options(true));
  ASSERT_TRUE(r.is_suspended()) << describe(r);
  auto bytes = sandbox.snapshot();
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  EXPECT_EQ(store->loaded, std::vector<std::string>{"lib"});

  SandboxOptions options;
  options.modules = loader_of(store);
  auto restored = Sandbox::restore(engine(), bytes.value(), options);
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  Sandbox &again = restored.value();
  ASSERT_TRUE(again.register_capability(Capability::external("ask")).ok());
  ASSERT_EQ(again.pending_calls().size(), 1u);
  ASSERT_TRUE(again.resolve(again.pending_calls()[0].call_id, "yes").ok());
  Result done = again.resume();
  ASSERT_TRUE(done.ok()) << describe(done);
  EXPECT_EQ(done.value(), Value(Value::Object{{"result", Value(Value::Array{"yes", "loaded after the restore"})}}));
  EXPECT_EQ(store->loaded, (std::vector<std::string>{"lib", "late"})) << "lib's record came with the snapshot";
}

TEST(Modules, TheModuleCountTravelsWithASnapshot) {
  Limits limits;
  limits.max_modules = 3;
  auto store = chain_of(3);
  store->sources["extra"] = "export default 1;";
  Sandbox sandbox = sandbox_with(store, limits);
  eval_ok(sandbox, "import 'm0';", module_options());
  auto bytes = sandbox.snapshot();
  ASSERT_TRUE(bytes.ok());
  SandboxOptions options;
  options.limits = limits;
  options.modules = loader_of(store);
  Sandbox restored = Sandbox::restore(engine(), bytes.value(), options).unwrap();
  EXPECT_TRUE(contains(eval_error(restored, "await import('extra')").message, "module limit exceeded"));
  EXPECT_EQ(eval_ok(restored, "(await import('m2')).depth"), Value(3)) << "loaded modules stay importable";
}

}  // namespace
}  // namespace quickbox
