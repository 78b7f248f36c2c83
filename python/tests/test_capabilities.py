"""The capability features, reached from Python: policies (budgets, timeouts, approval, labels
and the rule of two), the audit log, suspended evaluations settled by the caller, signed
snapshots and fork."""

import asyncio
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import quickbox
from quickbox import (
    Context,
    InvalidSnapshotError,
    Label,
    PendingCall,
    Policy,
    QuickJSError,
    Runtime,
    Snapshot,
)

TRY_EACH = """
    const outcomes = [];
    for (const attempt of attempts) {
        try { outcomes.push(await attempt()) } catch (e) { outcomes.push(e.name + ': ' + e.message) }
    }
    outcomes
"""


# ---- max_calls_per_eval --------------------------------------------------------------------------

def test_max_calls_per_eval_rejects_further_calls_in_js_and_resets_each_eval(ctx: Context) -> None:
    calls: list[int] = []

    def charge(n: int) -> int:
        calls.append(n)
        return n

    ctx.register("charge", charge, policy=Policy(max_calls_per_eval=2))
    results = ctx.eval("""
        const results = [];
        for (let i = 1; i <= 3; i++) {
            try { results.push(charge(i)) } catch (e) { results.push(e.message) }
        }
        results""")
    assert results[:2] == [1, 2]
    assert "budget exceeded" in results[2] and "2 calls" in results[2]
    assert calls == [1, 2], "the refused call never reached Python"
    assert ctx.eval("charge(4)") == 4, "the budget is per evaluation"


async def test_max_calls_per_eval_applies_to_async_functions(ctx: Context) -> None:
    @ctx.function(policy=Policy(max_calls_per_eval=1))
    async def once() -> str:
        return "ran"

    results = await ctx.eval_async("const attempts = [once, once];" + TRY_EACH)
    assert results[0] == "ran"
    assert "budget exceeded" in results[1]


def test_max_argument_bytes_refuses_oversized_arguments_in_js(ctx: Context) -> None:
    received: list[int] = []

    def upload(data: str) -> str:
        received.append(len(data))
        return "ok"

    ctx.register("upload", upload, policy=Policy(max_argument_bytes=100))
    assert ctx.eval("upload('small')") == "ok"
    message = ctx.eval("try { upload('x'.repeat(1000)) } catch (e) { e.message }")
    assert "limit of 100 bytes" in message
    assert received == [5]


# ---- call_timeout ---------------------------------------------------------------------------------

async def test_call_timeout_rejects_a_slow_async_function_in_js(ctx: Context) -> None:
    finished = []

    @ctx.function(policy=Policy(call_timeout=0.05))
    async def slow() -> str:
        await asyncio.sleep(5)
        finished.append(True)
        return "too late"

    started = time.monotonic()
    message = await ctx.eval_async("try { await slow() } catch (e) { e.message }")
    assert time.monotonic() - started < 2
    assert "'slow'" in message and "timed out" in message
    assert not finished


async def test_call_timeout_leaves_fast_calls_alone(ctx: Context) -> None:
    @ctx.function(policy=Policy(call_timeout=2.0))
    async def quick() -> str:
        await asyncio.sleep(0.001)
        return "in time"

    assert await ctx.eval_async("await quick()") == "in time"


# ---- requires_approval ----------------------------------------------------------------------------

def _sync_transfer(log: list[Any]) -> Any:
    def transfer(amount: int) -> str:
        log.append(amount)
        return f"sent {amount}"
    return transfer


def _async_transfer(log: list[Any]) -> Any:
    async def transfer(amount: int) -> str:
        await asyncio.sleep(0)
        log.append(amount)
        return f"sent {amount}"
    return transfer


@pytest.mark.parametrize("make", [_sync_transfer, _async_transfer], ids=["sync", "async"])
async def test_requires_approval_suspends_until_approved_and_then_runs_the_function(ctx: Context, make: Any) -> None:
    log: list[Any] = []
    ctx.register("transfer", make(log), policy=Policy(requires_approval=True))

    result = await ctx.start("const receipt = await transfer(250); 'done: ' + receipt")
    assert result.suspended and not result.done
    assert ctx.suspended
    [call] = result.pending
    assert (call.name, call.args, call.needs_approval) == ("transfer", [250], True)
    assert ctx.pending == [call]
    assert log == [], "nothing runs before approval"

    ctx.approve(call.id)
    result = await ctx.resume()
    assert result.done and result.value == "done: sent 250"
    assert log == [250]
    assert not ctx.suspended


