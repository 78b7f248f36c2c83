"""Every error a Python caller can meet speaks Python: no C++ type, field or namespace (``::``)
in its text. The engine names the setting an error is about by its C++ name and says which
setting it is; the extension puts the Python name there (``key=``, ``memory_limit``...). This
triggers each kind of error the package can raise, from the options to the engine's limits, the
snapshot checks and misuse of the API, and reads every message."""

import asyncio
import re
from collections.abc import Callable
from typing import Any

import quickbox
from quickbox import Context, JSError, Label, Policy, Runtime, Snapshot

# C++ spellings: namespaces and types, and the library's field names (the Python ones differ).
CPP_WORDING = re.compile(r"::|\bLimits\b|SandboxOptions|RestoreOptions|CapabilityPolicy|EvalOptions|EngineOptions|"
                         r"\bClock\b|bad_cast|uint\d+_t|int64_t|chrono|\b(memory|stack|console|result|source|"
                         r"host_memory|bigint|max_sandbox_memory)_bytes\b|hmac_key|\b(cpu|wall)_time\b|start_ms|step_us")
KEY = b"k" * 32


def message_of(attempt: Callable[[], Any]) -> str:
    """The text of the error attempt() raises, with a JSError's stack (it may come from the host)."""
    try:
        result = attempt()
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except JSError as error:
        return f"{type(error).__name__}: {error} {error.stack}"
    except Exception as error:  # noqa: BLE001 - every kind is read
        return f"{type(error).__name__}: {error}"
    raise AssertionError("expected an error")


def options_errors() -> dict[str, Callable[[], Any]]:
    return {
        "option memory_limit": lambda: Runtime(memory_limit=1),
        "option timeout": lambda: Runtime(timeout=0),
        "option wall_timeout": lambda: Runtime(wall_timeout=-1),
        "option stack_limit": lambda: Runtime(stack_limit=2**30),
        "option console_limit": lambda: Runtime(console_limit=2**40),
        "option result_limit": lambda: Runtime(result_limit=1),
        "option host_memory_limit": lambda: Runtime(host_memory_limit=1),
        "option max_pending_calls": lambda: Runtime(max_pending_calls=0),
        "option bigint_limit": lambda: Runtime(bigint_limit=1),
        "option fixed_time_ms": lambda: Runtime(fixed_time_ms=-1),
        "option seed": lambda: Runtime(seed=-1),
        "option call_timeout": lambda: Policy(call_timeout=0),
        "option labels": lambda: Policy(labels=Label(8)),
    }


