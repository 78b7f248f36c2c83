"""Errors: one base class, a class per failure, limits that say what was hit, and host exceptions
that come back to the caller as themselves."""

import hashlib
import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

import quickbox
from quickbox import (
    ConcurrentEvalError,
    Context,
    DeadlockError,
    InvalidSnapshotError,
    JSError,
    MarshalError,
    MemoryLimitError,
    QuickJSError,
    Runtime,
    Snapshot,
    StackOverflowError,
    TimeoutError,
)

MiB = 1024 * 1024


def test_every_error_class_derives_from_quickjserror() -> None:
    for cls in (JSError, TimeoutError, MemoryLimitError, StackOverflowError, MarshalError,
                ConcurrentEvalError, DeadlockError, InvalidSnapshotError, quickbox.HostError,
                quickbox.InvalidInputError, quickbox.OutputLimitError, quickbox.InternalError):
        assert issubclass(cls, QuickJSError), cls


# ---- limits ---------------------------------------------------------------------------------------

@pytest.fixture
def quick_runtime() -> Iterator[Runtime]:
    with Runtime(timeout=0.2, memory_limit=16 * MiB) as runtime:
        yield runtime


def test_an_endless_loop_is_a_timeout_error_and_the_context_stays_usable(quick_runtime: Runtime) -> None:
    with quick_runtime.new_context() as ctx:
        ctx.eval("globalThis.kept = 'state'")
        with pytest.raises(TimeoutError, match="200 ms"):
            ctx.eval("while (true) {}")
        assert ctx.eval("kept") == "state"


def test_the_timeout_can_be_given_per_evaluation(ctx: Context) -> None:
    with pytest.raises(TimeoutError, match="100 ms"):
        ctx.eval("for (;;) {}", timeout=0.1)
    assert ctx.eval("1 + 1") == 2


def test_the_timeout_can_be_given_per_context(rt: Runtime) -> None:
    with rt.new_context(timeout=0.1) as ctx, pytest.raises(TimeoutError, match="100 ms"):
        ctx.eval("for (;;) {}")


def test_exhausting_memory_is_a_memory_limit_error_naming_the_limit(quick_runtime: Runtime) -> None:
    with quick_runtime.new_context() as ctx:
        with pytest.raises(MemoryLimitError, match="16 MiB"):
            ctx.eval("const hoard = []; for (;;) hoard.push('x'.repeat(1 << 20) + hoard.length)")
        assert ctx.eval("'still ' + 'works'") == "still works"


def test_unbounded_recursion_is_a_stack_overflow_error(ctx: Context) -> None:
    with pytest.raises(StackOverflowError):
        ctx.eval("function down(n) { return down(n + 1) + 1 } down(0)")
    assert ctx.eval("1") == 1


def test_returning_a_function_is_a_marshal_error(ctx: Context) -> None:
    with pytest.raises(MarshalError, match="function"):
        ctx.eval("function f() {} f")


# ---- concurrency misuse ----------------------------------------------------------------------------

def test_using_one_context_from_two_threads_at_once_is_a_concurrent_eval_error(ctx: Context) -> None:
    inside, release = threading.Event(), threading.Event()

    def hold() -> str:
        inside.set()
        release.wait(10)
        return "released"

    ctx.register("hold", hold)
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(ctx.eval("hold()")))
    worker.start()
    try:
        assert inside.wait(10)
        with pytest.raises(ConcurrentEvalError, match="running an evaluation on another thread"):
            ctx.eval("1")
    finally:
        release.set()
        worker.join(10)
    assert results == ["released"]
    assert ctx.eval("2") == 2, "the context is free again"


def test_a_sync_eval_calling_an_async_host_function_is_a_concurrent_eval_error(ctx: Context) -> None:
    @ctx.function
    async def fetch() -> str:
        return "never awaited"

    with pytest.raises(ConcurrentEvalError, match="fetch"):
        ctx.eval("fetch()")
    assert ctx.eval("'usable'") == "usable"


