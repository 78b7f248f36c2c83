#!/usr/bin/env python3
"""Quickbox's Python package vs. quickjs-rs, side by side, on the same workloads.

    build/venv/bin/python bench/compare_quickjs_rs.py [--quick] [--json FILE] [--check]

Run it with a Python that can import quickbox (`make python` builds build/venv). quickjs-rs is
installed from the hash-pinned bench/requirements-quickjs-rs.txt into its own virtual environment
(build/bench-quickjs-rs-venv by default), never into the project's.

Both packages are measured by this same file, run as a worker process (`--worker PACKAGE`) under
each package's Python: the JavaScript, the timing loop and the checks are the same code; only the
`Package` adapter differs where the two APIs differ. The parent runs the workers alternately for
several rounds, pools their samples, and prints medians, p90s and the ratio quickbox/quickjs-rs
per workload against the targets from the issue. The JSON report goes to --json.

Only the standard library is imported at module level: the worker runs in either environment.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "bench" / "requirements-quickjs-rs.txt"
# The installer every venv of the project starts with (the interpreter's bundled pip varies).
PINNED_PIP = ROOT / "python" / "requirements" / "pip.txt"
DEFAULT_VENV = ROOT / "build" / "bench-quickjs-rs-venv"
DEFAULT_JSON = ROOT / "build" / "compare_quickjs_rs.json"
# The venv is rebuilt when the requirements file (or the pinned pip) changes.
VENV_STAMP = ".compare-quickjs-rs-requirements.sha256"

PACKAGES = ("quickbox", "quickjs_rs")
# Generous per-evaluation limit: fib(30) must not hit either package's default.
EVAL_TIMEOUT_S = 60.0
WORKER_TIMEOUT_S = 1800

# ---- the workloads (identical JavaScript and data for both packages) -----------------------------

SNAPSHOT_STATE_JS = "let a = 1, b = 'two', c = [3]; function f(x) { return x * 2 }"
SNAPSHOT_CHECK_JS = "f(21) + a + b + c[0]"
FIB_JS = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2) }"
ASYNC_CALLS_JS = ("(await Promise.all(Array.from({length: 100}, (_, i) => tick(i))))"
                  ".reduce((sum, x) => sum + x, 0)")
DICT_100 = {f"key{i}": (i if i % 2 else f"value {i}") for i in range(100)}
BYTES_1MB = bytes(range(256)) * 4096


@dataclass(frozen=True)
class Target:
    """The issue's goal for a workload: quickjs-rs / quickbox (speed-up, or size ratio) >= minimum."""
    minimum: float
    text: str


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    iterations: int            # timed samples per worker process (a full run)
    quick_iterations: int      # the same with --quick
    unit: str = "s"            # "s" (a duration per operation) or "bytes"
    target: Target | None = None


WORKLOADS = [
    Workload("cold_start", "import + Runtime() + first context + eval `1+2` (new process)", 1, 1),
    Workload("context_create", "new context + close", 300, 40,
             target=Target(20.0, ">= 20x faster")),
    Workload("context_first_eval", "new context + eval `1+2` + close (a used context)", 300, 40,
             target=Target(20.0, ">= 20x faster")),
    Workload("eval", "eval `1+2`", 3000, 300, target=Target(5.0, ">= 5x faster")),
    Workload("host_call_sync", "eval `add(1, 2)`, add a sync Python function", 3000, 300,
             target=Target(5.0, ">= 5x faster")),
    Workload("host_call_async_100", "eval_async of Promise.all over 100 async Python calls", 200, 20,
             target=Target(5.0, ">= 5x faster")),
    Workload("marshal_dict_100", "globals: set a 100-key dict, read it back", 1000, 100),
    Workload("marshal_bytes_1mb", "globals: set 1 MiB of bytes, read it back", 100, 15),
    Workload("fib_30", "eval `fib(30)`", 5, 2, target=Target(1.25, ">= 1.25x faster")),
    Workload("snapshot_size", "snapshot after `" + SNAPSHOT_STATE_JS + "`", 1, 1, unit="bytes",
             target=Target(50.0, ">= 50x smaller")),
    Workload("snapshot_restore", "snapshot + to/from bytes + restore into a new context + close",
             100, 15),
]


