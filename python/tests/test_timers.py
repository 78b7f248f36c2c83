"""Timers from Python: a program may await setTimeout (it is not a deadlock), the wait is bounded by
the time limits, pending timers are capped by Runtime(max_timers=...), a fixed clock jumps to the
next timer instead of sleeping, timers keep time while async Python functions run, and a timer
pending in a snapshot waits, after a restore, for what was left of its delay."""

import asyncio
import time

import pytest

import quickbox
from quickbox import DeadlockError, InvalidInputError, JSError, Runtime, TimeoutError

SLEEP = "var sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));"


def test_awaiting_a_timer_waits_for_it_and_is_not_a_deadlock(ctx: quickbox.Context) -> None:
    started = time.monotonic()
    assert ctx.eval(SLEEP + "await sleep(50); 'woke'") == "woke"
    assert time.monotonic() - started >= 0.05
    with pytest.raises(DeadlockError):
        ctx.eval("await new Promise(() => {})")


def test_intervals_repeat_until_cleared(ctx: quickbox.Context) -> None:
    assert ctx.eval(SLEEP + """
        const ticks = [];
        const id = setInterval((tag) => { ticks.push(tag); if (ticks.length === 3) clearInterval(id); }, 5, 'tick');
        await sleep(50);
        ticks""") == ["tick", "tick", "tick"]


def test_a_timer_due_after_the_wall_timeout_raises_timeout_at_once() -> None:
    with Runtime(wall_timeout=0.3) as rt, rt.new_context() as ctx:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="wall-clock limit of 300 ms"):
            ctx.eval(SLEEP + "await sleep(60_000)")
        assert time.monotonic() - started < 0.25


def test_without_a_wall_timeout_timers_wait_at_most_the_cpu_timeout() -> None:
    with Runtime(timeout=0.2) as rt, rt.new_context() as ctx:
        with pytest.raises(TimeoutError, match="time limit for timers of 200 ms"):
            ctx.eval(SLEEP + "await sleep(10_000)")


def test_pending_timers_are_capped() -> None:
    with Runtime(max_timers=2) as rt, rt.new_context() as ctx:
        with pytest.raises(JSError, match="too many timers: this sandbox allows 2"):
            ctx.eval("for (let i = 0; i < 3; i++) setTimeout(() => {}, 1000)")
    with pytest.raises(InvalidInputError, match="max_timers must be between 0 and 1000000 timers"):
        Runtime(max_timers=-1)
    with pytest.raises(TypeError, match="max_timers"):
        Runtime(max_timers=True)


def test_a_fixed_clock_jumps_to_the_next_timer_instead_of_sleeping() -> None:
    with Runtime(fixed_time_ms=1_000_000, wall_timeout=3600) as rt, rt.new_context() as ctx:
        started = time.monotonic()
        assert ctx.eval(SLEEP + "await sleep(10 * 60_000); Date.now()") == 1_000_000 + 600_000
        assert time.monotonic() - started < 0.5


async def test_a_restored_program_waits_for_what_was_left_of_its_timer() -> None:
    with Runtime() as rt, rt.new_context() as ctx:
        ctx.external("ask")
        result = await ctx.start("""
            const timer = new Promise((resolve) => setTimeout(() => resolve('timer'), 300));
            const answer = await ask();
            [answer, await timer]""")
        assert result.suspended
        snapshot = ctx.create_snapshot()
        time.sleep(0.4)  # longer than the delay: time stored in a snapshot does not count

        with rt.restore(snapshot) as restored:
            restored.external("ask")
            restored.resolve(result.pending[0].id, "yes")
            started = time.monotonic()
            done = await restored.resume()
            assert done.value == ["yes", "timer"]
            assert time.monotonic() - started >= 0.25


async def test_a_timer_fires_on_time_while_an_async_python_function_runs() -> None:
    with Runtime() as rt, rt.new_context() as ctx:
        async def slow_tool() -> str:
            await asyncio.sleep(0.5)
            return "tool"

        ctx.register("slow_tool", slow_tool)
        started = time.monotonic()
        winner = await ctx.eval_async("""
            await Promise.race([slow_tool(), new Promise((resolve) => setTimeout(() => resolve('timer'), 50))])""")
        assert winner == "timer"
        assert time.monotonic() - started < 0.45, "the timer did not wait for the tool"


async def test_a_function_that_lost_a_race_is_cancelled_when_the_evaluation_ends() -> None:
    cancelled = asyncio.Event()

    async def slow_tool() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "tool"

    async def fast_tool() -> str:
        return "fast"

    with Runtime() as rt, rt.new_context() as ctx:
        ctx.register("slow_tool", slow_tool)
        ctx.register("fast_tool", fast_tool)
        race = "await Promise.race([slow_tool(), new Promise((resolve) => setTimeout(resolve, 20, 'timer'))])"
        assert await ctx.eval_async(race) == "timer"
        await asyncio.wait_for(cancelled.wait(), 1)
        # the next evaluation is not disturbed by the call the first one left behind
        assert await ctx.eval_async("await fast_tool()") == "fast"
