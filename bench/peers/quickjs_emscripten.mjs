// A Node-hosted peer of bench/compare_peers.py: quickjs-emscripten (quickjs-ng compiled by
// emscripten, run by V8's wasm engine). compare_peers.py starts it and asks for samples on its
// standard input (common.mjs, serve).
import { newQuickJSWASMModuleFromVariant } from "quickjs-emscripten-core";
import variant from "@jitl/quickjs-ng-wasmfile-release-sync";
import { FIB, check, installed, serve } from "./common.mjs";

const QuickJS = await newQuickJSWASMModuleFromVariant(variant);
const runtime = QuickJS.newRuntime();

function evalNumber(ctx, code) {
  const handle = ctx.unwrapResult(ctx.evalCode(code));
  const value = ctx.getNumber(handle);
  handle.dispose();
  return value;
}

const ctx = runtime.newContext();
const add = ctx.newFunction("add", (a, b) => ctx.newNumber(ctx.getNumber(a) + ctx.getNumber(b)));
ctx.setProp(ctx.global, "add", add);
add.dispose();
evalNumber(ctx, FIB + "; 0");
check(evalNumber(ctx, "1+2") === 3, "1+2");
check(evalNumber(ctx, "add(1, 2)") === 3, "add(1, 2)");

await serve(
  {
    context_create: () => runtime.newContext().dispose(),
    eval: () => evalNumber(ctx, "1+2"),
    host_call_sync: () => evalNumber(ctx, "add(1, 2)"),
    fib_30: () => check(evalNumber(ctx, "fib(30)") === 832040, "fib(30)"),
  },
  {
    "quickjs-emscripten-core": installed("quickjs-emscripten-core"),
    "@jitl/quickjs-ng-wasmfile-release-sync": installed("@jitl/quickjs-ng-wasmfile-release-sync"),
  },
);
ctx.dispose();
runtime.dispose();