@pytest.mark.parametrize("make", [_sync_transfer, _async_transfer], ids=["sync", "async"])
async def test_a_denied_call_rejects_in_js_with_the_reason_and_never_runs(ctx: Context, make: Any) -> None:
    log: list[Any] = []
    ctx.register("transfer", make(log), policy=Policy(requires_approval=True))

    result = await ctx.start("try { await transfer(9999) } catch (e) { 'refused: ' + e.message }")
    ctx.deny(result.pending[0].id, "over the daily limit")
    result = await ctx.resume()
    assert result.done
    assert result.value.startswith("refused: ") and "over the daily limit" in result.value
    assert log == []


async def test_eval_async_refuses_to_wait_for_an_approval(ctx: Context) -> None:
    ctx.register("transfer", lambda amount: amount, policy=Policy(requires_approval=True))
    with pytest.raises(QuickJSError, match="approval"):
        await ctx.eval_async("await transfer(1)")
    assert not ctx.suspended, "the refused evaluation was dropped"


# ---- labels and the rule of two -------------------------------------------------------------------

def test_a_context_whose_functions_hold_all_three_labels_is_refused(ctx: Context) -> None:
    ctx.register("read_inbox", lambda: [], policy=Policy(labels=Label.SENSITIVE_DATA | Label.UNTRUSTED_INPUT))
    with pytest.raises(QuickJSError, match="rule of two") as raised:
        ctx.register("send_email", lambda to: None, policy=Policy(labels=Label.EXTERNAL_EFFECT))
    assert "read_inbox" in str(raised.value) and "send_email" in str(raised.value)
    assert ctx.eval("typeof send_email") == "undefined"


def test_two_of_the_three_labels_are_allowed(ctx: Context) -> None:
    ctx.register("read_inbox", lambda: ["mail"], policy=Policy(labels=Label.SENSITIVE_DATA))
    ctx.register("send_email", lambda to: f"sent to {to}", policy=Policy(labels=Label.EXTERNAL_EFFECT))
    assert ctx.eval("send_email(read_inbox()[0])") == "sent to mail"


def test_allow_all_three_labels_accepts_the_risk_explicitly() -> None:
    with Runtime(allow_all_three_labels=True) as rt, rt.new_context() as ctx:
        ctx.register("read_inbox", lambda: [], policy=Policy(labels=Label.SENSITIVE_DATA))
        ctx.register("browse", lambda url: "", policy=Policy(labels=Label.UNTRUSTED_INPUT))
        ctx.register("send_email", lambda to: None, policy=Policy(labels=Label.EXTERNAL_EFFECT))
        assert ctx.eval("typeof send_email") == "function"


# ---- the audit log ----------------------------------------------------------------------------------

def test_the_audit_log_records_each_host_call(ctx: Context) -> None:
    before = datetime.now(timezone.utc)
    ctx.register("lookup", lambda key: {"k": key})
    ctx.eval("lookup('alpha'); lookup('beta')")
    first, second = ctx.audit_log
    assert (first.capability, first.outcome, first.detail) == ("lookup", "ok", "")
    assert first.call_id != second.call_id
    assert first.argument_bytes > 0
    assert re.fullmatch(r"[0-9a-f]{64}", first.argument_digest)
    assert first.argument_digest != second.argument_digest, "the digest covers the arguments"
    assert before - timedelta(seconds=1) <= first.start <= datetime.now(timezone.utc)
    assert 0 <= first.duration < 5


def test_the_audit_log_records_failures_and_refusals_with_their_reason(ctx: Context) -> None:
    def failing() -> None:
        raise RuntimeError("backend down")

    ctx.register("failing", failing)
    ctx.register("limited", lambda: 1, policy=Policy(max_calls_per_eval=1))
    ctx.eval("try { failing() } catch {} limited(); try { limited() } catch {}")
    outcomes = [(e.capability, e.outcome) for e in ctx.audit_log]
    assert outcomes == [("failing", "error"), ("limited", "ok"), ("limited", "budget_exceeded")]
    assert "backend down" in ctx.audit_log[0].detail
    assert "budget exceeded" in ctx.audit_log[2].detail


@pytest.mark.parametrize("make", [_sync_transfer, _async_transfer], ids=["sync", "async"])
async def test_the_audit_log_records_denied_calls_as_denied(ctx: Context, make: Any) -> None:
    ctx.register("transfer", make([]), policy=Policy(requires_approval=True))
    result = await ctx.start("try { await transfer(1) } catch {}")
    ctx.deny(result.pending[0].id, "no")
    await ctx.resume()
    [entry] = ctx.audit_log
    assert (entry.capability, entry.outcome) == ("transfer", "denied")


