"""Console lines reach ``on_console`` and the ``quickbox.console`` logger as the program prints
them, while it still runs; each line once; and a callback that raises stops the evaluation and
is raised by it."""

import asyncio
import logging
import threading
import time

import pytest

from quickbox import ConcurrentEvalError, ConsoleLine, Runtime


class Full(Exception):
    """What the failing callback below raises."""


def listener(line: ConsoleLine) -> None:
    """An on_console callback that fails on the line "boom", as a full log would."""
    if line.text == "boom":
        raise Full("the log is full")


def test_a_line_arrives_while_the_program_still_runs() -> None:
    received: list[tuple[float, str]] = []
    with Runtime(on_console=lambda line: received.append((time.monotonic(), line.text))) as rt, \
            rt.new_context() as ctx:
        @ctx.function
        def lines_so_far() -> int:
            return len(received)

        started = time.monotonic()
        seen = ctx.eval("console.log('working'); const seen = lines_so_far();\n"
                        "{ const t = Date.now(); while (Date.now() - t < 300) {} }\n"
                        "seen")
        ended = time.monotonic()
    assert seen == 1, "the program saw the callback's record right after printing"
    assert [text for _, text in received] == ["working"]
    assert received[0][0] - started < ended - started - 0.2, "delivered before the 300 ms spin, not after it"
    assert [line.text for line in ctx.console] == ["working"], "ctx.console still has the evaluation's lines"


def test_each_line_is_delivered_once_to_the_callback_and_the_logger(caplog: pytest.LogCaptureFixture) -> None:
    received: list[ConsoleLine] = []
    with Runtime(on_console=received.append) as rt, rt.new_context() as ctx:
        with caplog.at_level(logging.DEBUG, logger="quickbox.console"):
            ctx.eval("console.log('a'); console.error('b'); console.debug('c')")
    assert received == [ConsoleLine("log", "a"), ConsoleLine("error", "b"), ConsoleLine("debug", "c")]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("INFO", "a"), ("ERROR", "b"), ("DEBUG", "c")]


def test_lines_beyond_the_console_limit_are_dropped_and_counted() -> None:
    received: list[str] = []
    # a line costs its text and its line break: 9 + 3 fit in 12, the 7 of 'abcdef' do not
    with Runtime(console_limit=12, on_console=lambda line: received.append(line.text)) as rt, \
            rt.new_context() as ctx:
        ctx.eval("console.log('12345678'); console.log('abcdef'); console.log('90')")
        assert received == ["12345678", "90"]
        assert ctx.console_dropped_bytes == 7


def test_a_callback_that_raises_stops_the_evaluation_and_is_raised_by_it() -> None:
    with Runtime(on_console=listener) as rt, rt.new_context(timeout=10) as ctx:
        started = time.monotonic()
        with pytest.raises(Full, match="the log is full"):
            ctx.eval("console.log('boom'); for (;;) {}")
        assert time.monotonic() - started < 3, "stopped at once, not at the CPU limit"
        with pytest.raises(Full):
            ctx.eval("console.log('boom'); 'finished'")
        assert ctx.eval("console.log('fine'); 6 * 7") == 42


def test_operations_tried_from_the_callback_on_its_own_context_are_refused_naming_on_console() -> None:
    # They were refused in the words of other causes ("an eval_async or start must finish",
    # "from inside a host function"), sending the reader after the wrong mistake.
    seen: dict[str, str] = {}

    def on_console(line: ConsoleLine) -> None:
        for name, action in [("eval", lambda: ctx.eval("1")), ("call", lambda: ctx.call("String", 1)),
                             ("globals", lambda: ctx.globals["x"]), ("snapshot", ctx.create_snapshot),
                             ("register", lambda: ctx.register("late", lambda: 1)), ("reset", ctx.reset),
                             ("memory_usage", ctx.memory_usage)]:
            try:
                action()
                seen[name] = "ran"
            except ConcurrentEvalError as error:
                seen[name] = str(error)

    with Runtime(on_console=on_console) as rt, rt.new_context() as ctx:
        ctx.register("helper", lambda: ctx.eval("console.log('nested'); 1"))
        assert ctx.eval("var x = 1; console.log('hi'); 7") == 7, "the evaluation goes on"
        assert len(seen) == 7
        for name, message in seen.items():
            assert "cannot run from on_console" in message, f"{name}: {message}"
        seen.clear()
        assert ctx.eval("helper() + 1") == 2, "printed by an eval nested in a host function"
        for name, message in seen.items():
            assert "cannot run from on_console" in message, f"{name}: {message}"


def test_eval_async_delivers_lines_from_the_thread_running_the_program() -> None:
    threads: list[int] = []
    with Runtime(on_console=lambda line: threads.append(threading.get_ident())) as rt, rt.new_context() as ctx:
        async def main() -> int:
            loop_thread = threading.get_ident()
            await ctx.eval_async("console.log('from the worker')")
            return loop_thread

        loop_thread = asyncio.run(main())
    assert len(threads) == 1 and threads[0] != loop_thread


def test_a_restored_context_keeps_delivering_lines_live() -> None:
    received: list[str] = []
    with Runtime(on_console=lambda line: received.append(line.text)) as rt, rt.new_context() as ctx:
        ctx.eval("globalThis.greet = () => console.log('hello again'); undefined")
        snapshot = ctx.create_snapshot()
        rt.restore_snapshot(snapshot, ctx)
        ctx.eval("greet()")
        with rt.restore(snapshot) as restored:
            restored.eval("greet()")
        for forked in rt.fork(snapshot, 2):
            with forked:
                forked.eval("greet()")
    assert received == ["hello again"] * 4


def test_a_callback_that_raises_in_a_nested_eval_stops_the_calling_evaluation_too() -> None:
    with Runtime(on_console=listener) as rt, rt.new_context(timeout=10) as ctx:
        @ctx.function
        def inner() -> int:
            ctx.eval("console.log('boom')")
            return 1

        started = time.monotonic()
        with pytest.raises(Full, match="the log is full"):
            ctx.eval("try { inner() } catch (e) {} for (;;) {}")
        assert time.monotonic() - started < 3
        assert ctx.eval("1 + 1") == 2