# ---- worker: runs every workload on one package --------------------------------------------------

class Package:
    """The one place the two APIs differ. Everything else calls the same methods on both."""

    def __init__(self, name: str) -> None:
        started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
        self.name = name
        self.module: Any = importlib.import_module(name)
        self.runtime = self.module.Runtime()
        ctx = self.new_context()
        check(ctx.eval("1+2") == 3, "the first eval of `1+2` did not return 3")
        ctx.close()
        self.cold_start_ns = time.perf_counter_ns() - started
        # All threads: compiling the guest may use several.
        self.cold_start_cpu_ns = time.process_time_ns() - cpu_started

    def new_context(self) -> Any:
        return self.runtime.new_context(timeout=EVAL_TIMEOUT_S)

    def restore(self, data: bytes) -> Any:
        """A context holding the snapshot's VM, each package's way of getting one."""
        snapshot = self.module.Snapshot.from_bytes(data)
        if self.name == "quickbox":
            return self.runtime.restore(snapshot, timeout=EVAL_TIMEOUT_S)
        ctx = self.new_context()  # quickjs-rs restores into an existing context
        self.runtime.restore_snapshot(snapshot, ctx)
        return ctx

    def versions(self) -> dict[str, Any]:
        if self.name == "quickbox":
            return {"quickbox": self.module.__version__, **self.module.engine_info()}
        return {"quickjs_rs": self.module.__version__,
                "wasmtime_py": importlib.metadata.version("wasmtime")}


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


Samples = dict[str, list[int]]  # "wall_ns" and "cpu_ns" per operation, or "bytes"


class Sampler:
    """Wall-clock and CPU time (of this thread, where both packages run JavaScript) per operation.
    CPU time is much less disturbed by other processes on a busy machine. Stops after `iterations`,
    or early (with at least 5 samples) once `budget_s` is spent, so a slow package cannot stall the
    run."""

    def __init__(self, iterations: int, budget_s: float) -> None:
        self.iterations = iterations
        self.deadline = time.perf_counter() + budget_s
        self.wall_ns: list[int] = []
        self.cpu_ns: list[int] = []
        self._wall_start = self._cpu_start = 0

    def start(self) -> None:
        self._cpu_start = time.thread_time_ns()
        self._wall_start = time.perf_counter_ns()

    def stop(self) -> bool:
        """Records the operation since start(); True once enough samples are in."""
        self.wall_ns.append(time.perf_counter_ns() - self._wall_start)
        self.cpu_ns.append(time.thread_time_ns() - self._cpu_start)
        count = len(self.wall_ns)
        return count >= self.iterations or (count >= 5 and time.perf_counter() > self.deadline)

    def samples(self) -> Samples:
        return {"wall_ns": self.wall_ns, "cpu_ns": self.cpu_ns}


def measure(op: Callable[[], Any], iterations: int, warmup: int, budget_s: float) -> Samples:
    """Samples of `op` after `warmup` untimed calls."""
    for _ in range(warmup):
        op()
    gc.collect()
    sampler = Sampler(iterations, budget_s)
    while True:
        sampler.start()
        op()
        if sampler.stop():
            return sampler.samples()


def measure_async(op: Callable[[], Awaitable[Any]], expected: Any, iterations: int, warmup: int,
                  budget_s: float) -> Samples:
    """`measure` for coroutines, checking that the first call returns `expected`. Everything runs
    on one event loop: quickjs-rs binds a context to the first loop that drives it."""
    async def run() -> Samples:
        check(await op() == expected, f"the first call did not return {expected!r}")
        for _ in range(warmup):
            await op()
        gc.collect()
        sampler = Sampler(iterations, budget_s)
        while True:
            sampler.start()
            await op()
            if sampler.stop():
                return sampler.samples()
    return asyncio.run(run())