async def test_the_audit_log_records_timed_out_async_calls_as_timeouts(ctx: Context) -> None:
    @ctx.function(policy=Policy(call_timeout=0.02))
    async def slow() -> None:
        await asyncio.sleep(5)

    await ctx.eval_async("try { await slow() } catch {}")
    [entry] = ctx.audit_log
    assert (entry.capability, entry.outcome) == ("slow", "timeout")


# ---- suspended evaluations and ask functions ------------------------------------------------------

async def test_an_ask_function_suspends_until_the_caller_answers_it(ctx: Context) -> None:
    ctx.ask("ask_user")
    result = await ctx.start("const answer = await ask_user('Proceed?'); 'user said ' + answer")
    assert result.pending == [PendingCall(result.pending[0].id, "ask_user", ["Proceed?"], False)]
    ctx.answer(result.pending[0].id, "yes")
    result = await ctx.resume()
    assert (result.done, result.value) == (True, "user said yes")


async def test_an_ask_call_can_be_answered_with_an_error(ctx: Context) -> None:
    ctx.ask("ask_user")
    program = "try { await ask_user('?') } catch (e) { [e.name, e.message] }"
    result = await ctx.start(program)
    ctx.answer(result.pending[0].id, error=quickbox.JSError("AbortError", "the user left"))
    assert (await ctx.resume()).value == ["AbortError", "the user left"]
    result = await ctx.start(program)
    ctx.answer(result.pending[0].id, error=LookupError("no such user"))
    assert (await ctx.resume()).value == ["LookupError", "no such user"], "a Python exception gives its class name"
    result = await ctx.start(program)
    with pytest.raises(TypeError, match="a value or an error, not both"):
        ctx.answer(result.pending[0].id, "yes", error=LookupError("no"))
    ctx.abandon()


async def test_an_ask_call_is_denied_as_an_approval_is_and_as_the_command_line_denies_it(ctx: Context) -> None:
    ctx.ask("ask_user")
    result = await ctx.start("await ask_user('?')")
    ctx.deny(result.pending[0].id, "the user left")
    with pytest.raises(quickbox.JSError, match="the call to 'ask_user' was denied: the user left"):
        await ctx.resume()
    [entry] = ctx.audit_log
    assert entry.outcome == "denied"


async def test_the_old_names_of_the_vocabulary_still_work_and_say_what_replaced_them(ctx: Context) -> None:
    with pytest.deprecated_call(match=r"ctx.external\(\) is deprecated; use ctx.ask\(\)"):
        ctx.external("ask_user")
    result = await ctx.start("try { 'got ' + await ask_user('?') } catch (e) { [e.name, e.message] }")
    with pytest.deprecated_call(match=r"ctx.resolve\(\) is deprecated; use ctx.answer\(\)"):
        ctx.resolve(result.pending[0].id, "yes")
    assert (await ctx.resume()).value == "got yes"
    result = await ctx.start("try { 'got ' + await ask_user('?') } catch (e) { [e.name, e.message] }")
    with pytest.deprecated_call(match=r"ctx.reject\(\) is deprecated"):
        ctx.reject(result.pending[0].id, "the user left", "AbortError")
    assert (await ctx.resume()).value == ["AbortError", "the user left"]


async def test_several_calls_can_be_pending_at_once_and_settle_in_any_order(ctx: Context) -> None:
    ctx.ask("fetch_price")
    result = await ctx.start("const [a, b, c] = await Promise.all(['x', 'y', 'z'].map(s => fetch_price(s))); a + b + c")
    assert [c.args for c in result.pending] == [["x"], ["y"], ["z"]]
    prices = {"x": 1, "y": 20, "z": 300}
    for call in reversed(result.pending):
        ctx.answer(call.id, prices[call.args[0]])
    assert (await ctx.resume()).value == 321


async def test_a_program_may_suspend_several_times(ctx: Context) -> None:
    ctx.ask("step")
    result = await ctx.start("let total = 0; for (let i = 0; i < 3; i++) total += await step(i); total")
    rounds = 0
    while result.suspended:
        rounds += 1
        [call] = result.pending
        ctx.answer(call.id, (call.args[0] + 1) * 10)
        result = await ctx.resume()
    assert (rounds, result.value) == (3, 60)


async def test_a_suspended_context_refuses_a_new_eval_until_abandoned(ctx: Context) -> None:
    ctx.ask("ask_user")
    await ctx.start("await ask_user('?')")
    with pytest.raises(QuickJSError, match="suspended"):
        ctx.eval("1")
    ctx.abandon()
    assert not ctx.suspended
    assert ctx.eval("'free again'") == "free again"


