"""Handles: JavaScript values kept inside the sandbox and used from Python by reference, and the
guarantee that a handle is only ever used with the VM that made it."""

from __future__ import annotations

import gc
import threading
import warnings
from typing import Any

import pytest

from quickbox import Context, Handle, InvalidHandleError, JSError, MarshalError, Runtime


def test_a_function_comes_back_as_a_handle_and_can_be_called(ctx: Context) -> None:
    with ctx.eval_handle("(x, y) => x * y") as mul:
        assert mul.type_of == "function"
        with mul.call(6, 7) as product:
            assert product.to_python() == 42


def test_properties_methods_and_constructors(ctx: Context) -> None:
    with ctx.eval_handle("({n: 1, add(v) { return this.n + v }})") as obj:
        obj.set("n", 10)
        assert obj.has("add") and not obj.has("missing")
        with obj.get("n") as n, obj.call_method("add", 5) as sum_:
            assert (n.to_python(), sum_.to_python()) == (10, 15)
    with ctx.globals.get_handle("Date") as date, date.new(2024, 0, 1) as day, \
            day.call_method("getFullYear") as year:
        assert year.to_python() == 2024


def test_handles_pass_as_arguments_and_property_values_nested_too(ctx: Context) -> None:
    with ctx.eval_handle("(o) => o.inner.f()") as call_inner, ctx.eval_handle("() => 'deep'") as f, \
            call_inner.call({"inner": {"f": f}}) as result:
        assert result.to_python() == "deep"
    with ctx.eval_handle("({})") as target, ctx.eval_handle("[1, 2]") as pair:
        target.set("pair", pair)
        ctx.globals["kept"] = target
        assert ctx.eval("kept.pair.length") == 2


async def test_a_handle_enters_the_program_by_every_way_a_value_does(ctx: Context) -> None:
    # arguments of ctx.call, what sync and async host functions return, and answers, as well as
    # globals, properties and Handle.call above: each hands the program the value itself
    ctx.eval("globalThis.run = (box) => box.f(); 0")
    with ctx.eval_handle("() => 'inside'") as f:
        assert ctx.call("run", {"f": f}) == "inside"
        ctx.register("giveSync", lambda: {"f": f})
        assert ctx.eval("run(giveSync())") == "inside"

        async def give_async() -> dict[str, Handle]:
            return {"f": f}

        ctx.register("giveAsync", give_async)
        assert await ctx.eval_async("run(await giveAsync())") == "inside"
        ctx.ask("question")
        started = await ctx.start("run(await question())")
        ctx.answer(started.pending[0].id, {"f": f})
        assert (await ctx.resume()).value == "inside"


def test_to_python_with_allow_opaque_hands_back_handles_for_what_cannot_cross(ctx: Context) -> None:
    with ctx.eval_handle("({n: 1, f: () => 42, nested: [Symbol('s')]})") as obj:
        with pytest.raises(MarshalError, match=r"function.*\$\.f"):
            obj.to_python()
        value = obj.to_python(allow_opaque=True)
        f, symbol = value["f"], value["nested"][0]
        try:
            assert value["n"] == 1 and symbol.type_of == "symbol"
            with f.call() as r:
                assert r.to_python() == 42
        finally:
            f.dispose()
            symbol.dispose()


async def test_eval_handle_async_awaits_host_functions_and_await_promise_settles_a_promise(ctx: Context) -> None:
    async def later(v: int) -> dict[str, int]:
        return {"value": v + 1}

    ctx.register("later", later)
    with await ctx.eval_handle_async("const r = await later(1); r") as result, result.get("value") as value:
        assert value.to_python() == 2
    with ctx.eval_handle("new Promise((resolve) => { globalThis.settle = resolve })") as promise:
        assert promise.is_promise()
        ctx.eval("settle(42)")
        with await promise.await_promise() as settled:
            assert settled.to_python() == 42
    with ctx.eval_handle("Promise.reject(new TypeError('boom'))") as rejected, pytest.raises(JSError, match="boom"):
        await rejected.await_promise()
    with ctx.eval_handle("5") as plain:
        assert await plain.await_promise() is plain


def test_a_throw_inside_a_handle_call_is_a_jserror(ctx: Context) -> None:
    with ctx.eval_handle("() => { throw new RangeError('boom') }") as fn, pytest.raises(JSError) as raised:
        fn.call()
    assert (raised.value.name, raised.value.message) == ("RangeError", "boom")


def _uses(handle: Handle) -> dict[str, Any]:
    return {"get": lambda: handle.get("x"), "to_python": handle.to_python, "type_of": lambda: handle.type_of,
            "call": handle.call, "set": lambda: handle.set("x", 1)}


