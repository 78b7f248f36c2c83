"""The per-evaluation budgets, reached from Python: one CPU budget for everything the program runs
(also while host calls settle), a wall clock checked after every host function, the remaining
time handed to host functions, and a host-memory budget and pending-call cap for what the engine
keeps outside the sandbox."""

import asyncio
import resource
import time
from typing import Any

import pytest

import quickbox
from quickbox import Runtime, TimeoutError

# Reading `.then` on any object (which resolving a promise with an object does, while the engine
# settles a host call) burns 20 ms of CPU.
SLOW_THEN_GETTER = """
    Object.defineProperty(Object.prototype, 'then', {
        configurable: true,
        get() { const t = Date.now(); while (Date.now() - t < 20) {} return undefined; },
    });
"""

SLACK = 0.25  # seconds: the soft limit is checked every few thousand instructions


def thread_cpu() -> float:
    return time.thread_time()


# ---- One CPU budget ----------------------------------------------------------------------------------


async def test_code_run_while_async_calls_settle_counts_against_the_timeout() -> None:
    with Runtime(timeout=0.2) as rt, rt.new_context() as ctx:
        async def echo(value: Any) -> Any:
            return value

        ctx.register("echo", echo)
        before = thread_cpu()
        with pytest.raises(TimeoutError):
            await ctx.eval_async(SLOW_THEN_GETTER + "for (let i = 0; i < 200; i++) await echo({ i });")
        used = thread_cpu() - before
        assert used < 0.2 + SLACK, f"the evaluation used {used:.2f} s of CPU under a 0.2 s timeout"
        assert ctx.eval("6 * 7") == 42  # the context carries on


def test_the_hosts_work_per_call_counts_against_the_timeout() -> None:
    with Runtime(timeout=1.0) as rt, rt.new_context() as ctx:
        ctx.register("echo", lambda value: value)
        before = thread_cpu()
        with pytest.raises(TimeoutError):
            ctx.eval("const big = 'x'.repeat(1e6); for (;;) echo(big);")
        used = thread_cpu() - before
        assert used < 1.0 + SLACK + 0.5, f"used {used:.2f} s of CPU under a 1 s timeout"


# ---- The wall clock -----------------------------------------------------------------------------------


def test_the_wall_clock_is_checked_after_every_sync_function() -> None:
    calls = []

    def slow() -> bool:
        time.sleep(0.3)
        calls.append(1)
        return True

    with Runtime(wall_timeout=1.0) as rt, rt.new_context() as ctx:
        ctx.register("slow", slow)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="wall-clock"):
            ctx.eval("for (let i = 0; i < 10; i++) { try { slow() } catch (e) {} } 'finished'")
        assert time.monotonic() - started < 1.3 + SLACK
        assert len(calls) <= 4
        assert ctx.eval("1 + 1") == 2


def test_sync_functions_learn_the_time_remaining() -> None:
    seen: list[float | None] = []

    def probe() -> None:
        seen.append(quickbox.time_remaining())

    with Runtime(wall_timeout=2.0) as rt, rt.new_context() as ctx:
        ctx.register("probe", probe)
        ctx.eval("probe()")
    with Runtime() as rt, rt.new_context() as ctx:
        ctx.register("probe", probe)
        ctx.eval("probe()")
    remaining, unlimited = seen
    assert remaining is not None and 1.8 < remaining <= 2.0
    assert unlimited is None
    assert quickbox.time_remaining() is None  # outside a host function


async def test_async_functions_learn_the_time_remaining() -> None:
    seen: list[float | None] = []

    async def probe() -> None:
        await asyncio.sleep(0.05)
        seen.append(quickbox.time_remaining())

    with Runtime(wall_timeout=2.0) as rt, rt.new_context() as ctx:
        ctx.register("probe", probe)
        await ctx.eval_async("await probe()")
    assert seen[0] is not None and 1.7 < seen[0] < 2.0


# ---- Host memory and pending calls ----------------------------------------------------------------------


async def test_pending_call_arguments_count_against_the_host_memory_limit() -> None:
    # The review's case: a 16 MiB context making 1,500 calls with 1 MB arguments left pending.
    with Runtime(memory_limit=16 << 20, timeout=60) as rt, rt.new_context() as ctx:
        ctx.ask("hold")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result = await ctx.start("""
            const big = 'x'.repeat(1e6);
            const refused = [];
            const held = [];
            for (let i = 0; i < 1500; i++) held.push(hold(big).catch(e => refused.push(e)));
            await null; await null;
            globalThis.summary = { refused: refused.length, name: refused[0].name, message: refused[0].message };
            await Promise.all(held);
        """)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
        assert result.suspended
        assert 0 < len(result.pending) <= 8
        summary = ctx.globals["summary"]
        assert summary["refused"] == 1500 - len(result.pending)
        assert summary["name"] == "Error"
        assert "host memory budget" in summary["message"]
        assert grown < 128 << 20, f"the process grew by {grown >> 20} MiB"
        ctx.abandon()


def test_an_uncaught_host_memory_refusal_is_a_js_error() -> None:
    with Runtime(host_memory_limit=1 << 20) as rt, rt.new_context() as ctx:
        ctx.register("echo", lambda value: value)
        with pytest.raises(quickbox.JSError, match="host memory budget"):
            ctx.eval("echo('x'.repeat(600000))")


async def test_pending_calls_per_evaluation_are_capped() -> None:
    with Runtime(max_pending_calls=10) as rt, rt.new_context() as ctx:
        ctx.ask("hold")
        result = await ctx.start("""
            globalThis.refused = [];
            const held = [];
            for (let i = 0; i < 25; i++) held.push(hold(i).catch(e => refused.push(e.message)));
            await Promise.all(held);
        """)
        assert len(result.pending) == 10
        refused = ctx.globals["refused"]
        assert len(refused) == 15 and "pending calls" in refused[0]
        ctx.abandon()


@pytest.mark.parametrize("options, message", [
    ({"host_memory_limit": 1000}, "host_memory_limit must be between 1048576 and 1099511627776 bytes"),
    ({"host_memory_limit": -1}, "host_memory_limit must be between"),
    ({"max_pending_calls": 0}, "max_pending_calls must be between 1 and 1000000 calls, got 0"),
])
def test_the_new_limits_are_validated_with_their_python_names(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Runtime(**options)


@pytest.mark.parametrize("options", [{"host_memory_limit": "16M"}, {"max_pending_calls": 2.5},
                                     {"max_pending_calls": True}])
def test_the_new_limits_must_be_whole_numbers(options: dict[str, Any]) -> None:
    name = next(iter(options))
    with pytest.raises(TypeError, match=f"{name} must be a whole number"):
        Runtime(**options)
