#!/usr/bin/env python3
"""Quickbox's Python package vs. quickjs-emscripten under Node, paired in one invocation.

    build/venv/bin/python bench/compare_peers.py [--quick] [--rounds N] [--json FILE]

The peer is quickjs-emscripten running quickjs-ng (the interpreter Quickbox runs) in V8's wasm
engine, installed by `npm ci` from bench/peers/package-lock.json (exact versions, integrity
hashes) into build/bench-peers, never into the clone. Each round runs the Node worker
(bench/peers/quickjs_emscripten.mjs) and the same workloads on quickbox in this process, in
alternating order, and pools the samples; the table gives wall-clock medians and the ratio
peer / quickbox (above 1: quickbox is faster). Wall time, because Node's CPU clock is the whole
process's; the alternation makes both sides see the same load, and the load average is printed.

Each round also runs the C++ figures the Python ones are held to (build/quickbox-bench, the
`eval 1+2` and `sync call, single` workloads, wall time): the Python eval round trip may cost at
most 1.5x the C++ one, a sync host call at most 2x. The C++ host call is an eval of `noop(1)`,
the Python one of `add(1, 2)`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
INSTALL = ROOT / "build" / "bench-peers"
STAMP = ".package-lock.sha256"
FIB_JS = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }"

BENCH = ROOT / "build" / "quickbox-bench"
# Python workload: (the quickbox-bench workload it is held to, the most Python may cost relative to it)
CPP_TARGETS = {"eval": ("eval 1+2", 1.5), "host_call_sync": ("sync call, single", 2.0)}

# name: (description, samples per round, samples per round with --quick)
WORKLOADS = {
    "context_create": ("new context + close", 300, 30),
    "eval": ("eval `1+2`", 3000, 300),
    "host_call_sync": ("eval `add(1, 2)`, add a host function", 3000, 300),
    "fib_30": ("eval `fib(30)`", 3, 1),
}


def install_peer() -> None:
    """npm ci into build/bench-peers, again whenever the lock file changes."""
    lock = (PEERS / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock).hexdigest()
    stamp = INSTALL / STAMP
    if not (stamp.exists() and stamp.read_text() == digest):
        INSTALL.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(PEERS / name, INSTALL / name)
        print(f"installing quickjs-emscripten from bench/peers/package-lock.json into {INSTALL} ...",
              file=sys.stderr)
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=INSTALL,
                       check=True, stdout=subprocess.DEVNULL)
        stamp.write_text(digest)
    shutil.copy2(PEERS / "quickjs_emscripten.mjs", INSTALL / "quickjs_emscripten.mjs")


def run_peer(counts: dict[str, int]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    done = subprocess.run(["node", str(INSTALL / "quickjs_emscripten.mjs"), json.dumps(counts)],
                          capture_output=True, text=True, check=True, timeout=1800)
    report = json.loads(done.stdout)
    return report["versions"], report["samples"]


def run_cpp(quick: bool) -> dict[str, float]:
    """The medians (ns) of the C++ workloads in CPP_TARGETS, from one run of quickbox-bench."""
    out = ROOT / "build" / "compare_peers_cpp.json"
    command = [str(BENCH), "--json", str(out)] + (["--quick"] if quick else [])
    for bench_name, _ in CPP_TARGETS.values():
        command += ["--only", bench_name]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=600)
    rows = {row["name"]: row for row in json.loads(out.read_text())["workloads"]}
    return {name: rows[bench_name]["quickbox"]["median_ns"] for name, (bench_name, _) in CPP_TARGETS.items()}


def measure(op: Callable[[], Any], count: int) -> list[int]:
    for _ in range(min(10, count)):
        op()
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        op()
        samples.append(time.perf_counter_ns() - start)
    return samples


def run_quickbox(counts: dict[str, int]) -> dict[str, list[int]]:
    import quickbox

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
        return {name: measure(ops[name], count) for name, count in counts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: few samples")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "compare_peers.json")
    args = parser.parse_args()
    install_peer()
    counts = {name: (quick if args.quick else full) for name, (_, full, quick) in WORKLOADS.items()}
    load_before = os.getloadavg()
    pooled: dict[str, dict[str, list[int]]] = {"quickbox": {}, "peer": {}}
    cpp: dict[str, list[float]] = {name: [] for name in CPP_TARGETS}  # one median per round
    versions: dict[str, Any] = {}
    for round_ in range(args.rounds):
        order = ["quickbox", "peer", "cpp"] if round_ % 2 == 0 else ["cpp", "peer", "quickbox"]
        for side in order:
            print(f"round {round_ + 1}/{args.rounds}: {side} ...", file=sys.stderr)
            if side == "cpp":
                for name, median in run_cpp(args.quick).items():
                    cpp[name].append(median)
                continue
            if side == "peer":
                versions, samples = run_peer(counts)
            else:
                samples = run_quickbox(counts)
            for name, values in samples.items():
                pooled[side].setdefault(name, []).extend(values)
    load_after = os.getloadavg()

    import quickbox

    print(f"quickbox {quickbox.__version__} (Python {sys.version.split()[0]}) vs quickjs-emscripten "
          f"{versions.get('quickjs-emscripten-core')} with quickjs-ng "
          f"(@jitl/quickjs-ng-wasmfile-release-sync {versions.get('@jitl/quickjs-ng-wasmfile-release-sync')}) "
          f"on Node {versions.get('node')}")
    print(f"load average {load_before[0]:.2f} at the start, {load_after[0]:.2f} at the end; wall-clock medians\n")
    rows = []
    print(f"  {'workload':<16} {'quickbox':>12} {'peer':>12} {'peer/quickbox':>14}  target")
    for name, (description, _, _) in WORKLOADS.items():
        ours = statistics.median(pooled["quickbox"][name])
        theirs = statistics.median(pooled["peer"][name])
        ratio = theirs / ours
        verdict = "OK" if ratio > 1 else "MISSED"
        print(f"  {name:<16} {ours / 1e3:>10.1f}µs {theirs / 1e3:>10.1f}µs {ratio:>13.2f}x  faster: {verdict}")
        rows.append({"name": name, "description": description, "quickbox_median_ns": ours,
                     "peer_median_ns": theirs, "peer_over_quickbox": ratio,
                     "samples": {side: len(pooled[side][name]) for side in pooled}})
    print(f"\n  {'workload':<16} {'quickbox':>12} {'C++':>12} {'Python/C++':>11}  target")
    for name, (bench_name, most) in CPP_TARGETS.items():
        ours = statistics.median(pooled["quickbox"][name])
        theirs = statistics.median(cpp[name])
        verdict = "OK" if ours / theirs <= most else "MISSED"
        print(f"  {name:<16} {ours / 1e3:>10.1f}µs {theirs / 1e3:>10.1f}µs {ours / theirs:>10.2f}x  "
              f"at most {most}x: {verdict} (C++: quickbox-bench `{bench_name}`, median of the rounds' medians)")
        row = next(r for r in rows if r["name"] == name)
        row.update({"cpp_workload": bench_name, "cpp_median_ns": theirs, "quickbox_over_cpp": ours / theirs,
                    "quickbox_over_cpp_at_most": most})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"versions": versions, "load_average": [load_before, load_after],
                                     "workloads": rows}, indent=2) + "\n")
    print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
