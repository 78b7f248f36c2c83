"""The public API, shaped like quickjs-rs: Runtime, Context, eval / eval_async, register and the
@ctx.function decorator, ctx.globals, snapshots and close()."""

import asyncio
import functools
import inspect
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import quickbox
from quickbox import UNDEFINED, Context, Runtime, Snapshot


# ---- Runtime -------------------------------------------------------------------------------------

def test_runtime_defaults_are_64_mib_of_memory_and_5_seconds_of_cpu() -> None:
    parameters = inspect.signature(Runtime).parameters
    assert parameters["memory_limit"].default == 64 * 1024 * 1024
    assert parameters["timeout"].default == 5.0
    with Runtime() as rt, rt.new_context() as ctx:
        assert ctx.memory_usage()["malloc_limit"] == 64 * 1024 * 1024


def test_runtime_as_context_manager_closes_every_context_it_created() -> None:
    with Runtime() as rt:
        first, second = rt.new_context(), rt.new_context()
        assert first.eval("1") == 1
    assert first.closed and second.closed
    with pytest.raises(quickbox.QuickJSError, match="closed"):
        rt.new_context()


def test_contexts_of_one_runtime_are_separate_realms(rt: Runtime) -> None:
    with rt.new_context() as a, rt.new_context() as b:
        a.eval("globalThis.owner = 'a'")
        assert b.eval("typeof owner") == "undefined"


# ---- Context lifecycle -------------------------------------------------------------------------------

def test_close_is_idempotent(rt: Runtime) -> None:
    ctx = rt.new_context()
    ctx.close()
    ctx.close()
    assert ctx.closed


_USE_AFTER_CLOSE = """
import asyncio, sys
import quickbox
rt = quickbox.Runtime()
ctx = rt.new_context()
ctx.close()
operations = {
    "eval": lambda: ctx.eval("1"),
    "call": lambda: ctx.call("f"),
    "read a global": lambda: ctx.globals["x"],
    "write a global": lambda: ctx.globals.__setitem__("x", 1),
    "snapshot": lambda: ctx.create_snapshot(),
    "memory usage": lambda: ctx.memory_usage(),
    "resume": lambda: asyncio.run(ctx.resume()),
    "abandon": lambda: ctx.abandon(),
    "register": lambda: ctx.register("f", len),
    "audit log": lambda: ctx.audit_log,
}
for name, operation in operations.items():
    print("trying:", name, flush=True)
    try:
        operation()
        print(name, "was accepted")
    except quickbox.QuickJSError as error:
        assert "closed" in str(error), (name, error)
print("all refused")
"""


def test_a_closed_context_refuses_every_operation_with_an_error() -> None:
    # In a child process: misuse must raise, and a crash must fail this test, not the suite.
    child = subprocess.run([sys.executable, "-c", _USE_AFTER_CLOSE], capture_output=True,
                           text=True, timeout=60)
    assert child.returncode == 0, f"exit {child.returncode}; stdout: {child.stdout!r}; stderr: {child.stderr[-2000:]}"
    assert child.stdout.splitlines()[-1] == "all refused", child.stdout


def test_context_is_a_context_manager(rt: Runtime) -> None:
    with rt.new_context() as ctx:
        assert not ctx.closed
    assert ctx.closed


# ---- eval ---------------------------------------------------------------------------------------------

def test_eval_returns_the_value_of_the_last_expression(ctx: Context) -> None:
    assert ctx.eval("const a = 20; a + 22") == 42


def test_state_persists_between_evals_of_one_context(ctx: Context) -> None:
    ctx.eval("var visits = 1; function visit() { return ++visits }")
    assert ctx.eval("visit()") == 2
    assert ctx.eval("visit()") == 3


def test_eval_awaits_a_final_promise_and_supports_top_level_await(ctx: Context) -> None:
    assert ctx.eval("Promise.resolve(7)") == 7
    assert ctx.eval("const v = await new Promise(r => r(8)); v + 1") == 9


def test_module_mode_accepts_import_export_syntax_and_is_strict(ctx: Context) -> None:
    ctx.eval("export const answer = 42; globalThis.seen = answer; globalThis.self = typeof this",
             module=True)
    assert ctx.eval("[seen, self]") == [42, "undefined"]
    with pytest.raises(quickbox.JSError) as raised:
        ctx.eval("undeclared = 1", module=True)
    assert raised.value.name == "ReferenceError"
    with pytest.raises(quickbox.JSError) as raised:
        ctx.eval("export const x = 1")
    assert raised.value.name == "SyntaxError"


