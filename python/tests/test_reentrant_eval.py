"""A synchronous host function may evaluate in its own context: the evaluation runs nested, the
one that called the function carries on intact, and the nested one shares its limits, cannot
wait on async host functions, and is bounded in depth."""

import asyncio
import time

import pytest

from quickbox import (
    ConcurrentEvalError,
    Context,
    DeadlockError,
    JSError,
    QuickJSError,
    Runtime,
    TimeoutError,
)


def test_a_host_function_evaluates_in_its_own_context_and_the_caller_goes_on(ctx: Context) -> None:
    @ctx.function
    def double_in_js(value: int) -> int:
        doubled: int = ctx.eval(f"globalThis.seen = {value}; {value} * 2")
        return doubled

    assert ctx.eval("let before = 'kept'; [double_in_js(21), before, seen]") == [42, "kept", 21]


def test_arguments_survive_nested_evals_that_grow_the_sandboxs_buffers(ctx: Context) -> None:
    received: list[tuple[str, int]] = []

    @ctx.function
    def tag(name: str, size: int) -> str:
        big = ctx.eval(f"new Uint8Array({size}).fill(3)")
        assert len(big) == size and big[-1] == 3
        received.append((name, size))
        return name.upper()

    assert ctx.eval("[tag('first', 250000), tag('second', 1000), tag('third', 400000)].join('-')") == \
        "FIRST-SECOND-THIRD"
    assert received == [("first", 250000), ("second", 1000), ("third", 400000)]


def test_a_nested_error_is_raised_in_the_host_function_and_the_program_goes_on(ctx: Context) -> None:
    caught: list[BaseException] = []

    @ctx.function
    def attempt(code: str) -> str:
        try:
            ctx.eval(code)
        except JSError as error:
            caught.append(error)
            return "caught " + error.name
        return "no error"

    assert ctx.eval("attempt('throw new RangeError(\"inner\")') + ', then ' + (1 + 1)") == "caught RangeError, then 2"
    assert str(caught[0]).startswith("RangeError: inner")


def test_a_python_exception_inside_the_nested_eval_stays_with_it(ctx: Context) -> None:
    """The nested eval re-raises its own host function's exception; the outer program sees only the
    sanitised HostError of the function that let it through."""
    @ctx.function
    def fails() -> None:
        raise ValueError("secret detail")

    @ctx.function
    def outer() -> str:
        with pytest.raises(ValueError, match="secret detail"):
            ctx.eval("fails()")
        return "handled"

    assert ctx.eval("outer()") == "handled"


def test_call_globals_and_handles_work_from_inside_a_host_function(ctx: Context) -> None:
    @ctx.function
    def probe() -> list[object]:
        ctx.globals["from_host"] = "set"
        with ctx.eval_handle("({ greet: n => 'hi ' + n })") as obj:
            greeting = obj.call_method("greet", "there").to_python()
        return [ctx.call("add", 2, 3), ctx.globals["shared"], greeting, ctx.memory_usage()["obj_count"] > 0]

    result = ctx.eval("globalThis.add = (a, b) => a + b; globalThis.shared = [1]; [probe(), from_host]")
    assert result == [[5, [1], "hi there", True], "set"]


def test_nested_evaluations_share_the_outer_cpu_limit(rt: Runtime) -> None:
    with rt.new_context(timeout=0.3) as ctx:
        attempts: list[str] = []

        @ctx.function
        def spin() -> None:
            try:
                ctx.eval("for (;;) {}", timeout=30)  # asks for more than the caller has left
            except TimeoutError:
                attempts.append("timed out")
                raise

        started = time.monotonic()
        with pytest.raises(TimeoutError):
            ctx.eval("spin(); 'escaped'")
        assert time.monotonic() - started < 3
        assert attempts == ["timed out"]
        assert ctx.eval("'still usable'") == "still usable"


def test_recursive_nesting_ends_in_a_clear_error(ctx: Context) -> None:
    depth = 0
    errors: list[str] = []

    @ctx.function
    def recurse() -> int:
        nonlocal depth
        depth += 1
        try:
            ctx.eval("recurse()")
        except QuickJSError as error:
            errors.append(str(error))
        return depth

    assert ctx.eval("recurse()") == 9
    assert "may go 8 deep" in errors[0]


def test_a_nested_eval_cannot_wait_for_timers_and_the_outer_timers_keep_running(ctx: Context) -> None:
    @ctx.function
    def wait_inside() -> str:
        with pytest.raises(DeadlockError, match="nested inside a host function cannot wait"):
            ctx.eval("await new Promise(r => setTimeout(r, 1))")
        return "refused"

    assert ctx.eval("const t = new Promise(r => setTimeout(() => r('outer'), 5)); [wait_inside(), await t]") == \
        ["refused", "outer"]


def test_async_evaluation_and_snapshots_are_refused_inside_a_host_function(ctx: Context) -> None:
    seen: dict[str, str] = {}

    @ctx.function
    def probe() -> None:
        for name, action in {
            "eval_async": lambda: asyncio.run(ctx.eval_async("1")),
            "create_snapshot": ctx.create_snapshot,
            "reset": ctx.reset,
        }.items():
            try:
                action()
                seen[name] = "ran"
            except ConcurrentEvalError as error:
                seen[name] = str(error)

    ctx.eval("probe()")
    assert seen["eval_async"].startswith("ctx.eval_async() (or ctx.start()) cannot run inside a host function of "
                                         "its own context")
    assert "use ctx.eval() there" in seen["eval_async"]
    assert seen["create_snapshot"].startswith("ctx.create_snapshot() cannot run inside a host function")
    assert seen["reset"].startswith("ctx.reset() cannot run inside a host function")


def test_a_sync_host_function_of_eval_async_may_evaluate_nested(ctx: Context) -> None:
    @ctx.function
    def inner() -> str:
        value: str = ctx.eval("'nested ' + typeof fetchLater")
        return value

    async def fetch_later() -> str:
        await asyncio.sleep(0)
        return "later"

    ctx.register("fetchLater", fetch_later)
    assert asyncio.run(ctx.eval_async("[inner(), await fetchLater()]")) == ["nested function", "later"]


def test_console_of_a_nested_eval_reaches_on_console_as_it_is_printed() -> None:
    lines: list[str] = []
    with Runtime(on_console=lambda line: lines.append(line.text)) as rt, rt.new_context() as ctx:
        @ctx.function
        def inner() -> int:
            ctx.eval("console.log('nested line')")
            return len(lines)

        assert ctx.eval("console.log('outer line'); inner()") == 2, "both lines arrived before inner returned"
        assert [line.text for line in ctx.console] == ["outer line"]
        assert lines == ["outer line", "nested line"]