async def test_settling_an_unknown_call_is_an_error(ctx: Context) -> None:
    ctx.ask("ask_user")
    await ctx.start("await ask_user('?')")
    with pytest.raises(quickbox.InvalidInputError, match="999"):
        ctx.answer(999, "nobody asked")


async def test_ask_calls_and_async_python_functions_mix(ctx: Context) -> None:
    ctx.ask("ask_user")

    @ctx.function
    async def lookup(name: str) -> str:
        await asyncio.sleep(0)
        return name.upper()

    result = await ctx.start("const who = await ask_user('name?'); await lookup(who)")
    ctx.answer(result.pending[0].id, "ada")
    assert (await ctx.resume()).value == "ADA"


# ---- snapshots of suspended evaluations, signed snapshots ------------------------------------------

async def test_a_suspended_evaluation_resumes_from_a_snapshot_in_another_context(rt: Runtime, ctx: Context) -> None:
    ctx.ask("ask_user")
    result = await ctx.start("const a = await ask_user('first?'); a + '!'")
    snapshot = ctx.create_snapshot()
    assert snapshot.info()["suspended"] is True

    with rt.restore(Snapshot.from_bytes(snapshot.to_bytes())) as restored:
        restored.ask("ask_user")
        [call] = restored.pending
        assert (call.id, call.name, call.args) == (result.pending[0].id, "ask_user", ["first?"])
        restored.answer(call.id, "restored")
        assert (await restored.resume()).value == "restored!"


KEY = b"k" * 32


def test_a_signed_snapshot_restores_with_its_key(rt: Runtime, ctx: Context) -> None:
    ctx.eval("globalThis.secret = 'kept'")
    snapshot = ctx.create_snapshot(key=KEY)
    assert snapshot.info(key=KEY)["signed"] is True
    with rt.restore(snapshot, key=KEY) as restored:
        assert restored.eval("secret") == "kept"
    with rt.new_context() as target:
        rt.restore_snapshot(snapshot, target, key=KEY)
        assert target.eval("secret") == "kept"


def test_a_signed_snapshot_is_refused_with_the_wrong_key_or_no_key(rt: Runtime, ctx: Context) -> None:
    snapshot = ctx.create_snapshot(key=KEY)
    with pytest.raises(InvalidSnapshotError, match="MAC"):
        rt.restore(snapshot, key=b"another key")
    with pytest.raises(InvalidSnapshotError, match="signed"):
        rt.restore(snapshot)


def test_an_unsigned_snapshot_is_refused_when_a_key_is_expected(rt: Runtime, ctx: Context) -> None:
    with pytest.raises(InvalidSnapshotError, match="not signed"):
        rt.restore(ctx.create_snapshot(), key=KEY)


def test_a_tampered_signed_snapshot_is_refused(rt: Runtime, ctx: Context) -> None:
    data = bytearray(ctx.create_snapshot(key=KEY).to_bytes())
    data[len(data) // 2] ^= 0x01
    with pytest.raises(InvalidSnapshotError, match="MAC"):
        rt.restore(Snapshot.from_bytes(bytes(data)), key=KEY)


# ---- fork ---------------------------------------------------------------------------------------------

def test_fork_makes_independent_contexts_with_different_random_sequences(rt: Runtime, ctx: Context) -> None:
    ctx.eval("globalThis.shared = [1]")
    forks = rt.fork(ctx.create_snapshot(), 4)
    try:
        assert len(forks) == 4
        for i, fork in enumerate(forks):
            fork.eval(f"shared.push({i})")
        assert [f.eval("shared") for f in forks] == [[1, 0], [1, 1], [1, 2], [1, 3]]
        randoms = [f.eval("[Math.random(), Math.random()]") for f in forks]
        assert len({tuple(r) for r in randoms}) == 4, randoms
    finally:
        for fork in forks:
            fork.close()
    assert ctx.eval("shared") == [1]


def test_fork_with_a_seed_gives_every_fork_the_same_random_sequence() -> None:
    with Runtime(seed=1234) as rt, rt.new_context() as ctx:
        forks = rt.fork(ctx.create_snapshot(), 3)
        randoms = [f.eval("[Math.random(), Math.random()]") for f in forks]
        assert randoms[0] == randoms[1] == randoms[2]
        assert randoms[0][0] != randoms[0][1]


def test_fork_of_a_signed_snapshot_needs_the_key(rt: Runtime, ctx: Context) -> None:
    snapshot = ctx.create_snapshot(key=KEY)
    with pytest.raises(InvalidSnapshotError):
        rt.fork(snapshot, 2)
    forks = rt.fork(snapshot, 2, key=KEY)
    assert [f.eval("1") for f in forks] == [1, 1]
    for fork in forks:
        fork.close()