def run_workload(pkg: Package, name: str, iterations: int, budget_s: float) -> Samples:
    """Samples for one workload. Each workload checks its result once, so a package that computes
    the wrong thing fails instead of looking fast."""
    warmup = max(1, min(20, iterations // 10))
    if name == "cold_start":
        return {"wall_ns": [pkg.cold_start_ns], "cpu_ns": [pkg.cold_start_cpu_ns]}
    if name == "context_create":
        return measure(lambda: pkg.new_context().close(), iterations, warmup, budget_s)
    if name == "context_first_eval":
        def create_and_use() -> None:
            ctx = pkg.new_context()
            ctx.eval("1+2")
            ctx.close()
        return measure(create_and_use, iterations, warmup, budget_s)

    ctx = pkg.new_context()
    try:
        if name == "eval":
            check(ctx.eval("1+2") == 3, "`1+2` did not return 3")
            return measure(lambda: ctx.eval("1+2"), iterations, warmup, budget_s)
        if name == "host_call_sync":
            ctx.register("add", lambda a, b: a + b)
            check(ctx.eval("add(1, 2)") == 3, "`add(1, 2)` did not return 3")
            return measure(lambda: ctx.eval("add(1, 2)"), iterations, warmup, budget_s)
        if name == "host_call_async_100":
            async def tick(i: int) -> int:
                return i
            ctx.register("tick", tick)
            return measure_async(lambda: ctx.eval_async(ASYNC_CALLS_JS), 4950, iterations, warmup, budget_s)
        if name == "marshal_dict_100":
            return measure_roundtrip(ctx, "dict100", DICT_100, iterations, warmup, budget_s)
        if name == "marshal_bytes_1mb":
            return measure_roundtrip(ctx, "bytes1mb", BYTES_1MB, iterations, warmup, budget_s)
        if name == "fib_30":
            ctx.eval(FIB_JS)
            check(ctx.eval("fib(20)") == 6765, "fib(20) did not return 6765")
            samples = measure(lambda: ctx.eval("fib(30)"), iterations, 1, budget_s)
            check(ctx.eval("fib(30)") == 832040, "fib(30) did not return 832040")
            return samples
        if name == "snapshot_size":
            ctx.eval(SNAPSHOT_STATE_JS)
            return {"bytes": [len(ctx.create_snapshot().to_bytes())]}
        if name == "snapshot_restore":
            ctx.eval(SNAPSHOT_STATE_JS)

            def snapshot_and_restore() -> None:
                pkg.restore(ctx.create_snapshot().to_bytes()).close()
            restored = pkg.restore(ctx.create_snapshot().to_bytes())
            check(restored.eval(SNAPSHOT_CHECK_JS) == "43two3", "the restored context lost its variables")
            restored.close()
            return measure(snapshot_and_restore, iterations, warmup, budget_s)
        raise ValueError(f"unknown workload {name!r}")
    finally:
        ctx.close()


def measure_roundtrip(ctx: Any, global_name: str, value: Any, iterations: int, warmup: int,
                      budget_s: float) -> Samples:
    def roundtrip() -> Any:
        ctx.globals[global_name] = value
        return ctx.globals[global_name]
    back = roundtrip()
    check(type(back) is type(value) and back == value,
          f"{global_name} came back different ({type(back).__name__})")
    return measure(roundtrip, iterations, warmup, budget_s)


def worker_main(package: str) -> int:
    """Reads {"workloads": {name: iterations}, "budget_s": s} on stdin; prints one JSON line."""
    request = json.loads(sys.stdin.read())
    pkg = Package(package)
    results: dict[str, Samples] = {}
    for name, iterations in request["workloads"].items():
        gc.collect()
        results[name] = run_workload(pkg, name, int(iterations), float(request["budget_s"]))
    pkg.runtime.close()
    print(json.dumps({"package": package, "versions": pkg.versions(), "samples": results}))
    return 0


# ---- parent: environments, rounds, report --------------------------------------------------------

def ensure_quickjs_rs_venv(venv: Path) -> Path:
    """The venv's python, with the pinned quickjs-rs installed (reused while the pins match)."""
    if venv.resolve() == Path(sys.prefix).resolve():
        sys.exit(f"error: --venv {venv} is the environment running this script; quickjs-rs gets its own")
    python = venv / "bin" / "python"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + PINNED_PIP.read_bytes()).hexdigest()
    stamp = venv / VENV_STAMP
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    print(f"installing quickjs-rs from {REQUIREMENTS.relative_to(ROOT)} into {venv} ...", file=sys.stderr)
    steps = [[sys.executable, "-m", "venv", "--clear", str(venv)],
             [str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "-r", str(PINNED_PIP)],
             [str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "--only-binary=:all:",
              "-r", str(REQUIREMENTS)]]
    for step in steps:
        if (status := subprocess.run(step).returncode) != 0:
            sys.exit(f"error: `{' '.join(step)}` failed with exit status {status}; quickjs-rs is "
                     "needed from PyPI (or a pip find-links holding the pinned wheels)")
    stamp.write_text(digest + "\n")
    return python


def run_worker(python: Path, package: str, workloads: dict[str, int], budget_s: float) -> dict[str, Any]:
    # -I keeps the quickjs-rs worker clear of PYTHONPATH and user site-packages; the quickbox
    # worker keeps the environment, in case that is how quickbox is importable.
    isolate = ["-I"] if package == "quickjs_rs" else []
    request = json.dumps({"workloads": workloads, "budget_s": budget_s})
    done = subprocess.run([str(python), *isolate, str(Path(__file__).resolve()), "--worker", package],
                          input=request, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    if done.returncode != 0:
        sys.exit(f"error: the {package} worker ({python}) failed with exit status {done.returncode}:\n"
                 f"{done.stderr.strip()}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    result: dict[str, Any] = json.loads(lines[-1])  # the guest may have printed before it
    return result


def percentile(samples: list[int], fraction: float) -> float:
    ordered = sorted(samples)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def summarize(samples: Samples, key: str) -> dict[str, Any]:
    values = samples[key]
    summary: dict[str, Any] = {"median": statistics.median(values), "p90": percentile(values, 0.9),
                               "n": len(values), "samples": values}
    if "cpu_ns" in samples:
        cpu = samples["cpu_ns"]
        summary.update(cpu_median=statistics.median(cpu), cpu_p90=percentile(cpu, 0.9), cpu_samples=cpu)
    return summary


def compare(workload: Workload, quickbox: Samples, quickjs_rs: Samples) -> dict[str, Any]:
    """One report row: both packages' figures, their ratio, and whether the target is met, judged
    on the wall-clock medians (the issue's measure) and, as a cross-check, on the CPU medians."""
    key = "bytes" if workload.unit == "bytes" else "wall_ns"
    qb, qjs = summarize(quickbox, key), summarize(quickjs_rs, key)
    ratio = qb["median"] / qjs["median"]
    cpu_ratio = qb["cpu_median"] / qjs["cpu_median"] if "cpu_median" in qb else None
    row: dict[str, Any] = {
        "name": workload.name, "description": workload.description,
        "unit": "bytes" if workload.unit == "bytes" else "ns",
        "quickbox": qb, "quickjs_rs": qjs,
        "ratio_quickbox_over_quickjs_rs": ratio, "quickjs_rs_over_quickbox": 1 / ratio,
        "cpu_ratio_quickbox_over_quickjs_rs": cpu_ratio,
        "target": None, "target_met": None, "target_met_by_cpu": None,
    }
    if workload.target is not None:
        row["target"] = {"quickjs_rs_over_quickbox_at_least": workload.target.minimum,
                         "text": workload.target.text}
        row["target_met"] = 1 / ratio >= workload.target.minimum
        if cpu_ratio is not None:
            row["target_met_by_cpu"] = 1 / cpu_ratio >= workload.target.minimum
    return row


def format_amount(value: float, unit: str) -> str:
    if unit == "bytes":
        for suffix, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value >= size:
                return f"{value / size:.1f} {suffix}"
        return f"{value:.0f} B"
    for suffix, duration in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if value >= duration:
            return f"{value / duration:.3g} {suffix}"
    return f"{value:.0f} ns"


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("workload", "quickbox median (p90)", "quickjs-rs median (p90)", "qb/qjs", "speed-up",
              "cpu qb/qjs", "target", "met", "met (cpu)")
    lines = [header]
    for row in rows:
        unit = row["unit"]
        cell = {k: f"{format_amount(row[k]['median'], unit)} ({format_amount(row[k]['p90'], unit)})"
                for k in PACKAGES}
        gain = row["quickjs_rs_over_quickbox"]
        target = row["target"]["text"] if row["target"] else "-"
        verdict = {None: "-", True: "yes", False: "NO"}
        cpu_ratio = row["cpu_ratio_quickbox_over_quickjs_rs"]
        lines.append((row["name"], cell["quickbox"], cell["quickjs_rs"],
                      f"{row['ratio_quickbox_over_quickjs_rs']:.3g}",
                      f"{gain:.3g}x {'smaller' if unit == 'bytes' else 'faster'}",
                      "-" if cpu_ratio is None else f"{cpu_ratio:.3g}", target,
                      verdict[row["target_met"]], verdict[row["target_met_by_cpu"]]))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations and one round")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON,
                        help=f"report file (default {DEFAULT_JSON})")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV,
                        help=f"quickjs-rs's own environment (default {DEFAULT_VENV})")
    parser.add_argument("--rounds", type=int, help="worker processes per package (default 3; 1 with --quick)")
    parser.add_argument("--budget", type=float, help="seconds per workload per worker before it stops "
                        "early (default 20; 5 with --quick)")
    parser.add_argument("--only", nargs="+", choices=[w.name for w in WORKLOADS], help="these workloads only")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--worker", choices=PACKAGES, help=argparse.SUPPRESS)
    return parser.parse_args()


def collect(pythons: dict[str, Path], workloads: dict[str, int], rounds: int,
            budget_s: float) -> tuple[dict[str, dict[str, Samples]], dict[str, Any]]:
    """Every round runs one worker per package; returns the pooled samples and the versions."""
    samples: dict[str, dict[str, Samples]] = {p: {w: {} for w in workloads} for p in PACKAGES}
    versions: dict[str, Any] = {}
    for round_index in range(rounds):
        # Alternate which package goes first, so neither always meets a warmer (or busier) machine.
        order = PACKAGES if round_index % 2 == 0 else PACKAGES[::-1]
        for package in order:
            print(f"round {round_index + 1}/{rounds}: {package} ...", file=sys.stderr, flush=True)
            result = run_worker(pythons[package], package, workloads, budget_s)
            versions[package] = result["versions"]
            for name, measured in result["samples"].items():
                for key, values in measured.items():
                    samples[package][name].setdefault(key, []).extend(values)
    return samples, versions


def main() -> int:
    args = parse_args()
    if args.worker:
        return worker_main(args.worker)
    rounds = args.rounds or (1 if args.quick else 3)
    budget_s = args.budget or (5.0 if args.quick else 20.0)
    chosen = [w for w in WORKLOADS if not args.only or w.name in args.only]
    workloads = {w.name: (w.quick_iterations if args.quick else w.iterations) for w in chosen}
    pythons = {"quickbox": Path(sys.executable), "quickjs_rs": ensure_quickjs_rs_venv(args.venv)}

    load_before, started = os.getloadavg(), time.monotonic()
    samples, versions = collect(pythons, workloads, rounds, budget_s)
    elapsed_s, load_after = time.monotonic() - started, os.getloadavg()
    rows = [compare(w, samples["quickbox"][w.name], samples["quickjs_rs"][w.name]) for w in chosen]
    missed = [row["name"] for row in rows if row["target_met"] is False]

    for package in PACKAGES:
        print(f"{package}: " + ", ".join(f"{k} {v}" for k, v in versions[package].items()))
    print(f"{rounds} round(s) in {elapsed_s:.0f} s; 1-min load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after ({os.cpu_count()} CPUs)")
    print("wall-clock medians (p90) over all rounds' samples; qb/qjs < 1 means quickbox is faster "
          "(or smaller); cpu qb/qjs is the same ratio of CPU-time medians\n")
    print_table(rows)
    print(f"\ntargets missed: {', '.join(missed)}" if missed else "\nall targets met")

    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": load_after},
        "config": {"quick": args.quick, "rounds": rounds, "budget_s": budget_s, "elapsed_s": elapsed_s,
                   "iterations_per_round": workloads, "eval_timeout_s": EVAL_TIMEOUT_S},
        "versions": versions, "workloads": rows, "targets_missed": missed,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