async def test_a_sync_eval_during_an_eval_async_is_a_concurrent_eval_error(ctx: Context) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    @ctx.function
    async def wait_here() -> int:
        inside.set()
        await release.wait()
        return 1

    running = asyncio.create_task(ctx.eval_async("await wait_here()"))
    await inside.wait()
    with pytest.raises(ConcurrentEvalError):
        ctx.eval("1")
    with pytest.raises(ConcurrentEvalError):
        await ctx.eval_async("1")
    release.set()
    assert await running == 1


# ---- deadlock -------------------------------------------------------------------------------------

def test_awaiting_a_promise_that_can_never_settle_is_a_deadlock_error(ctx: Context) -> None:
    with pytest.raises(DeadlockError):
        ctx.eval("await new Promise(() => {})")
    assert ctx.eval("1") == 1


async def test_eval_async_also_reports_a_deadlock(ctx: Context) -> None:
    with pytest.raises(DeadlockError):
        await ctx.eval_async("await new Promise(() => {})")


# ---- snapshots refused ---------------------------------------------------------------------------

@pytest.fixture
def snapshot_bytes(ctx: Context) -> bytes:
    ctx.eval("globalThis.data = {list: [1, 2, 3], text: 'snapshot me '.repeat(50)}")
    return ctx.create_snapshot().to_bytes()


def refusal(rt: Runtime, data: bytes) -> str:
    with pytest.raises(InvalidSnapshotError) as raised:
        rt.restore(Snapshot.from_bytes(data))
    return str(raised.value)


def test_a_truncated_snapshot_is_refused_naming_the_check(rt: Runtime, snapshot_bytes: bytes) -> None:
    assert "truncated" in refusal(rt, snapshot_bytes[:-1])
    assert "truncated" in refusal(rt, snapshot_bytes[:40])


def test_bytes_that_are_not_a_snapshot_are_refused_naming_the_check(rt: Runtime) -> None:
    assert "magic" in refusal(rt, b"definitely not a snapshot, just some text" * 4)
    assert "truncated header" in refusal(rt, b"")


def test_a_snapshot_from_another_guest_build_is_refused_naming_the_check(rt: Runtime, snapshot_bytes: bytes) -> None:
    foreign = bytearray(snapshot_bytes)
    foreign[16] ^= 0xFF  # the guest build id, bytes [16, 48)
    # A real foreign snapshot is intact: recompute its SHA-256 trailer so the build check is reached.
    foreign[-32:] = hashlib.sha256(bytes(foreign[:-32])).digest()
    assert "another guest build" in refusal(rt, bytes(foreign))


def test_a_snapshot_of_another_format_version_is_refused_naming_the_check(rt: Runtime, snapshot_bytes: bytes) -> None:
    future = bytearray(snapshot_bytes)
    future[8] += 1  # the format version, bytes [8, 12)
    assert "format version" in refusal(rt, bytes(future))


def test_restore_snapshot_refuses_a_corrupt_snapshot_and_leaves_the_context_as_it_was(
        rt: Runtime, snapshot_bytes: bytes) -> None:
    with rt.new_context() as ctx:
        ctx.eval("globalThis.mine = true")
        with pytest.raises(InvalidSnapshotError):
            rt.restore_snapshot(Snapshot.from_bytes(snapshot_bytes[:-10]), ctx)
        assert ctx.eval("mine") is True


def test_corrupting_any_single_byte_of_a_snapshot_is_refused(rt: Runtime, snapshot_bytes: bytes) -> None:
    accepted = []
    for offset in range(len(snapshot_bytes)):
        corrupt = bytearray(snapshot_bytes)
        corrupt[offset] ^= 0x01
        try:
            rt.restore(Snapshot.from_bytes(bytes(corrupt))).close()
            accepted.append(offset)
        except InvalidSnapshotError:
            pass
    assert not accepted, (f"{len(accepted)} of {len(snapshot_bytes)} single-bit corruptions were restored "
                          f"without complaint, e.g. at offsets {accepted[:10]}")


# ---- host exceptions -------------------------------------------------------------------------------

class PaymentDeclined(Exception):
    pass