def test_a_throwing_has_trap_is_a_jserror_like_any_other_throw(ctx: Context) -> None:
    with ctx.eval_handle("new Proxy({}, { has() { throw new TypeError('trap') } })") as trap:
        with pytest.raises(JSError, match="trap") as raised:
            trap.has("x")
        assert raised.value.name == "TypeError"


def test_a_disposed_handle_raises_on_every_use_and_dispose_is_idempotent(ctx: Context) -> None:
    handle = ctx.eval_handle("({x: 1})")
    handle.dispose()
    handle.dispose()
    assert handle.disposed
    for name, use in _uses(handle).items():
        with pytest.raises(InvalidHandleError, match="disposed"):
            use()
        assert name


def test_a_handle_of_a_closed_context_raises_and_its_finalizer_is_harmless() -> None:
    rt = Runtime()
    ctx = rt.new_context()
    handle = ctx.eval_handle("({x: 1})")
    rt.close()
    for use in _uses(handle).values():
        with pytest.raises(InvalidHandleError, match="closed"):
            use()
    del use  # its closure holds the handle
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        del handle
        gc.collect()
    assert any(w.category is ResourceWarning for w in caught)


def test_a_handle_of_a_restored_or_reset_context_raises(rt: Runtime, ctx: Context) -> None:
    handle = ctx.eval_handle("({x: 1})")
    rt.restore_snapshot(ctx.create_snapshot(), ctx)
    with pytest.raises(InvalidHandleError, match="restored"):
        handle.get("x")
    handle.dispose()  # a no-op: its value went with the old VM
    other = ctx.eval_handle("({x: 2})")
    ctx.reset()
    with pytest.raises(InvalidHandleError, match="reset"):
        other.to_python()
    other.dispose()


def test_disposing_after_a_hard_stop_is_a_no_op_and_the_stop_is_what_the_caller_sees() -> None:
    # A program stuck in the engine's C code is stopped by the hard deadline, which discards the
    # VM and every value in it: leaving the `with` then disposes nothing, and does not bury the
    # TimeoutError under an error of its own.
    from quickbox import TimeoutError as QuickJSTimeout

    with Runtime(memory_limit=512 << 20, timeout=0.05) as rt, rt.new_context() as ctx:
        with pytest.raises(QuickJSTimeout, match="hard deadline"):
            with ctx.eval_handle("({})"):
                ctx.eval("(7n ** 300000n).toString().length")
        ctx.reset()
        assert ctx.eval("'usable after reset'") == "usable after reset"


def test_a_handle_used_with_another_context_raises(rt: Runtime) -> None:
    with rt.new_context() as a, rt.new_context() as b, a.eval_handle("'from a'") as from_a, \
            b.eval_handle("({})") as in_b:
        with pytest.raises(InvalidHandleError, match="another context"):
            in_b.set("leak", from_a)
        with pytest.raises(InvalidHandleError, match="another context"):
            b.globals["leak"] = from_a
        with b.eval_handle("(v) => v") as identity, pytest.raises(InvalidHandleError):
            identity.call([from_a])
        b.eval("globalThis.keep = (v) => { globalThis.leak = v }; 0")
        with pytest.raises(InvalidHandleError, match="another context"):
            b.call("keep", [from_a])
        b.register("leakSync", lambda: [from_a])
        with pytest.raises(InvalidHandleError, match="another context"):  # the host function's failure
            b.eval("keep(leakSync())")
        assert b.eval("typeof leak") == "undefined"


def test_the_checks_hold_from_other_threads(rt: Runtime, ctx: Context) -> None:
    disposed = ctx.eval_handle("({x: 1})")
    disposed.dispose()
    closing = rt.new_context()
    orphan = closing.eval_handle("({x: 1})")
    closing.close()
    errors: list[BaseException] = []

    def use() -> None:
        for handle in (disposed, orphan):
            try:
                handle.get("x")
            except InvalidHandleError as error:
                errors.append(error)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join()
    assert len(errors) == 2


def test_a_leaked_handle_warns_and_releases_its_value(ctx: Context) -> None:
    ctx.eval("globalThis.collected = false; globalThis.reg = new FinalizationRegistry(() => { collected = true })")
    handle = ctx.eval_handle("(() => { const o = {}; reg.register(o, 0); return o })()")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        del handle
        gc.collect()
    assert any(w.category is ResourceWarning for w in caught)
    ctx.memory_usage(collect_garbage=True)
    ctx.eval("0")  # runs the registry's cleanup job
    assert ctx.eval("collected") is True


def test_type_of_names_every_kind(ctx: Context) -> None:
    cases = {"null": "null", "undefined": "undefined", "true": "boolean", "1": "number", "1n": "bigint",
             "'s'": "string", "Symbol()": "symbol", "({})": "object", "[]": "array", "(() => 1)": "function"}
    for source, expected in cases.items():
        with ctx.eval_handle(source) as handle:
            assert handle.type_of == expected, source
