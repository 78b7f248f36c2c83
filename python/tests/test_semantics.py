"""Behaviour a quickjs-rs user or a new user expects: results, errors as Python sees them, host
exceptions sanitised for JavaScript, KeyboardInterrupt, eval_async off the event loop, globals as
a mapping, reset(), ThreadWorker, live console output and the checks of what register() takes."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
from _loop import loop_ticks

import quickbox
from quickbox import (
    ConsoleLine,
    Context,
    HostError,
    JSError,
    MarshalError,
    Runtime,
    ThreadWorker,
    TimeoutError,
)

# ---- results and errors ---------------------------------------------------------------------------


def test_a_top_level_undefined_is_none_and_a_nested_one_stays_undefined(ctx: Context) -> None:
    assert ctx.eval("undefined") is None
    assert ctx.eval("[undefined]") == [quickbox.UNDEFINED]


async def test_eval_async_too_returns_none_for_undefined(ctx: Context) -> None:
    assert await ctx.eval_async("undefined") is None


def test_a_thrown_non_error_is_an_error_named_error_without_a_stack(ctx: Context) -> None:
    with pytest.raises(JSError) as raised:
        ctx.eval("throw 'bare'")
    assert (raised.value.name, raised.value.message, raised.value.stack) == ("Error", "bare", None)


def test_javascript_sees_a_fixed_message_for_a_host_exception_and_the_audit_log_keeps_it(ctx: Context) -> None:
    @ctx.function
    def leaky() -> None:
        raise ValueError("password=hunter2")

    seen = ctx.eval("try { leaky() } catch (e) { `${e.name}: ${e.message}` }")
    assert seen == "HostError: Host function failed"
    assert "hunter2" not in ctx.eval("try { leaky() } catch (e) { String(e.stack) }")
    assert ctx.audit_log[-1].detail == "ValueError: password=hunter2"


async def test_an_async_host_exception_is_sanitised_too(ctx: Context) -> None:
    @ctx.function
    async def leaky() -> None:
        raise ValueError("token=abc")

    assert await ctx.eval_async("try { await leaky() } catch (e) { e.message }") == "Host function failed"
    assert ctx.audit_log[-1].detail == "ValueError: token=abc"
    with pytest.raises(ValueError, match="token=abc"):
        await ctx.eval_async("await leaky()")


def test_an_escaping_host_exception_is_raised_as_itself_and_a_made_up_hosterror_as_hosterror(ctx: Context) -> None:
    @ctx.function
    def fail() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError) as raised:
        ctx.eval("fail()")
    # its traceback still leads into the host function, where it was raised
    assert raised.traceback[-1].name == "fail"
    with pytest.raises(HostError, match="synth"):
        ctx.eval("try { fail() } catch {} const e = new Error('synth'); e.name = 'HostError'; throw e")


@pytest.mark.parametrize("exception", [KeyboardInterrupt, SystemExit])
def test_keyboardinterrupt_and_systemexit_from_a_host_function_are_not_catchable_by_javascript(
        ctx: Context, exception: type[BaseException]) -> None:
    @ctx.function
    def stop() -> None:
        raise exception()

    with pytest.raises(exception):
        ctx.eval("let caught = false; try { stop() } catch { caught = true; while (true) {} }")
    assert ctx.eval("1 + 1") == 2


def test_marshal_error_names_where_the_bad_value_is(ctx: Context) -> None:
    with pytest.raises(MarshalError, match=r"set.*\(at \$\.config\.items\[2\]\)"):
        ctx.globals["x"] = {"config": {"items": [1, 2, {3}]}}
    with pytest.raises(MarshalError, match=r"\$\['not an identifier'\]"):
        ctx.globals["x"] = {"not an identifier": object()}


# ---- host functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["1bad", "bad name", "", "a..b", "tools."])
def test_register_refuses_a_name_javascript_cannot_call(ctx: Context, name: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        ctx.register(name, lambda: 1)


def test_register_refuses_a_value_that_is_not_callable(ctx: Context) -> None:
    with pytest.raises(TypeError, match="callable.*ctx.globals"):
        ctx.register("x", 42)  # type: ignore[arg-type]
    ctx.register("$ok.tools_1", lambda: 1)
    assert ctx.eval("$ok.tools_1()") == 1


def test_call_reaches_a_const_function(ctx: Context) -> None:
    ctx.eval("const double = (x) => x * 2; let asyncTwice = async (x) => x * 2")
    assert ctx.call("double", 21) == 42
    assert ctx.call("asyncTwice", 4) == 8


# ---- globals -------------------------------------------------------------------------------------------


def test_call_reaches_a_dotted_host_function_and_reads_a_global_once(ctx: Context) -> None:
    ctx.register("tools.search", lambda query: f"found {query}")
    assert ctx.call("tools.search", "x") == "found x"
    assert ctx.call("Math.max", 1, 5, 3) == 5
    # a getter on globalThis runs once per call: the check for a lexical binding does not read it
    ctx.eval("globalThis.reads = 0; Object.defineProperty(globalThis, 'counted', "
             "{ get() { reads++; return () => reads } }); 0")
    assert ctx.call("counted") == 1


def test_globals_is_a_mapping_that_sees_lexical_bindings(ctx: Context) -> None:
    ctx.eval("var a = 1; let b = 2; const c = {x: 3}; globalThis.u = undefined")
    assert (ctx.globals["a"], ctx.globals["b"], ctx.globals["c"]) == (1, 2, {"x": 3})
    assert "b" in ctx.globals and "u" not in ctx.globals and "nope" not in ctx.globals
    assert ctx.globals["u"] is None
    with pytest.raises(KeyError):
        ctx.globals["nope"]
    assert ctx.globals.get("nope", "default") == "default"
    ctx.globals["d"] = 4
    assert {"a", "d"} <= set(ctx.globals.keys()) and len(ctx.globals) >= 2
    del ctx.globals["d"]
    assert "d" not in ctx.globals
    with pytest.raises(KeyError):
        del ctx.globals["d"]


def test_globals_holds_only_names_a_program_can_bind(ctx: Context) -> None:
    # A reserved word is an expression, not a binding: `this` was read as the global object.
    for word in ("this", "null", "true", "typeof", "new", "super", "import"):
        assert word not in ctx.globals, word
        with pytest.raises(KeyError):
            ctx.globals[word]
    ctx.eval("let $price = 5")
    assert ctx.globals["$price"] == 5, "JavaScript identifiers may hold $"


# ---- lifecycle -------------------------------------------------------------------------------------------


def test_reset_gives_a_fresh_vm_with_the_same_functions(ctx: Context) -> None:
    ctx.register("one", lambda: 1)
    ctx.eval("globalThis.state = 'old'")
    ctx.reset()
    assert ctx.eval("typeof state") == "undefined"
    assert ctx.eval("one()") == 1


def test_a_signing_key_must_be_bytes(rt: Runtime, ctx: Context) -> None:
    with pytest.raises(TypeError, match="bytes"):
        ctx.create_snapshot(key=12345)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes"):
        rt.restore(ctx.create_snapshot(), key=12345)  # type: ignore[arg-type]


async def test_create_snapshot_async_and_restore_inject_globals(rt: Runtime, ctx: Context) -> None:
    ctx.eval("globalThis.kept = 7")
    snapshot = await rt.create_snapshot_async(ctx)
    with rt.new_context() as other:
        rt.restore_snapshot(snapshot, other, inject_globals=False)
        assert other.eval("typeof kept") == "undefined"
        rt.restore_snapshot(snapshot, other)
        assert other.eval("kept") == 7


def test_runtime_memory_usage_sums_contexts_and_run_gc_runs(rt: Runtime) -> None:
    assert set(rt.memory_usage().values()) == {0}
    with rt.new_context() as ctx:
        ctx.eval("globalThis.p = Array.from({length: 500}, (_, i) => ({i}))")
        assert rt.memory_usage()["obj_count"] > 500
        rt.run_gc()


# ---- threads, the event loop and signals ---------------------------------------------------------------


async def test_eval_async_leaves_the_event_loop_free(ctx: Context) -> None:
    async with loop_ticks() as ticks:
        with pytest.raises(TimeoutError):
            await ctx.eval_async("while (true) {}", timeout=0.5)
    assert ticks[0] >= 10, "other coroutines ran while JavaScript did"


@pytest.mark.parametrize("program", ["while (true) {}", "await new Promise((resolve) => setTimeout(resolve, 20000))"],
                         ids=["a long eval", "a program waiting on a timer"])
async def test_cancelling_an_eval_async_stops_the_program(ctx: Context, program: str) -> None:
    task = asyncio.create_task(ctx.eval_async(program, timeout=30))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 5
    assert ctx.eval("'usable'") == "usable"


def _run_python(body: str) -> list[str]:
    """Runs `body` in a fresh interpreter (signals and the wakeup fd are the process's), where
    `interrupt_soon()` sends the process SIGINT half a second later and `run_until_ctrl_c(run)`
    does so around `run()`, printing how long it took to stop; returns the lines printed."""
    program = textwrap.dedent("""
        import os, signal, socket, threading, time, quickbox
        def interrupt_soon():
            threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        def run_until_ctrl_c(run):
            interrupt_soon()
            started = time.monotonic()
            try:
                run()
            except KeyboardInterrupt:
                print("interrupted after", round(time.monotonic() - started, 1), flush=True)
    """) + textwrap.dedent(body)
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def _stopped_at_once(line: str) -> bool:
    """Whether run_until_ctrl_c printed that the program stopped well before its CPU limit."""
    return line.startswith("interrupted after") and float(line.split()[-1]) < 5


@pytest.mark.parametrize("program", ["while (true) {}", "await new Promise((resolve) => setTimeout(resolve, 20000)); 1"],
                         ids=["a long eval", "a program waiting on a timer"])
def test_ctrl_c_stops_an_eval_at_once(program: str) -> None:
    lines = _run_python(f"""
        ctx = quickbox.Runtime(timeout=60).new_context()
        run_until_ctrl_c(lambda: ctx.eval({program!r}))
        print(ctx.eval("'still usable'"))
    """)
    assert _stopped_at_once(lines[0]), lines
    assert lines[1] == "still usable"


def test_ctrl_c_stops_ctx_call_and_handle_call_at_once() -> None:
    lines = _run_python("""
        ctx = quickbox.Runtime(timeout=60).new_context()
        ctx.eval("globalThis.spin = () => { while (true) {} }; 0")
        spin = ctx.eval_handle("spin")
        for what, run in (("ctx.call", lambda: ctx.call("spin")), ("Handle.call", lambda: spin.call())):
            interrupt_soon()
            started = time.monotonic()
            try:
                run()
            except KeyboardInterrupt:
                print(what, round(time.monotonic() - started, 1))
        print(ctx.eval("'still usable'"))
    """)
    assert [line.split()[0] for line in lines[:2]] == ["ctx.call", "Handle.call"], lines
    assert all(float(line.split()[-1]) < 5 for line in lines[:2]), lines
    assert lines[2] == "still usable"


def test_ctrl_c_stops_program_code_run_by_globals_and_handles() -> None:
    # Getters, setters and conversions run the program's code too, not only eval and call.
    lines = _run_python("""
        ctx = quickbox.Runtime(timeout=60).new_context()
        ctx.eval("Object.defineProperty(globalThis, 'spinning', { get() { for (;;) {} }, set(v) { for (;;) {} } });"
                 "globalThis.box = { get inside() { for (;;) {} }, set inside(v) { for (;;) {} } };"
                 "globalThis.trap = new Proxy({}, { has() { for (;;) {} } }); 0")
        box, trap = ctx.eval_handle("box"), ctx.eval_handle("trap")
        runs = (lambda: ctx.globals["spinning"], lambda: ctx.globals.__setitem__("spinning", 1),
                lambda: box.to_python(), lambda: box.get("inside"), lambda: box.set("inside", 1),
                lambda: trap.has("x"))
        for run in runs:
            run_until_ctrl_c(run)
        print(ctx.eval("'still usable'"))
    """)
    assert len(lines) == 7 and lines[6] == "still usable", lines
    assert all(_stopped_at_once(line) for line in lines[:6]), lines


def test_ctrl_c_stops_program_code_run_by_an_answer() -> None:
    # Settling a call with a thenable reads its `then` there and then: program code.
    lines = _run_python("""
        import asyncio
        ctx = quickbox.Runtime(timeout=60).new_context()
        ctx.ask("question")
        sly = ctx.eval_handle("({ get then() { for (;;) {} } })")
        async def suspended():
            return (await ctx.start("await question()")).pending[0].id
        call = asyncio.run(suspended())
        run_until_ctrl_c(lambda: ctx.answer(call, sly))
        print(ctx.eval("'still usable'"))
    """)
    assert _stopped_at_once(lines[0]), lines
    assert lines[1] == "still usable"


def test_ctrl_c_stops_an_eval_made_by_a_host_function_of_another_context() -> None:
    lines = _run_python("""
        rt = quickbox.Runtime(timeout=60)
        outer, inner = rt.new_context(), rt.new_context()
        outer.register("spinInner", lambda: inner.eval("while (true) {}"))
        run_until_ctrl_c(lambda: outer.eval("try { spinInner() } catch {} while (true) {}"))
        print(outer.eval("1 + 1"), inner.eval("2 + 2"))
    """)
    assert _stopped_at_once(lines[0]), lines
    assert lines[1] == "2 4"


# AddressSanitizer's allocator (GCC 12's, which make test-asan preloads) has a lock no fork handler
# takes: forked while another thread of the parent held it, the child's first new thread waits on it
# forever (seen once in 15 runs, in ASan's own thread set-up; never in 30 runs without ASan).
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer's allocator can deadlock a forked child of a threaded process")
def test_ctrl_c_stops_a_long_eval_in_a_forked_child() -> None:
    # The parent's watcher (made by its first eval) did not come along into the child, and it
    # must not take the child's Ctrl-C for the parent's.
    lines = _run_python("""
        ctx = quickbox.Runtime(timeout=60).new_context()
        ctx.eval("1")
        pid = os.fork()
        if pid == 0:
            run_until_ctrl_c(lambda: ctx.eval("while (true) {}"))
            os._exit(0)
        os.waitpid(pid, 0)
        print(ctx.eval("'parent usable'"))
    """)
    assert _stopped_at_once(lines[0]), lines
    assert lines[1] == "parent usable"


def test_a_signal_a_forked_child_gets_does_not_interrupt_the_parent() -> None:
    # The child inherits the wakeup fd, the write end of the pipe the parent's watcher reads.
    lines = _run_python("""
        ctx = quickbox.Runtime(timeout=60).new_context()
        ctx.eval("1")
        pid = os.fork()
        if pid == 0:
            time.sleep(0.3)
            try:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)
            except KeyboardInterrupt:
                os._exit(7)
            os._exit(0)
        print(ctx.eval("const t = Date.now(); while (Date.now() - t < 1500) {} 'parent finished'"))
        _, status = os.waitpid(pid, 0)
        print("child interrupted:", os.waitstatus_to_exitcode(status) == 7)
    """)
    assert lines == ["parent finished", "child interrupted: True"]


def test_an_event_loops_wakeup_fd_is_left_alone_and_ctrl_c_works_again_once_it_is_given_up() -> None:
    # The watcher keeps the wakeup fd between evaluations; an event loop that sets its own wins,
    # and once the loop lets go, an evaluation takes it back (it checks at most every 0.1 s).
    lines = _run_python("""
        import asyncio
        ctx = quickbox.Runtime(timeout=60).new_context()
        ctx.eval("1")
        got = []
        loop = asyncio.new_event_loop()
        loop.add_signal_handler(signal.SIGUSR1, got.append, "usr1")
        for pause in (0, 0.15):  # within the watcher's re-check interval, then past it
            time.sleep(pause)
            ctx.eval("1")
            os.kill(os.getpid(), signal.SIGUSR1)
            loop.run_until_complete(asyncio.sleep(0.1))
            print("the loop's handler ran:", got == ["usr1"])
            got.clear()
        loop.remove_signal_handler(signal.SIGUSR1)
        loop.close()
        time.sleep(0.15)
        run_until_ctrl_c(lambda: ctx.eval("while (true) {}"))
    """)
    assert lines[:2] == ["the loop's handler ran: True"] * 2, lines
    assert _stopped_at_once(lines[2]), lines


def test_thread_worker_runs_coroutines_for_sync_and_async_callers() -> None:
    with ThreadWorker(name="qb-test") as worker:
        async def make() -> tuple[Runtime, Context]:
            rt = Runtime()
            return rt, rt.new_context()

        rt, ctx = worker.run_sync(make())

        async def slow(v: int) -> int:
            await asyncio.sleep(0.01)
            return v * 2

        ctx.register("slow", slow)
        assert worker.run_sync(ctx.eval_async("await slow(21)")) == 42

        async def from_async_caller() -> Any:
            return await worker.run_async(ctx.eval_async("await slow(2)"))

        assert asyncio.run(from_async_caller()) == 4
        with pytest.raises(JSError):
            worker.run_sync(ctx.eval_async("throw new Error('x')"))
        rt.close()
    worker.close()


def test_sync_eval_on_another_thread_than_the_one_that_made_the_context(ctx: Context) -> None:
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(ctx.eval("6 * 7")))
    thread.start()
    thread.join()
    assert results == [42]


# ---- console ---------------------------------------------------------------------------------------------------


async def test_console_lines_reach_the_callback_and_logging_while_the_program_waits(
        caplog: pytest.LogCaptureFixture) -> None:
    received: list[ConsoleLine] = []
    seen_before_the_end: list[int] = []

    async def checkpoint() -> None:
        seen_before_the_end.append(len(received))

    with Runtime(on_console=received.append) as rt, rt.new_context() as ctx:
        ctx.register("checkpoint", checkpoint)
        with caplog.at_level(logging.DEBUG, logger="quickbox.console"):
            await ctx.eval_async("console.log('one'); await checkpoint(); console.warn('two')")
    assert received == [ConsoleLine("log", "one"), ConsoleLine("warn", "two")]
    assert seen_before_the_end == [1]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("INFO", "one"), ("WARNING", "two")]


# ---- packaging ------------------------------------------------------------------------------------------------------


def test_quickbox_langchain_without_the_extra_names_it(tmp_path: Any) -> None:
    blocker = tmp_path / "deepagents.py"
    blocker.write_text("raise ModuleNotFoundError(\"No module named 'deepagents'\", name='deepagents')\n")
    # The blocker goes first on the path; the rest stays, so quickbox is found where it was (make
    # test-asan puts it on PYTHONPATH).
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    out = subprocess.run([sys.executable, "-c", "import quickbox.langchain"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": path}, timeout=60)
    assert out.returncode != 0
    assert "pip install 'quickbox[langchain]'" in out.stderr



async def test_an_async_host_call_the_program_never_awaited_is_not_silently_dropped(ctx: Context) -> None:
    ran: list[int] = []

    @ctx.function
    async def fire(n: int) -> None:
        ran.append(n)

    with pytest.raises(quickbox.QuickJSError, match="'fire' without awaiting"):
        await ctx.eval_async("fire(1); 'done'")
    with pytest.raises(quickbox.ConcurrentEvalError, match="'fire'"):
        ctx.eval("fire(2); 'done'")
    assert await ctx.eval_async("await fire(3); 'done'") == "done"
    assert ran == [3]


def test_datetimes_and_dates_enter_javascript_as_dates(ctx: Context) -> None:
    from datetime import date, datetime, timedelta, timezone

    ctx.globals["when"] = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=1)))
    assert ctx.eval("when instanceof Date && when.toISOString()") == "2024-01-02T02:04:05.678Z"
    ctx.globals["naive"] = datetime(2024, 1, 1)  # taken as UTC
    assert ctx.eval("naive.toISOString()") == "2024-01-01T00:00:00.000Z"
    ctx.globals["day"] = date(2024, 5, 6)
    assert ctx.eval("day.toISOString()") == "2024-05-06T00:00:00.000Z"
    ctx.register("y2k", lambda: datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert ctx.eval("y2k().getUTCFullYear()") == 2000
    assert ctx.eval("new Date(0)") == "1970-01-01T00:00:00.000Z", "a Date leaving is its ISO text"


def test_a_datetime_keeps_its_milliseconds_and_drops_what_is_finer(ctx: Context) -> None:
    # as `new Date(y, m, d, h, mi, s, 999.6)` does; rounding carried 9999's last microsecond into
    # the year 10000, and a float timestamp could lose a millisecond
    from datetime import datetime, timezone

    for moment, iso in [(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), "9999-12-31T23:59:59.999Z"),
                        (datetime(2020, 1, 1, 0, 0, 0, 999600), "2020-01-01T00:00:00.999Z"),
                        (datetime(1969, 12, 31, 23, 59, 59, 999600), "1969-12-31T23:59:59.999Z"),
                        (datetime(2020, 1, 1, 0, 0, 0, 1000), "2020-01-01T00:00:00.001Z"),
                        (datetime(1, 1, 1), "0001-01-01T00:00:00.000Z")]:
        ctx.globals["moment"] = moment
        assert ctx.eval("moment.toISOString()") == iso, moment