def test_an_uncaught_host_exception_is_reraised_as_the_same_object_caused_by_a_jserror(ctx: Context) -> None:
    declined = PaymentDeclined("card expired")

    def pay() -> None:
        raise declined

    ctx.register("pay", pay)
    with pytest.raises(PaymentDeclined) as raised:
        ctx.eval("function checkout() { return pay() } checkout()")
    assert raised.value is declined
    cause = raised.value.__cause__
    assert isinstance(cause, JSError)
    assert (cause.name, cause.message) == ("HostError", "Host function failed"), "JavaScript never saw the text"


async def test_an_uncaught_async_host_exception_is_reraised_as_the_same_object(ctx: Context) -> None:
    declined = PaymentDeclined("insufficient funds")

    @ctx.function
    async def pay() -> None:
        await asyncio.sleep(0)
        raise declined

    with pytest.raises(PaymentDeclined) as raised:
        await ctx.eval_async("await pay()")
    assert raised.value is declined
    assert isinstance(raised.value.__cause__, JSError)


def test_a_host_exception_caught_in_js_is_a_normal_error(ctx: Context) -> None:
    def pay() -> None:
        raise PaymentDeclined("card expired")

    ctx.register("pay", pay)
    caught = ctx.eval("try { pay(); null } catch (e) { [e instanceof Error, e.message] }")
    assert caught == [True, "Host function failed"]
    assert ctx.audit_log[-1].detail == "PaymentDeclined: card expired"
    assert ctx.eval("'no exception leaks into the next eval'")


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("password=hunter2")


class _FailingLength(list[int]):
    def __len__(self) -> int:
        raise RuntimeError("token=abc123")


def test_no_text_of_the_hosts_reaches_the_program_however_a_host_function_fails(ctx: Context) -> None:
    # Raising an exception that cannot even say what it is, or returning a value whose conversion
    # runs the host's code and raises: JavaScript sees only the fixed host error, every time.
    def unprintable() -> None:
        raise _Unprintable()

    ctx.register("unprintable", unprintable)
    ctx.register("failingLength", lambda: _FailingLength([1]))
    for name in ("unprintable", "failingLength"):
        seen = ctx.eval(f"try {{ {name}(); 'no error' }} catch (e) {{ e.name + ': ' + e.message }}")
        assert seen == "HostError: Host function failed", name
    assert "RuntimeError: token=abc123" in ctx.audit_log[-1].detail
    assert ctx.eval("'still usable'") == "still usable"


async def test_an_async_result_that_cannot_be_taken_fails_the_call_inside_js(ctx: Context) -> None:
    # Whatever goes wrong with an async function's result is the call's failure, which the program
    # may catch, and the context goes on; the result limit's refusal says what it was.
    from quickbox import Policy

    async def failing_length() -> list[int]:
        return _FailingLength([1])

    async def too_big() -> str:
        return "x" * 200

    ctx.register("failingLength", failing_length)
    ctx.register("tooBig", too_big, policy=Policy(max_result_bytes=100))
    catch = "try {{ await {}(); 'no error' }} catch (e) {{ e.name + ': ' + e.message }}"
    assert await ctx.eval_async(catch.format("failingLength")) == "HostError: Host function failed"
    limited = await ctx.eval_async(catch.format("tooBig"))
    assert limited.startswith("Error: the answer to call #") and "more than the result limit of 'tooBig', 100 bytes" in limited
    assert ctx.eval("'still usable'") == "still usable"


async def test_a_call_an_async_function_is_running_cannot_be_answered_by_the_caller(ctx: Context) -> None:
    from quickbox import InvalidInputError

    async def lookup() -> str:
        await asyncio.sleep(0.2)
        return "real"

    ctx.register("lookup", lookup)
    task = asyncio.create_task(ctx.eval_async("await lookup()"))
    await asyncio.sleep(0.05)
    running = ctx.pending[0].id
    with pytest.raises(InvalidInputError, match="the async function 'lookup' is running it"):
        ctx.answer(running, "fake")
    with pytest.raises(InvalidInputError, match="the async function 'lookup' is running it"):
        ctx.deny(running, "no")
    assert await task == "real"
    assert ctx.eval("1 + 1") == 2


