"""Threads and asyncio: the GIL is released while JavaScript runs, contexts are independent across
threads, async host functions run on the caller's event loop within their in-flight cap, and
cancelling the awaiting task cancels the host calls inside JavaScript."""

import asyncio
import threading
import time
from typing import Any

import pytest
from _http_server import Reply, Seen, serve
from _loop import loop_ticks

from quickbox import ConcurrentEvalError, Context, Network, Policy, Runtime

# A CPU-bound loop: no host calls, no allocation; ITERATIONS is calibrated to about 300 ms.
SPIN = "(() => {{ let x = 0; for (let i = 0; i < {n}; i++) x = (x + i) | 0; return x }})()"


def calibrated_spin(ctx: Context, seconds: float = 0.3) -> str:
    """The SPIN program sized to run about `seconds` on this machine right now."""
    iterations = 200_000
    started = time.perf_counter()
    ctx.eval(SPIN.format(n=iterations))
    per_iteration = (time.perf_counter() - started) / iterations
    return SPIN.format(n=max(iterations, int(seconds / per_iteration)))


def run_in_threads(*jobs: Any) -> float:
    """Runs the callables on one thread each, started together; returns the wall time."""
    barrier = threading.Barrier(len(jobs) + 1)
    errors: list[BaseException] = []

    def run(job: Any) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(60)
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


# ---- the GIL is released while JavaScript runs --------------------------------------------------

def test_js_running_in_two_threads_overlaps_in_time(rt: Runtime) -> None:
    # The GIL is released while JavaScript runs. Proven by overlap, not by speed-up: a speed-up
    # is a timing that a shared 2-core machine cannot promise. Each program notes when it started
    # and ended; with the GIL held during evaluation one would end before the other started.
    with rt.new_context() as a, rt.new_context() as b:
        spin = calibrated_spin(a, 0.2)
        timed = f"const began = Date.now(); {spin}; [began, Date.now()]"
        spans: list[list[int]] = []
        run_in_threads(lambda: spans.append(a.eval(timed)), lambda: spans.append(b.eval(timed)))
        (start_1, end_1), (start_2, end_2) = spans
        assert max(start_1, start_2) < min(end_1, end_2), f"the runs did not overlap: {spans}"


def test_a_python_thread_keeps_making_progress_while_js_runs(ctx: Context) -> None:
    # A plain ctx.eval keeps the GIL while it is short and lets it go once it runs long: this
    # one within its first tenth of a millisecond or so.
    assert_a_thread_progresses_during(ctx, calibrated_spin(ctx))


def test_a_python_thread_keeps_making_progress_while_the_engines_own_code_runs_long(ctx: Context) -> None:
    # One call into the engine's C code, with no JavaScript steps for interrupt checks to count:
    # the epoch tick reports it running long.
    ctx.eval("globalThis.text = '[' + '1,'.repeat(2e6) + '1]'; 0")
    assert_a_thread_progresses_during(ctx, "JSON.parse(text).length")


def test_a_python_thread_keeps_making_progress_while_js_waits_on_a_timer(ctx: Context) -> None:
    assert_a_thread_progresses_during(ctx, "await new Promise(resolve => setTimeout(resolve, 300))")


def test_a_python_thread_keeps_making_progress_while_js_waits_for_fetch() -> None:
    # The server is Python too: it could not answer if the waiting evaluation held the GIL.
    def slow(seen: Seen) -> Reply:
        time.sleep(0.3)
        return Reply(body=b"late")

    with serve(slow) as server, Runtime(network=Network(allow=[server.origin + "/"])) as rt, \
            rt.new_context() as ctx:
        assert_a_thread_progresses_during(ctx, f"await (await fetch('{server.url('/slow')}')).text()")


def test_a_long_eval_of_another_context_inside_a_host_function_lets_go_of_the_gil_too(rt: Runtime) -> None:
    # The outer evaluation still holds the GIL, short so far, when its host function runs the
    # inner one, which lets the GIL go and takes it back before the host function goes on.
    with rt.new_context() as outer, rt.new_context() as inner:
        spin = calibrated_spin(inner)
        outer.register("run_inner", lambda: inner.eval(spin))
        assert_a_thread_progresses_during(outer, "run_inner()")
        # Outer long first (the GIL already let go), then the inner run inside its host function.
        assert_a_thread_progresses_during(outer, f"{spin}; run_inner()")
        assert outer.eval("1 + 2") == 3 and inner.eval("'still usable'") == "still usable"