def test_module_mode_supports_top_level_await(ctx: Context) -> None:
    ctx.eval("globalThis.got = await Promise.resolve('awaited')", module=True)
    assert ctx.eval("got") == "awaited"


def test_eval_refuses_code_that_is_not_str(ctx: Context) -> None:
    with pytest.raises(TypeError):
        ctx.eval(b"1")  # type: ignore[arg-type]


def test_eval_shows_its_parameters_and_names_itself_in_argument_errors(ctx: Context) -> None:
    # ctx.eval is native (python/src/context_eval.cc) with a Python general path behind it: both
    # must look like the one documented method to tools and to a caller's mistakes.
    assert list(inspect.signature(ctx.eval).parameters) == [
        "code", "module", "strict", "filename", "timeout", "transform_flags"]
    assert "Evaluates ``code``" in (Context.eval.__doc__ or "")
    with pytest.raises(TypeError, match=r"^Context\.eval\(\) got an unexpected keyword argument 'bogus'"):
        ctx.eval("1", bogus=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^Context\.eval\(\) missing 1 required positional argument: 'code'"):
        ctx.eval()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="code must be str, got int"):
        ctx.eval(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("call", [
    lambda ctx, code: ctx.eval(code),
    lambda ctx, code: ctx.eval(code=code),
    lambda ctx, code: ctx.eval(code, False, False, "<eval>", None, None),
    lambda ctx, code: ctx.eval(code, module=False, timeout=None),
], ids=["code alone", "code as keyword", "defaults given positionally", "defaults given by keyword"])
def test_eval_answers_alike_however_its_defaults_are_given(ctx: Context, call: Callable[[Context, str], Any]) -> None:
    # `ctx.eval(code)` alone takes the native plain path; every other spelling the general one.
    assert call(ctx, "globalThis.n = (globalThis.n ?? 0) + 1; [n, 'x']") == [1, "x"]
    assert call(ctx, "undefined") is None
    ctx.eval("console.log('kept')")
    assert call(ctx, "n") == 1
    with pytest.raises(quickbox.JSError, match="boom"):
        call(ctx, "throw new Error('boom')")
    assert call(ctx, "n + 1") == 2


async def test_eval_async_supports_top_level_await_of_async_host_functions(ctx: Context) -> None:
    @ctx.function
    async def double(x: int) -> int:
        await asyncio.sleep(0.001)
        return x * 2

    assert await ctx.eval_async("const a = await double(10); const b = await double(a); b + 2") == 42


async def test_eval_async_also_runs_plain_code(ctx: Context) -> None:
    assert await ctx.eval_async("6 * 7") == 42


# ---- register and @ctx.function -----------------------------------------------------------------------

def test_register_offers_a_python_function_to_javascript(ctx: Context) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    assert ctx.register("add", add) is add
    assert ctx.eval("add(1, 2)") == 3
    assert ctx.eval("typeof add") == "function"


def test_register_with_a_dotted_name_creates_namespace_objects(ctx: Context) -> None:
    ctx.register("tools.search", lambda q: f"results for {q}")
    assert ctx.eval("[typeof tools, tools.search('cats')]") == ["object", "results for cats"]


def test_register_refuses_a_reserved_word_a_program_could_not_call(ctx: Context) -> None:
    with pytest.raises(ValueError, match="'if' is a reserved word in JavaScript.*'tools.if'"):
        ctx.register("if", lambda: 1)
    ctx.register("tools.delete", lambda: "deleted")  # after a dot, a property name
    assert ctx.eval("tools.delete()") == "deleted"


def test_register_refuses_a_name_the_programs_own_top_level_declaration_would_hide(ctx: Context) -> None:
    ctx.eval("const search = 'mine'; var lookup = 1")
    for name in ("search", "search.deep", "lookup"):
        with pytest.raises(quickbox.InvalidInputError, match="top level|cannot be redefined"):
            ctx.register(name, lambda: "host")
    assert ctx.eval("search") == "mine"
    ctx.register("searchHost", lambda: "host")
    assert ctx.eval("searchHost()") == "host"


def test_function_decorator_uses_the_python_name_or_the_given_one(ctx: Context) -> None:
    @ctx.function
    def greet(name: str) -> str:
        return f"hello {name}"

    @ctx.function(name="shout")
    def loud(text: str) -> str:
        return text.upper()

    assert greet("x") == "hello x", "the decorator returns the function unchanged"
    assert ctx.eval("greet('js') + ' / ' + shout('hey')") == "hello js / HEY"
    assert ctx.eval("typeof loud") == "undefined"


async def _coroutine_function(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


class _AsyncCallable:
    async def __call__(self, x: int) -> int:
        await asyncio.sleep(0)
        return x + 1


@pytest.mark.parametrize("fn", [
    _coroutine_function,
    functools.partial(_coroutine_function),
    _AsyncCallable(),
], ids=["coroutine function", "partial of one", "object with async __call__"])
async def test_async_functions_are_detected_and_return_promises_in_js(
        ctx: Context, fn: Callable[[int], Awaitable[int]]) -> None:
    ctx.register("inc", fn)
    assert await ctx.eval_async("const p = inc(1); [p instanceof Promise, await p]") == [True, 2]


async def test_is_async_true_makes_a_plain_function_returning_an_awaitable_async(ctx: Context) -> None:
    def later(x: int) -> Awaitable[int]:
        return _coroutine_function(x)

    ctx.register("later", later, is_async=True)
    assert await ctx.eval_async("await later(41)") == 42


def test_is_async_false_makes_a_coroutine_function_sync_and_its_awaitable_an_error(ctx: Context) -> None:
    ctx.register("inc", _coroutine_function, is_async=False)
    name, message = ctx.eval("try { inc(1); [] } catch (e) { [e.name, e.message] }")
    assert name == "TypeError"
    assert "returned an awaitable" in message and "is_async=True" in message


async def test_function_decorator_accepts_is_async(ctx: Context) -> None:
    @ctx.function(is_async=True)
    def fetch(url: str) -> Awaitable[str]:
        async def body() -> str:
            return f"<{url}>"
        return body()

    assert await ctx.eval_async("await fetch('a')") == "<a>"


def test_function_arguments_arrive_as_python_values(ctx: Context) -> None:
    seen: list[Any] = []
    ctx.register("record", lambda *args: seen.append(args))
    ctx.eval("record(1, 'two', [3], {four: 4}, null, undefined)")
    assert seen == [(1, "two", [3], {"four": 4}, None, UNDEFINED)]


# ---- ctx.globals ---------------------------------------------------------------------------------------

def test_globals_reads_and_writes_the_programs_global_variables(ctx: Context) -> None:
    ctx.globals["config"] = {"retries": 3, "names": ["a", "b"]}
    assert ctx.eval("config.retries * config.names.length") == 6
    ctx.eval("globalThis.answer = 42")
    assert ctx.globals["answer"] == 42
    assert "answer" in ctx.globals
    assert "missing" not in ctx.globals
    with pytest.raises(KeyError):
        ctx.globals["missing"]
    assert ctx.globals.get("missing", "default") == "default"
    assert ctx.globals.get("answer") == 42


# ---- snapshots -----------------------------------------------------------------------------------------

def test_snapshot_bytes_round_trip_and_restore_into_another_context(rt: Runtime, ctx: Context) -> None:
    ctx.eval("globalThis.items = ['a']; function add(x) { items.push(x); return items.length }")
    snapshot = ctx.create_snapshot()
    data = snapshot.to_bytes()
    assert isinstance(data, bytes) and len(snapshot) == len(data)
    loaded = Snapshot.from_bytes(data)
    assert loaded == snapshot

    with rt.new_context() as other:
        rt.restore_snapshot(loaded, other)
        assert other.eval("add('b')") == 2
    assert ctx.eval("items") == ["a"], "the original is unaffected"


def test_restore_snapshot_replaces_the_whole_vm_and_keeps_the_contexts_functions(rt: Runtime) -> None:
    with rt.new_context() as source, rt.new_context() as target:
        source.eval("globalThis.from_source = true")
        target.eval("globalThis.from_target = true")
        target.register("host", lambda: "bound by name")
        rt.restore_snapshot(source.create_snapshot(), target)
        assert target.eval("[typeof from_source, typeof from_target]") == ["boolean", "undefined"]
        assert target.eval("host()") == "bound by name"


def test_snapshot_from_bytes_refuses_non_bytes() -> None:
    with pytest.raises(TypeError):
        Snapshot.from_bytes("text")  # type: ignore[arg-type]


def test_runtime_restore_returns_a_new_context(rt: Runtime, ctx: Context) -> None:
    ctx.eval("globalThis.n = 5")
    with rt.restore(ctx.create_snapshot()) as restored:
        assert restored.eval("n * 2") == 10
