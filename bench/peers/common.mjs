// What every Node-hosted peer of bench/compare_peers.py shares: sampling, checking, reporting.
import { readFileSync } from "node:fs";

export const FIB = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }";

/** The sample counts per workload, from the command line (a JSON object). */
export const iterations = JSON.parse(process.argv[2]);

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Samples of op() after a few untimed calls, in wall-clock nanoseconds. op may be async. */
export async function measure(op, count) {
  for (let i = 0; i < Math.min(10, count); i++) await op();
  const samples = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    const done = op();
    if (done instanceof Promise) await done;
    samples.push(Number(process.hrtime.bigint() - start));
  }
  return samples;
}

/** Runs each requested workload and prints {versions, samples: {workload: [ns, ...]}}. */
export async function run(workloads, versions) {
  const samples = {};
  for (const [name, count] of Object.entries(iterations)) samples[name] = await measure(workloads[name], count);
  process.stdout.write(JSON.stringify({ versions: { node: process.version, ...versions }, samples }) + "\n");
}

/** The version of an installed package (package.json files are often not exported). */
export function installed(name) {
  return JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, import.meta.url))).version;
}