def engine_errors(rt: Runtime, ctx: Context) -> dict[str, Callable[[], Any]]:
    def three_labels() -> None:
        ctx.register("read", lambda: 1, policy=Policy(labels=Label.SENSITIVE_DATA))
        ctx.register("browse", lambda: 1, policy=Policy(labels=Label.UNTRUSTED_INPUT))
        ctx.register("send", lambda: 1, policy=Policy(labels=Label.EXTERNAL_EFFECT))

    signed = ctx.create_snapshot(key=KEY)
    unsigned = ctx.create_snapshot()
    corrupt = bytearray(unsigned.to_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF
    return {
        "rule of two": three_labels,
        "signed snapshot without a key": lambda: rt.restore(signed),
        "signed snapshot with another key": lambda: rt.restore(signed, key=b"another"),
        "unsigned snapshot with a key": lambda: rt.restore(unsigned, key=KEY),
        "corrupt snapshot": lambda: rt.restore(Snapshot.from_bytes(bytes(corrupt))),
        "not a snapshot": lambda: Snapshot.from_bytes(b"not a snapshot").info(),
        "truncated snapshot": lambda: rt.restore(Snapshot.from_bytes(unsigned.to_bytes()[:100])),
        "timeout": lambda: ctx.eval("for (;;) {}", timeout=0.05),
        "memory": lambda: ctx.eval("{ const a = []; for (;;) a.push('x'.repeat(1e5) + a.length) }"),
        "stack": lambda: ctx.eval("function f() { return f() + 1 } f()"),
        "deadlock": lambda: ctx.eval("await new Promise(() => {})"),
        "a function result": lambda: ctx.eval("() => 1"),
        "a BigInt over its limit": lambda: ctx.eval("2n ** 1000000n"),
        "a thrown value": lambda: ctx.eval("throw {code: 7}"),
        "unknown function": lambda: ctx.call("nope"),
        "empty global name": lambda: ctx.globals[""],
        "file name with NUL": lambda: ctx.eval("1", filename="a\0b"),
        "a Python set": lambda: ctx.call("String", {1}),
        "unknown call id": lambda: ctx.answer(999, 1),
        "denying an unknown call": lambda: ctx.deny(999),
        "nothing to resume": lambda: ctx.resume(),
        "fork count": lambda: rt.fork(unsigned, 5000),
    }


def limit_errors() -> dict[str, Callable[[], Any]]:
    def in_runtime(options: dict[str, Any], program: Callable[[Context], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with Runtime(**options) as rt, rt.new_context() as ctx:
                result = program(ctx)
                return asyncio.run(result) if asyncio.iscoroutine(result) else result
        return run

    def registered(ctx: Context, policy: Policy) -> Context:
        ctx.register("f", lambda *args: "x" * 1000, policy=policy)
        return ctx

    async def suspended_then_eval(ctx: Context) -> None:
        ctx.ask("ask")
        await ctx.start("await ask()")
        ctx.eval("1")

    async def approval_answered(ctx: Context) -> None:
        ctx.register("pay", lambda: 1, policy=Policy(requires_approval=True))
        result = await ctx.start("await pay()")
        ctx.answer(result.pending[0].id, 1)

    async def ask_approved(ctx: Context) -> None:
        ctx.ask("ask")
        result = await ctx.start("await ask()")
        ctx.approve(result.pending[0].id)

    return {
        "result_limit": in_runtime({"result_limit": 64}, lambda ctx: ctx.eval("'x'.repeat(1000)")),
        "max_host_calls": in_runtime({"max_host_calls": 1},
                                     lambda ctx: registered(ctx, Policy()).eval("f(); f()")),
        "max_calls_per_eval": in_runtime({}, lambda ctx: registered(ctx, Policy(max_calls_per_eval=0)).eval("f()")),
        "max_argument_bytes": in_runtime({}, lambda ctx: registered(ctx, Policy(max_argument_bytes=8)).eval(
            "f('x'.repeat(100))")),
        "max_result_bytes": in_runtime({}, lambda ctx: registered(ctx, Policy(max_result_bytes=8)).eval("f()")),
        "wall_timeout": in_runtime({"wall_timeout": 0.05}, lambda ctx: ctx.eval("for (;;) {}")),
        "max_pending_calls": in_runtime({"max_pending_calls": 1},
                                        lambda ctx: _pending(ctx, "await Promise.all([ask(), ask()])")),
        "eval while suspended": in_runtime({}, suspended_then_eval),
        "answering an approval": in_runtime({}, approval_answered),
        "approving an ask call": in_runtime({}, ask_approved),
    }


async def _pending(ctx: Context, program: str) -> Any:
    ctx.ask("ask")
    return (await ctx.start(program)).value


def test_no_error_a_python_caller_can_meet_uses_cpp_wording(rt: Runtime, ctx: Context) -> None:
    messages = {}
    attempts = {**options_errors(), **engine_errors(rt, ctx), **limit_errors()}
    assert len(attempts) == len(options_errors()) + len(engine_errors(rt, ctx)) + len(limit_errors())
    for name, attempt in attempts.items():
        messages[name] = message_of(attempt)
        if ctx.suspended:
            ctx.abandon()
    leaks = {name: text for name, text in messages.items() if CPP_WORDING.search(text)}
    assert not leaks, f"C++ wording in Python errors: {leaks}"
    assert "OutputLimitError" in messages["a BigInt over its limit"], messages["a BigInt over its limit"]
    # The two refusals the engine itself words about a setting name the Python one.
    assert "Runtime(allow_all_three_labels=True)" in messages["rule of two"]
    assert "(key=)" in messages["signed snapshot without a key"]
