#!/usr/bin/env python3
"""Quickbox's Python package vs. the Node-hosted peers, paired in one invocation.

    build/venv/bin/python bench/compare_peers.py [--quick] [--rounds N] [--peer NAME]... [--json FILE]

The peers, each a Node worker in bench/peers that runs the same workloads:
- quickjs-emscripten and quickjs-wasi: quickjs-ng (the interpreter Quickbox runs) compiled to
  wasm and run by V8's wasm engine;
- isolated-vm: a V8 isolate inside the Node process, so V8's JIT rather than an interpreter.

They are installed by `npm ci` from bench/peers/package-lock.json (exact versions, integrity
hashes) into the cache outside the clone (~/.cache/quickbox/bench-peers-HASH); isolated-vm is a
native addon, built there once by the locked node-gyp against the headers Node ships with. Each
round runs every peer and the same workloads on quickbox in this process, in alternating order,
and pools the samples; the table gives wall-clock medians and each ratio peer / quickbox (above
1: quickbox is faster). Wall time, because Node's CPU clock is the whole process's; the
alternation makes all sides see the same load, and the load average is printed.

The Python eval round trip may cost at most 1.5x the C++ library's, a sync host call at most 2x.
The library is timed in this process (`_quickbox._LibraryTimer`: its own eval on a sandbox made
as quickbox-bench makes one), in batches alternating with the Python samples, so both sides see
the same machine; on a shared VM the speed of everything can change by half from one second to
the next, which two processes run apart cannot pair. The target is judged on loops: each sample is
the mean of CALLS_PER_SAMPLE calls made back to back, timed together on both sides (the Python
loop is `timeit`'s), so neither side's figure carries the cost of reading its clock. Timing each
call alone, as the peer table does, charges the Python side about 50 ns more than the C++ side
(a `perf_counter_ns` call and the sample's lambda); that ratio is printed beside it. Each round
also runs build/quickbox-bench itself (the `eval 1+2` and `sync call, single` workloads, wall
time) for reference. The C++ host call is an eval of `noop(1)` (a C++ capability), the Python one
of `add(1, 2)` (a Python function).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import timeit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "bench" / "peers"
CACHE = Path(os.environ.get("QUICKBOX_CACHE_DIR") or
             Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quickbox")
FIB_JS = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }"

# peer name: its worker in bench/peers
PEERS = {
    "quickjs-emscripten": "quickjs_emscripten.mjs",
    "quickjs-wasi": "quickjs_wasi.mjs",
    "isolated-vm": "isolated_vm.mjs",
}
WORKER_FILES = ["common.mjs", *PEERS.values()]

# The peers each workload's "faster than every peer" is judged against, where not all of them: fib
# against the interpreters only (isolated-vm compiles it with V8's JIT, another kind of engine).
TARGET_PEERS = {"fib_30": ("quickjs-emscripten", "quickjs-wasi")}

BENCH = ROOT / "build" / "quickbox-bench"
# Python workload: (the Python statement, run in a loop; what the library evaluates for it, timed in
# this process by _LibraryTimer; the quickbox-bench workload that times the same, run apart; the
# most Python may cost relative to the library)
CPP_TARGETS = {"eval": ("ctx.eval('1+2')", "1+2", "eval 1+2", 1.5),
               "host_call_sync": ("ctx.eval('add(1, 2)')", "noop(1)", "sync call, single", 2.0)}
# How many alternating batches a paired workload's samples are taken in
PAIRED_BATCHES = 10
# How many calls one sample of a loop times (its figure is their mean)
CALLS_PER_SAMPLE = 100

# name: (description, samples per round, samples per round with --quick)
WORKLOADS = {
    "context_create": ("new context + close", 300, 30),
    "eval": ("eval `1+2`", 3000, 300),
    "host_call_sync": ("eval `add(1, 2)`, add a host function", 3000, 300),
    "fib_30": ("eval `fib(30)`", 3, 1),
}


def install_peers() -> tuple[Path, dict[str, str]]:
    """npm ci into the cache (a new directory whenever the lock changes), then builds isolated-vm.

    Returns the directory and the peers that cannot run here, each with the reason."""
    lock = (PEERS_DIR / "package-lock.json").read_bytes()
    install = CACHE / f"bench-peers-{hashlib.sha256(lock).hexdigest()[:12]}"
    installed, addon = install / ".installed", install / ".isolated-vm-built"
    if not installed.exists():
        install.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(PEERS_DIR / name, install / name)
        print(f"installing the peers from bench/peers/package-lock.json into {install} ...", file=sys.stderr)
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=install,
                       check=True, stdout=subprocess.DEVNULL)
        installed.touch()
    unavailable: dict[str, str] = {}
    if not addon.exists():
        # Node's headers come with Node (PREFIX/include/node); node-gyp would otherwise download them.
        node_prefix = Path(shutil.which("node") or "node").resolve().parent.parent
        print(f"building isolated-vm with node-gyp against {node_prefix}/include/node ...", file=sys.stderr)
        built = subprocess.run(
            ["node", str(install / "node_modules" / "node-gyp" / "bin" / "node-gyp.js"), "rebuild", "--release",
             f"--jobs={os.cpu_count() or 1}", f"--nodedir={node_prefix}"],
            cwd=install / "node_modules" / "isolated-vm", capture_output=True, text=True)
        if built.returncode == 0:
            addon.touch()
        else:
            last = (built.stderr.strip().splitlines() or ["no output"])[-1]
            unavailable["isolated-vm"] = f"node-gyp could not build it ({last})"
    for name in WORKER_FILES:
        shutil.copy2(PEERS_DIR / name, install / name)
    return install, unavailable


def run_peer(install: Path, peer: str, counts: dict[str, int]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    done = subprocess.run(["node", str(install / PEERS[peer]), json.dumps(counts)],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"the {peer} worker failed:\n{done.stderr}")
    report = json.loads(done.stdout)
    return report["versions"], report["samples"]


def run_cpp(quick: bool) -> dict[str, float]:
    """The medians (ns) of the C++ workloads in CPP_TARGETS, from one run of quickbox-bench."""
    out = ROOT / "build" / "compare_peers_cpp.json"
    command = [str(BENCH), "--json", str(out)] + (["--quick"] if quick else [])
    for _, _, bench_name, _ in CPP_TARGETS.values():
        command += ["--only", bench_name]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=600)
    rows = {row["name"]: row for row in json.loads(out.read_text())["workloads"]}
    return {name: rows[bench_name]["quickbox"]["median_ns"] for name, (_, _, bench_name, _) in CPP_TARGETS.items()}


def measure(op: Callable[[], Any], count: int) -> list[int]:
    for _ in range(min(10, count)):
        op()
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        op()
        samples.append(time.perf_counter_ns() - start)
    return samples


def measure_loops(statement: str, namespace: dict[str, Any], count: int) -> list[float]:
    """count samples (ns) of statement, each the mean of CALLS_PER_SAMPLE runs in timeit's loop
    (garbage collection left as the program has it)."""
    timer = timeit.Timer(statement, setup="gc.enable()", globals={**namespace, "gc": gc},
                         timer=time.perf_counter_ns)
    timer.timeit(10)
    return [total / CALLS_PER_SAMPLE for total in timer.repeat(repeat=count, number=CALLS_PER_SAMPLE)]


@dataclass
class Paired:
    """A CPP_TARGETS workload's samples (ns) from one process, in batches alternating between
    Python and the library: each call timed alone, and loops (CALLS_PER_SAMPLE calls a sample)."""
    python_calls: list[float] = field(default_factory=list)
    library_calls: list[float] = field(default_factory=list)
    python_loops: list[float] = field(default_factory=list)
    library_loops: list[float] = field(default_factory=list)

    def extend(self, other: Paired) -> None:
        for name in ("python_calls", "library_calls", "python_loops", "library_loops"):
            getattr(self, name).extend(getattr(other, name))


def run_quickbox(counts: dict[str, int]) -> tuple[dict[str, list[int]], dict[str, Paired]]:
    """The Python package's samples of each workload, and the pairings of the CPP_TARGETS
    workloads with the library, taken in batches alternating with the Python ones."""
    import quickbox
    from quickbox import _quickbox

    with quickbox.Runtime(timeout=60) as rt, rt.new_context() as ctx:
        ctx.register("add", lambda a, b: a + b)
        ctx.eval(FIB_JS)
        assert ctx.eval("1+2") == 3 and ctx.eval("add(1, 2)") == 3

        def create() -> None:
            rt.new_context().close()

        def fib() -> None:
            assert ctx.eval("fib(30)") == 832040

        ops: dict[str, Callable[[], Any]] = {
            "context_create": create,
            "eval": lambda: ctx.eval("1+2"),
            "host_call_sync": lambda: ctx.eval("add(1, 2)"),
            "fib_30": fib,
        }
        timer = _quickbox._LibraryTimer()
        samples: dict[str, list[int]] = {}
        paired: dict[str, Paired] = {}
        for name, count in counts.items():
            if name not in CPP_TARGETS:
                samples[name] = measure(ops[name], count)
                continue
            statement, code = CPP_TARGETS[name][:2]
            batch = max(1, count // PAIRED_BATCHES)
            loops = max(1, batch // CALLS_PER_SAMPLE)
            samples[name], pairing = [], Paired()
            paired[name] = pairing
            for _ in range(PAIRED_BATCHES):
                calls = measure(ops[name], batch)
                samples[name] += calls
                pairing.python_calls += calls
                pairing.library_calls += timer.samples(code, batch)
                pairing.python_loops += measure_loops(statement, {"ctx": ctx}, loops)
                pairing.library_loops += timer.samples(code, loops, CALLS_PER_SAMPLE)
        return samples, paired


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few samples")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer", action="append", choices=sorted(PEERS),
                        help="only this peer (repeatable; default: all of them)")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "compare_peers.json")
    args = parser.parse_args()
    install, unavailable = install_peers()
    peers = [p for p in (args.peer or PEERS) if p not in unavailable]
    for peer, why in unavailable.items():
        print(f"{peer}: left out, {why}", file=sys.stderr)
    counts = {name: (quick if args.quick else full) for name, (_, full, quick) in WORKLOADS.items()}
    load_before = os.getloadavg()
    pooled: dict[str, dict[str, list[int]]] = {side: {} for side in ["quickbox", *peers]}
    cpp: dict[str, list[float]] = {name: [] for name in CPP_TARGETS}  # one median per round
    paired = {name: Paired() for name in CPP_TARGETS}  # pooled over the rounds
    versions: dict[str, Any] = {}
    for round_ in range(args.rounds):
        order = ["quickbox", *peers, "cpp"]
        if round_ % 2:
            order.reverse()
        for side in order:
            print(f"round {round_ + 1}/{args.rounds}: {side} ...", file=sys.stderr)
            if side == "cpp":
                for name, median in run_cpp(args.quick).items():
                    cpp[name].append(median)
                continue
            if side == "quickbox":
                samples, pairings = run_quickbox(counts)
                for name, pairing in pairings.items():
                    paired[name].extend(pairing)
            else:
                peer_versions, samples = run_peer(install, side, counts)
                versions.update(peer_versions)
            for name, values in samples.items():
                pooled[side].setdefault(name, []).extend(values)
    load_after = os.getloadavg()

    import quickbox

    print(f"quickbox {quickbox.__version__} (Python {sys.version.split()[0]}) on this machine, vs. on Node "
          f"{versions.get('node')}: " + ", ".join(f"{k} {v}" for k, v in versions.items() if k != "node"))
    print(f"load average {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end; wall-clock medians, "
          "(peer / quickbox)\n")
    rows = []
    header = f"  {'workload':<16} {'quickbox':>10}" + "".join(f" {p:>24}" for p in peers)
    print(header + "  faster than every peer")
    for name, (description, _, _) in WORKLOADS.items():
        ours = statistics.median(pooled["quickbox"][name])
        line = f"  {name:<16} {ours / 1e3:>8.1f}µs"
        row: dict[str, Any] = {"name": name, "description": description, "quickbox_median_ns": ours,
                               "peers": {}, "samples": {side: len(pooled[side][name]) for side in pooled}}
        faster_peers = []
        for peer in peers:
            theirs = statistics.median(pooled[peer][name])
            ratio = theirs / ours
            line += f" {theirs / 1e3:>14.1f}µs ({ratio:>5.2f}x)"
            row["peers"][peer] = {"median_ns": theirs, "peer_over_quickbox": ratio}
            if ratio <= 1 and peer in TARGET_PEERS.get(name, PEERS):
                faster_peers.append(peer)
        verdict = "OK" if not faster_peers else f"MISSED ({', '.join(faster_peers)} faster)"
        if name in TARGET_PEERS:
            verdict += f" (of {', '.join(TARGET_PEERS[name])})"
        print(f"{line}  {verdict}")
        rows.append(row)
    print(f"\n  Python against the C++ library timed in this process, in batches alternating with Python's; "
          f"loops of {CALLS_PER_SAMPLE} calls a sample (each call timed alone in brackets)")
    print(f"  {'workload':<16} {'quickbox':>16} {'C++':>16} {'Python/C++':>16}  target"
          f"{'':<30}quickbox-bench, run apart")
    for name, (statement, code, bench_name, most) in CPP_TARGETS.items():
        pairing = paired[name]
        python_loop, library_loop = statistics.median(pairing.python_loops), statistics.median(pairing.library_loops)
        python_call, library_call = statistics.median(pairing.python_calls), statistics.median(pairing.library_calls)
        ratio, ratio_calls = python_loop / library_loop, python_call / library_call
        apart = statistics.median(cpp[name])
        verdict = "OK" if ratio <= most else "MISSED"
        print(f"  {name:<16} {python_loop / 1e3:>6.2f} ({python_call / 1e3:.2f})µs "
              f"{library_loop / 1e3:>6.2f} ({library_call / 1e3:.2f})µs {ratio:>9.2f}x ({ratio_calls:.2f}x)  "
              f"at most {most}x: {verdict} (`{code}`)"
              f"{'':<8}`{bench_name}` {apart / 1e3:.2f}µs: {python_call / apart:.2f}x")
        row = next(r for r in rows if r["name"] == name)
        row.update({"python_statement": statement, "cpp_code": code, "calls_per_loop_sample": CALLS_PER_SAMPLE,
                    "python_loop_median_ns": python_loop, "cpp_loop_median_ns": library_loop,
                    "quickbox_over_cpp": ratio, "quickbox_over_cpp_at_most": most,
                    "python_call_median_ns": python_call, "cpp_call_median_ns": library_call,
                    "quickbox_over_cpp_calls_timed_alone": ratio_calls,
                    "quickbox_bench_workload": bench_name, "quickbox_bench_median_ns": apart,
                    "quickbox_over_quickbox_bench": python_call / apart})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"versions": versions, "unavailable": unavailable,
                                     "load_average": [load_before, load_after], "workloads": rows},
                                    indent=2) + "\n")
    print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