def assert_a_thread_progresses_during(ctx: Context, program: str) -> None:
    """Runs `program` with ctx.eval while another Python thread ticks every millisecond, and
    asserts that the thread ticked throughout."""
    ticks: list[float] = []
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        time.sleep(0.02)
        started = time.perf_counter()
        ctx.eval(program)
        ended = time.perf_counter()
    finally:
        stop.set()
        counter.join()
    during = [started] + [t for t in ticks if started < t < ended] + [ended]
    longest_gap = max(later - earlier for earlier, later in zip(during, during[1:]))
    assert len(during) - 2 >= 10, f"the counter ticked {len(during) - 2} times in {ended - started:.3f} s of JS"
    assert longest_gap < (ended - started) / 2, f"the counter stalled for {longest_gap:.3f} s"


def test_eight_threads_drive_their_own_contexts_without_cross_talk(rt: Runtime) -> None:
    threads, contexts_per_thread, evals_per_thread = 8, 2, 300

    def drive(index: int) -> None:
        contexts = [rt.new_context() for _ in range(contexts_per_thread)]
        try:
            for n, ctx in enumerate(contexts):
                ctx.register("whoami", lambda n=n: [index, n, threading.get_ident()])
                ctx.eval("globalThis.count = 0")
            for i in range(evals_per_thread):
                n = i % contexts_per_thread
                tag = f"thread {index} context {n} eval {i}"
                ctx = contexts[n]
                ctx.globals["tag"] = tag
                seen = ctx.eval("count++; [tag, whoami(), count]")
                assert seen == [tag, [index, n, threading.get_ident()], i // contexts_per_thread + 1], seen
            for ctx in contexts:
                assert ctx.eval("count") == evals_per_thread // contexts_per_thread
        finally:
            for ctx in contexts:
                ctx.close()

    run_in_threads(*[lambda i=i: drive(i) for i in range(threads)])


# ---- asyncio -------------------------------------------------------------------------------------

async def test_async_host_functions_run_on_the_callers_event_loop(ctx: Context) -> None:
    seen: list[tuple[asyncio.AbstractEventLoop, int]] = []

    @ctx.function
    async def where() -> str:
        seen.append((asyncio.get_running_loop(), threading.get_ident()))
        return "here"

    assert await ctx.eval_async("await where()") == "here"
    assert seen == [(asyncio.get_running_loop(), threading.get_ident())]


def test_event_loops_on_different_threads_each_run_their_own_host_functions(rt: Runtime) -> None:
    def drive() -> None:
        async def main() -> None:
            loop = asyncio.get_running_loop()
            with rt.new_context() as ctx:
                @ctx.function
                async def same_loop() -> bool:
                    await asyncio.sleep(0.001)
                    return asyncio.get_running_loop() is loop

                for _ in range(20):
                    assert await ctx.eval_async("(await same_loop()) && (await same_loop())") is True
        asyncio.run(main())

    run_in_threads(*[drive for _ in range(4)])


class InFlight:
    """Counts how many calls are inside an async host function at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.completed = 0

    async def call(self, i: int) -> int:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(0.005)
        finally:
            self.now -= 1
        self.completed += 1
        return i


async def test_concurrent_calls_of_an_async_function_respect_max_in_flight(ctx: Context) -> None:
    tracker = InFlight()
    ctx.register("work", tracker.call, policy=Policy(max_in_flight=3))
    result = await ctx.eval_async("await Promise.all(Array.from({length: 20}, (_, i) => work(i)))")
    assert result == list(range(20))
    assert tracker.completed == 20
    assert 2 <= tracker.peak <= 3, f"peak of {tracker.peak} calls in flight (cap 3)"


async def test_gathered_evaluations_share_the_loop_and_each_keeps_its_cap(rt: Runtime) -> None:
    overall = InFlight()
    trackers = [InFlight() for _ in range(4)]
    contexts = [rt.new_context() for _ in trackers]
    try:
        for ctx, tracker in zip(contexts, trackers):
            async def work(i: int, tracker: InFlight = tracker) -> int:
                return await overall.call(await tracker.call(i))
            ctx.register("work", work, policy=Policy(max_in_flight=2))
        program = "await Promise.all(Array.from({length: 10}, (_, i) => work(i)))"
        results = await asyncio.gather(*[ctx.eval_async(program) for ctx in contexts])
    finally:
        for ctx in contexts:
            ctx.close()
    assert results == [list(range(10))] * 4
    assert [t.completed for t in trackers] == [10] * 4
    assert max(t.peak for t in trackers) <= 2
    assert overall.peak > 2, "the evaluations ran concurrently on the loop"


# ---- cancellation ----------------------------------------------------------------------------------

async def test_cancelling_the_awaiting_task_cancels_host_calls_and_raises_cancelled_error(ctx: Context) -> None:
    started, host_cancelled = asyncio.Event(), asyncio.Event()

    @ctx.function
    async def slow() -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            host_cancelled.set()
            raise
        return "finished"

    task = asyncio.create_task(ctx.eval_async("globalThis.after = 'not reached'; await slow(); after = 'reached'"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(host_cancelled.wait(), 5)
    assert not ctx.suspended
    assert ctx.eval("after") == "not reached"
    assert ctx.eval("'usable afterwards'") == "usable afterwards"


async def test_js_that_catches_the_cancellation_decides_the_tasks_result(ctx: Context) -> None:
    started = asyncio.Event()

    @ctx.function
    async def slow() -> str:
        started.set()
        await asyncio.sleep(30)
        return "finished"

    task = asyncio.create_task(ctx.eval_async(
        "try { await slow() } catch (e) { `cleaned up after ${e.name}: ${e.message}` }"))
    await started.wait()
    task.cancel()
    result = await task
    assert result.startswith("cleaned up after ") and "cancelled" in result


async def test_calls_made_while_handling_the_cancellation_are_rejected_too(ctx: Context) -> None:
    started = asyncio.Event()
    calls: list[str] = []

    @ctx.function
    async def slow(name: str) -> str:
        calls.append(name)
        started.set()
        await asyncio.sleep(30)
        return name

    task = asyncio.create_task(ctx.eval_async("""
        try { await slow('first') }
        catch (e) {
            try { await slow('during cleanup') } catch (again) { 'second call rejected: ' + again.name }
        }"""))
    await started.wait()
    task.cancel()
    assert await asyncio.wait_for(task, 5) == "second call rejected: HostCancellationError"
    assert calls == ["first"], "the call made after cancellation never ran"


async def test_abandon_is_refused_while_an_eval_async_is_in_progress(ctx: Context) -> None:
    # The evaluation is the task's: dropping it under the task would leave the task nothing to
    # resume. Cancelling the task is the way to stop it.
    async def slow() -> int:
        await asyncio.sleep(0.2)
        return 1

    ctx.register("slow", slow)
    task = asyncio.create_task(ctx.eval_async("await slow()"))
    await asyncio.sleep(0.05)
    with pytest.raises(ConcurrentEvalError, match="an eval_async or start of this context is in progress"):
        ctx.abandon()
    assert await task == 1


def test_suspended_is_only_true_while_the_evaluation_waits(ctx: Context) -> None:
    # Not while its code runs: seen from a host function (or another thread) it is running.
    ctx.register("probe", lambda: ctx.suspended)
    assert ctx.eval("probe()") is False
    assert ctx.suspended is False


async def test_the_event_loop_runs_while_a_cancelled_program_reacts(ctx: Context) -> None:
    # Cancelling the awaiting task rejects the program's calls and lets it react; that reaction is
    # the program's code, run off the event loop like the rest of it.
    async def slow() -> None:
        await asyncio.sleep(10)

    ctx.register("slow", slow)
    task = asyncio.create_task(ctx.eval_async(
        "try { await slow() } catch (e) { const end = Date.now() + 500; while (Date.now() < end) {} 'reacted' }"))
    await asyncio.sleep(0.1)
    async with loop_ticks(0.02) as beats:
        task.cancel()
        assert await task == "reacted"  # it caught the cancellation and finished
    assert beats[0] >= 5, f"the event loop stood still while the program reacted ({beats[0]} beats)"


def test_runtime_wide_calls_while_one_context_runs_on_another_thread(rt: Runtime) -> None:
    # run_gc collects in the idle contexts; memory_usage cannot count the busy one and says so in
    # the runtime's own words.
    busy, idle = rt.new_context(timeout=10), rt.new_context()
    started = threading.Event()
    busy.register("started", started.set)
    worker = threading.Thread(target=busy.eval, args=("started(); let i = 0; while (i < 3e7) i++",))
    worker.start()
    try:
        assert started.wait(10)
        rt.run_gc()
        with pytest.raises(ConcurrentEvalError, match=r"rt\.memory_usage\(\) cannot count a context"):
            rt.memory_usage()
        assert idle.eval("'idle still works'") == "idle still works"
    finally:
        worker.join()
