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
round starts every peer's worker, which serves samples on request, and takes each workload's
samples in PAIRED_BATCHES batches, every side in turn (quickbox in this process, then each peer;
the side that goes first rotates), pooling them over the rounds. So all sides of a comparison are
timed within seconds of each other: on this shared VM the speed of everything can change by half
from one second to the next, which sides run one after the other for a whole round cannot pair.
The table gives wall-clock medians and each ratio peer / quickbox (above 1: quickbox is faster).
Wall time, because Node's CPU clock is the whole process's; the load average is printed.

The Python eval round trip may cost at most 1.5x the C++ library's, a sync host call at most 2x.
The library is timed in this process (`_quickbox._LibraryTimer`: its own eval on a sandbox made
as quickbox-bench makes one), in each of quickbox's batches right after the Python samples. The
target is judged on loops: each sample is
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
import tempfile
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
    "context_create": ("new context + close", 1000, 30),
    "eval": ("eval `1+2`", 20000, 300),
    "host_call_sync": ("eval `add(1, 2)`, add a host function", 20000, 300),
    "fib_30": ("eval `fib(30)`", 5, 1),
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


class PeerWorker:
    """A peer's Node worker (bench/peers), serving batches of samples on request (common.mjs,
    serve) for one round."""

    def __init__(self, install: Path, peer: str) -> None:
        self.peer = peer
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(["node", str(install / PEERS[peer])], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.errors, text=True)
        self.versions: dict[str, Any] = self._reply()["versions"]

    def samples(self, workload: str, count: int, warmup: int) -> list[int]:
        """count samples (ns) of the workload; warmup untimed calls precede its first batch."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"workload": workload, "count": count, "warmup": warmup}) + "\n")
        self.process.stdin.flush()
        samples: list[int] = self._reply()["samples"]
        return samples

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.errors.close()

    def _reply(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.kill()
            self.process.wait()
            self.errors.seek(0)
            raise SystemExit(f"the {self.peer} worker failed:\n{self.errors.read()}")
        reply: dict[str, Any] = json.loads(line)
        return reply


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
    return [total / CALLS_PER_SAMPLE for total in timer.repeat(repeat=count, number=CALLS_PER_SAMPLE)]


@dataclass
class Paired:
    """A CPP_TARGETS workload's samples (ns) from one process, the Python package's and the
    library's taken one right after the other: each call timed alone, and loops
    (CALLS_PER_SAMPLE calls a sample)."""
    python_calls: list[float] = field(default_factory=list)
    library_calls: list[float] = field(default_factory=list)
    python_loops: list[float] = field(default_factory=list)
    library_loops: list[float] = field(default_factory=list)

    def extend(self, other: Paired) -> None:
        for part in ("python_calls", "library_calls", "python_loops", "library_loops"):
            getattr(self, part).extend(getattr(other, part))


class QuickboxSide:
    """The Python package's workloads in this process, for one round, served in batches as the
    peers' workers serve theirs; a CPP_TARGETS workload's batch also times the library."""

    def __init__(self) -> None:
        import quickbox
        from quickbox import _quickbox

        self.runtime = quickbox.Runtime(timeout=60)
        self.ctx = ctx = self.runtime.new_context()
        ctx.register("add", lambda a, b: a + b)
        ctx.eval(FIB_JS)
        assert ctx.eval("1+2") == 3 and ctx.eval("add(1, 2)") == 3

        def create() -> None:
            self.runtime.new_context().close()

        def fib() -> None:
            assert ctx.eval("fib(30)") == 832040

        self.ops: dict[str, Callable[[], Any]] = {
            "context_create": create,
            "eval": lambda: ctx.eval("1+2"),
            "host_call_sync": lambda: ctx.eval("add(1, 2)"),
            "fib_30": fib,
        }
        self.timer = _quickbox._LibraryTimer()
        self.paired = {name: Paired() for name in CPP_TARGETS}
        self.warmed: set[str] = set()

    def samples(self, workload: str, count: int, warmup: int) -> list[int]:
        """count samples (ns) of the workload; warmup untimed calls precede its first batch."""
        op = self.ops[workload]
        if workload not in self.warmed:
            for _ in range(warmup):
                op()
            self.warmed.add(workload)
        calls = measure(op, count)
        if workload in CPP_TARGETS:
            statement, code = CPP_TARGETS[workload][:2]
            loops = max(1, count // CALLS_PER_SAMPLE)
            pairing = self.paired[workload]
            pairing.python_calls += calls
            pairing.library_calls += self.timer.samples(code, count)
            pairing.python_loops += measure_loops(statement, {"ctx": self.ctx}, loops)
            pairing.library_loops += self.timer.samples(code, loops, CALLS_PER_SAMPLE)
        return calls

    def close(self) -> None:
        self.ctx.close()
        self.runtime.close()


def run_round(install: Path, peers: list[str], counts: dict[str, int]
              ) -> tuple[dict[str, dict[str, list[int]]], dict[str, Paired], dict[str, Any]]:
    """One round: every side's samples of each workload, taken in PAIRED_BATCHES batches, every
    side in turn; and quickbox's pairings with the library, and the peers' versions."""
    quickbox_side = QuickboxSide()
    workers: dict[str, PeerWorker] = {}
    try:
        for peer in peers:
            workers[peer] = PeerWorker(install, peer)
        sides: dict[str, QuickboxSide | PeerWorker] = {"quickbox": quickbox_side, **workers}
        names = list(sides)
        samples: dict[str, dict[str, list[int]]] = {side: {} for side in names}
        for workload, count in counts.items():
            batches = min(PAIRED_BATCHES, count)
            warmup = min(10, count)
            for batch in range(batches):
                size = count // batches + (1 if batch < count % batches else 0)
                first = batch % len(names)
                for side in names[first:] + names[:first]:
                    samples[side].setdefault(workload, []).extend(sides[side].samples(workload, size, warmup))
        versions = {k: v for worker in workers.values() for k, v in worker.versions.items()}
        return samples, quickbox_side.paired, versions
    finally:
        for worker in workers.values():
            worker.close()
        quickbox_side.close()


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
        print(f"round {round_ + 1}/{args.rounds}: quickbox and {', '.join(peers) or 'no peer'}, alternating ...",
              file=sys.stderr)
        samples, pairings, round_versions = run_round(install, peers, counts)
        versions.update(round_versions)
        for side, workloads in samples.items():
            for name, values in workloads.items():
                pooled[side].setdefault(name, []).extend(values)
        for name, pairing in pairings.items():
            paired[name].extend(pairing)
        print(f"round {round_ + 1}/{args.rounds}: quickbox-bench ...", file=sys.stderr)
        for name, median in run_cpp(args.quick).items():
            cpp[name].append(median)
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