async def test_an_async_host_exception_caught_in_js_is_a_normal_error(ctx: Context) -> None:
    @ctx.function
    async def pay() -> None:
        raise PaymentDeclined("insufficient funds")

    caught = await ctx.eval_async("try { await pay(); null } catch (e) { [e instanceof Error, e.message] }")
    assert caught == [True, "Host function failed"]
    assert ctx.audit_log[-1].detail == "PaymentDeclined: insufficient funds"


def test_a_js_error_thrown_after_catching_a_host_exception_is_a_jserror(ctx: Context) -> None:
    def pay() -> None:
        raise PaymentDeclined("card expired")

    ctx.register("pay", pay)
    with pytest.raises(JSError) as raised:
        ctx.eval("try { pay() } catch (e) { throw new Error('checkout failed') }")
    assert raised.value.message == "checkout failed"


@pytest.mark.parametrize("next_operation", ["eval", "call", "handle call"])
def test_what_an_operation_leaves_behind_never_reaches_the_next(ctx: Context, next_operation: str) -> None:
    # The first evaluation ends normally but leaves state behind: the exception of a host
    # function JavaScript caught, and a console line. The next operation throws that same host
    # error: it is a JSError of its own (the first evaluation's exception is not raised, nor its
    # cause), and its console is its own.
    def pay() -> None:
        raise PaymentDeclined("card expired")

    ctx.register("pay", pay)
    rethrow = ctx.eval_handle("globalThis.rethrow = () => { throw saved }")
    ctx.eval("try { pay() } catch (e) { globalThis.saved = e }; console.log('first'); 1")
    assert [line.text for line in ctx.console] == ["first"]
    operations = {"eval": lambda: ctx.eval("rethrow()"), "call": lambda: ctx.call("rethrow"),
                  "handle call": rethrow.call}
    with pytest.raises(JSError) as raised:
        operations[next_operation]()
    assert not isinstance(raised.value, PaymentDeclined) and raised.value.__cause__ is None
    assert raised.value.message == "Host function failed"
    assert ctx.console == []
    assert ctx.eval("1 + 2") == 3 and ctx.console == []


def _leave_console_lines(ctx: Context) -> None:
    ctx.eval("console.log('left behind'); 1")


def _leave_dropped_console_bytes(ctx: Context) -> None:
    ctx.eval("console.log('x'.repeat(100)); 1")  # over the runtime's console_limit of 16 bytes


def _leave_a_caught_host_exception(ctx: Context) -> None:
    ctx.eval("try { fail() } catch {} 1")


def _leave_a_fatal_exception(ctx: Context) -> None:
    with pytest.raises(KeyboardInterrupt):
        ctx.eval("stop()")


def _leave_an_on_console_failure(ctx: Context) -> None:
    with pytest.raises(RuntimeError, match="listener failed"):
        ctx.eval("console.log('raise'); 1")


@pytest.mark.parametrize("leave", [_leave_console_lines, _leave_dropped_console_bytes, _leave_a_caught_host_exception,
                                   _leave_a_fatal_exception, _leave_an_on_console_failure])
def test_a_plain_eval_after_any_leftover_starts_afresh(leave: Callable[[Context], None]) -> None:
    # A plain ctx.eval runs in one native call only while the last operation left nothing behind;
    # each kind of leftover must send it through the path that forgets it first.
    def on_console(line: quickbox.ConsoleLine) -> None:
        if line.text == "raise":
            raise RuntimeError("listener failed")

    def fail() -> None:
        raise PaymentDeclined("card expired")

    def stop() -> None:
        raise KeyboardInterrupt

    with Runtime(console_limit=16, on_console=on_console) as rt, rt.new_context() as ctx:
        ctx.register("fail", fail)
        ctx.register("stop", stop)
        leave(ctx)
        assert ctx.eval("1 + 2") == 3
        assert ctx.console == [] and ctx.console_dropped_bytes == 0
        assert ctx.eval("globalThis.fail ? 4 : 0") == 4  # and it stays usable
