// A Node-hosted peer of bench/compare_peers.py: isolated-vm (a separate V8 isolate in the Node
// process: V8's JIT, not an interpreter in wasm). compare_peers.py starts it and asks for samples on
// its standard input (common.mjs, serve).
import ivm from "isolated-vm";
import { FIB, check, installed, serve } from "./common.mjs";

const isolate = new ivm.Isolate({ memoryLimit: 128 });
const context = isolate.createContextSync();
context.global.setSync("add", new ivm.Callback((a, b) => a + b));
context.evalSync(FIB);
check(context.evalSync("1+2") === 3, "1+2");
check(context.evalSync("add(1, 2)") === 3, "add(1, 2)");

await serve(
  {
    context_create: () => isolate.createContextSync().release(),
    eval: () => context.evalSync("1+2"),
    host_call_sync: () => context.evalSync("add(1, 2)"),
    fib_30: () => check(context.evalSync("fib(30)") === 832040, "fib(30)"),
  },
  { "isolated-vm": installed("isolated-vm") },
);
context.release();
isolate.dispose();
