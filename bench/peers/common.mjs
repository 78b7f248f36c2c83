// What every Node-hosted peer of bench/compare_peers.py shares: serving samples, checking, versions.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

export const FIB = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }";

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** count samples of op(), in wall-clock nanoseconds. op may be async. */
async function measure(op, count) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    const done = op();
    if (done instanceof Promise) await done;
    samples.push(Number(process.hrtime.bigint() - start));
  }
  return samples;
}

/**
 * Serves compare_peers.py until its standard input closes: first a line {versions}, then for each
 * request line {workload, count, warmup} a line {samples: [ns, ...]}. Batches on request let
 * compare_peers.py alternate every side a few samples at a time, so that all of them see the same
 * machine (a shared VM's speed can change by half from one second to the next). `warmup` untimed
 * calls precede a workload's first batch only.
 */
export async function serve(workloads, versions) {
  const reply = (message) => process.stdout.write(JSON.stringify(message) + "\n");
  reply({ versions: { node: process.version, ...versions } });
  const warmed = new Set();
  for await (const line of createInterface({ input: process.stdin })) {
    const { workload, count, warmup } = JSON.parse(line);
    const op = workloads[workload];
    check(op !== undefined, `no workload named ${workload}`);
    if (!warmed.has(workload)) {
      for (let i = 0; i < warmup; i++) await op();
      warmed.add(workload);
    }
    reply({ samples: await measure(op, count) });
  }
}

/** The version of an installed package (package.json files are often not exported). */
export function installed(name) {
  return JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, import.meta.url))).version;
}
