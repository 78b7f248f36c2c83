// The Node-hosted peer of bench/compare_peers.py: the same workloads on quickjs-emscripten
// (quickjs-ng compiled by emscripten, run by V8's wasm engine). Usage:
//   node quickjs_emscripten.mjs ITERATIONS_JSON
// where ITERATIONS_JSON maps each workload name to its sample count. Prints one JSON object:
// {versions, samples: {workload: [wall ns, ...]}}.
import { readFileSync } from "node:fs";
import { newQuickJSWASMModuleFromVariant } from "quickjs-emscripten-core";
import variant from "@jitl/quickjs-ng-wasmfile-release-sync";

const iterations = JSON.parse(process.argv[2]);
const FIB = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }";

const QuickJS = await newQuickJSWASMModuleFromVariant(variant);
const runtime = QuickJS.newRuntime();

function evalNumber(ctx, code) {
  const handle = ctx.unwrapResult(ctx.evalCode(code));
  const value = ctx.getNumber(handle);
  handle.dispose();
  return value;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Samples of op() after a few untimed calls, in wall-clock nanoseconds.
function measure(op, count) {
  for (let i = 0; i < Math.min(10, count); i++) op();
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    op();
    samples.push(Number(process.hrtime.bigint() - start));
  }
  return samples;
}

const ctx = runtime.newContext();
const add = ctx.newFunction("add", (a, b) => ctx.newNumber(ctx.getNumber(a) + ctx.getNumber(b)));
ctx.setProp(ctx.global, "add", add);
add.dispose();
evalNumber(ctx, FIB + "; 0");
check(evalNumber(ctx, "1+2") === 3, "1+2");
check(evalNumber(ctx, "add(1, 2)") === 3, "add(1, 2)");

const workloads = {
  context_create: () => runtime.newContext().dispose(),
  eval: () => evalNumber(ctx, "1+2"),
  host_call_sync: () => evalNumber(ctx, "add(1, 2)"),
  fib_30: () => check(evalNumber(ctx, "fib(30)") === 832040, "fib(30)"),
};
const samples = {};
for (const [name, count] of Object.entries(iterations)) samples[name] = measure(workloads[name], count);
ctx.dispose();
runtime.dispose();

// Their package.json files are not exported, so they are read from node_modules beside this file.
const installed = (name) =>
  JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, import.meta.url))).version;
const versions = {
  node: process.version,
  "quickjs-emscripten-core": installed("quickjs-emscripten-core"),
  "@jitl/quickjs-ng-wasmfile-release-sync": installed("@jitl/quickjs-ng-wasmfile-release-sync"),
};
process.stdout.write(JSON.stringify({ versions, samples }) + "\n");
