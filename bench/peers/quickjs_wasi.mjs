// A Node-hosted peer of bench/compare_peers.py: quickjs-wasi (quickjs-ng compiled to WASI, run by
// V8's wasm engine; one VM is one wasm instance, so its "context" is a new VM from the compiled
// module). compare_peers.py starts it and asks for samples on its standard input (common.mjs,
// serve).
import { readFileSync } from "node:fs";
import { QuickJS } from "quickjs-wasi";
import { FIB, check, installed, serve } from "./common.mjs";

const wasm = new WebAssembly.Module(readFileSync(new URL(import.meta.resolve("quickjs-wasi/quickjs.wasm"))));
const vm = await QuickJS.create({ wasm });

function evalNumber(code) {
  const handle = vm.evalCode(code);
  const value = handle.toNumber();
  handle.dispose();
  return value;
}

const add = vm.newFunction("add", (a, b) => vm.newNumber(a.toNumber() + b.toNumber()));
vm.setProp(vm.global, "add", add);
add.dispose();
evalNumber(FIB + "; 0");
check(evalNumber("1+2") === 3, "1+2");
check(evalNumber("add(1, 2)") === 3, "add(1, 2)");

await serve(
  {
    context_create: async () => (await QuickJS.create({ wasm })).dispose(),
    eval: () => evalNumber("1+2"),
    host_call_sync: () => evalNumber("add(1, 2)"),
    fib_30: () => check(evalNumber("fib(30)") === 832040, "fib(30)"),
  },
  { "quickjs-wasi": installed("quickjs-wasi") },
);
vm.dispose();
