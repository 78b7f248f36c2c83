"""Every option is checked where it is given (Runtime, new_context, eval, Policy, fork): a wrong
type raises TypeError and a value out of range InvalidInputError (a ValueError), each message
naming the option, the value and the accepted range, in Python's words (never a C++ type or field
name). Values at the edges of each range are accepted and mean what they say."""

import math
import re
from typing import Any

import pytest

from quickbox import Context, InvalidInputError, Label, MarshalError, Policy, QuickJSError, Runtime, Snapshot

# (option, value, exception, fragments the message must contain)
RUNTIME_CASES: list[tuple[str, Any, type[BaseException], list[str]]] = [
    ("memory_limit", "64M", TypeError, ["memory_limit", "'64M'", "between 1048576"]),
    ("memory_limit", 64.0 * 2**20, TypeError, ["memory_limit", "67108864.0"]),
    ("memory_limit", True, TypeError, ["memory_limit", "True"]),
    ("memory_limit", -1, InvalidInputError, ["memory_limit", "-1", "between 1048576 and"]),
    ("memory_limit", 1024, InvalidInputError, ["memory_limit", "1024"]),
    ("memory_limit", 2**64, InvalidInputError, ["memory_limit", str(2**64)]),
    ("memory_limit", 2**200, InvalidInputError, ["memory_limit", "between"]),
    ("timeout", "5s", TypeError, ["timeout", "'5s'", "between 0.001 and 2592000 seconds"]),
    ("timeout", None, TypeError, ["timeout", "None"]),
    ("timeout", True, TypeError, ["timeout", "True"]),
    ("timeout", 0, InvalidInputError, ["timeout", "0", "between 0.001 and 2592000 seconds"]),
    ("timeout", -1.0, InvalidInputError, ["timeout", "-1.0"]),
    ("timeout", math.nan, InvalidInputError, ["timeout", "nan"]),
    ("timeout", math.inf, InvalidInputError, ["timeout", "inf"]),
    ("timeout", 9e15, InvalidInputError, ["timeout", "9000000000000000.0", "30 days"]),
    ("timeout", 10**400, InvalidInputError, ["timeout", "between"]),
    ("timeout", 0.0001, InvalidInputError, ["timeout", "0.0001"]),
    ("wall_timeout", "1", TypeError, ["wall_timeout", "'1'"]),
    ("wall_timeout", 1e20, InvalidInputError, ["wall_timeout", "1e+20"]),
    ("wall_timeout", -math.inf, InvalidInputError, ["wall_timeout", "-inf"]),
    ("stack_limit", 1.5, TypeError, ["stack_limit", "1.5"]),
    ("stack_limit", 1024, InvalidInputError, ["stack_limit", "1024", "between 65536 and"]),
    ("stack_limit", 2**40, InvalidInputError, ["stack_limit", str(2**40)]),
    ("console_limit", -5, InvalidInputError, ["console_limit", "-5", "between 0 and 1073741824"]),
    ("console_limit", 2**31, InvalidInputError, ["console_limit", str(2**31)]),
    ("result_limit", 10, InvalidInputError, ["result_limit", "10", "between 64 and 1073741824"]),
    ("result_limit", "big", TypeError, ["result_limit", "'big'"]),
    ("max_host_calls", -1, InvalidInputError, ["max_host_calls", "-1", "between 0 and 4294967295"]),
    ("max_host_calls", 2**32, InvalidInputError, ["max_host_calls", str(2**32)]),
    ("max_host_calls", False, TypeError, ["max_host_calls", "False"]),
    ("seed", -1, InvalidInputError, ["seed", "-1", "between 0 and 2**64 - 1"]),
    ("seed", 2**64, InvalidInputError, ["seed", str(2**64)]),
    ("seed", "42", TypeError, ["seed", "'42'"]),
    ("seed", 4.0, TypeError, ["seed", "4.0"]),
    ("fixed_time_ms", 2**62, InvalidInputError, ["fixed_time_ms", str(2**62), "2286-11-20"]),
    ("fixed_time_ms", -1, InvalidInputError, ["fixed_time_ms", "-1", "1970-01-01"]),
    ("fixed_time_ms", 1.7e12, TypeError, ["fixed_time_ms", "1700000000000.0"]),
    ("allow_all_three_labels", 1, TypeError, ["allow_all_three_labels", "True or False", "1"]),
    ("allow_all_three_labels", "yes", TypeError, ["allow_all_three_labels", "'yes'"]),
    ("allow_all_three_labels", None, TypeError, ["allow_all_three_labels", "None"]),
    ("host_memory_limit", 1000, InvalidInputError, ["host_memory_limit", "1000", "between 1048576 and 1099511627776"]),
    ("host_memory_limit", 2.0**30, TypeError, ["host_memory_limit", "1073741824.0"]),
    ("max_pending_calls", 0, InvalidInputError, ["max_pending_calls", "0", "between 1 and 1000000 calls"]),
    ("max_pending_calls", True, TypeError, ["max_pending_calls", "True"]),
]

POLICY_CASES: list[tuple[str, Any, type[BaseException], list[str]]] = [
    ("max_calls_per_eval", -1, InvalidInputError, ["max_calls_per_eval", "-1", "between 0 and 4294967295"]),
    ("max_calls_per_eval", 2**32, InvalidInputError, ["max_calls_per_eval", str(2**32)]),
    ("max_calls_per_eval", "3", TypeError, ["max_calls_per_eval", "'3'"]),
    ("max_in_flight", 0, InvalidInputError, ["max_in_flight", "0", "between 1 and 4294967295"]),
    ("max_in_flight", True, TypeError, ["max_in_flight", "True"]),
    ("call_timeout", 0, InvalidInputError, ["call_timeout", "0", "between 0.001 and 2592000 seconds"]),
    ("call_timeout", math.nan, InvalidInputError, ["call_timeout", "nan"]),
    ("call_timeout", 9e15, InvalidInputError, ["call_timeout", "9000000000000000.0"]),
    ("labels", None, TypeError, ["labels", "None"]),
    ("call_timeout", "1s", TypeError, ["call_timeout", "'1s'"]),
    ("max_argument_bytes", -1, InvalidInputError, ["max_argument_bytes", "-1", "between 0 and 1073741824"]),
    ("max_argument_bytes", 2**40, InvalidInputError, ["max_argument_bytes", str(2**40)]),
    ("max_result_bytes", 1.0, TypeError, ["max_result_bytes", "1.0"]),
    ("max_result_bytes", 2**40, InvalidInputError, ["max_result_bytes", str(2**40)]),
    ("requires_approval", 1, TypeError, ["requires_approval", "True or False"]),
    ("requires_approval", None, TypeError, ["requires_approval", "None"]),
    ("labels", 8, InvalidInputError, ["labels", "8", "Label flags"]),
    ("labels", -1, InvalidInputError, ["labels", "-1"]),
    ("labels", "SENSITIVE_DATA", TypeError, ["labels", "'SENSITIVE_DATA'"]),
]

CPP_WORDING = re.compile(r"::|Limits|SandboxOptions|RestoreOptions|CapabilityPolicy|EvalOptions|std::|bad_cast|"
                         r"uint\d+_t|int64_t|chrono")


def check_message(error: BaseException, fragments: list[str]) -> None:
    message = str(error)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from: {message}"
    assert not CPP_WORDING.search(message), f"C++ wording in a Python message: {message}"


@pytest.mark.parametrize(("option", "value", "exception", "fragments"), RUNTIME_CASES,
                         ids=[f"{c[0]}={c[1]!r}"[:60] for c in RUNTIME_CASES])
def test_a_bad_runtime_option_is_refused_when_the_runtime_is_created(
        option: str, value: Any, exception: type[BaseException], fragments: list[str]) -> None:
    with pytest.raises(exception) as raised:
        Runtime(**{option: value})
    check_message(raised.value, fragments)


@pytest.mark.parametrize(("option", "value", "exception", "fragments"), POLICY_CASES,
                         ids=[f"{c[0]}={c[1]!r}"[:60] for c in POLICY_CASES])
def test_a_bad_policy_option_is_refused_when_the_policy_is_made(
        option: str, value: Any, exception: type[BaseException], fragments: list[str]) -> None:
    with pytest.raises(exception) as raised:
        Policy(**{option: value})
    check_message(raised.value, fragments)


@pytest.mark.parametrize("timeout", ["5s", True, 0, -2, math.nan, math.inf, 9e15])
def test_a_bad_timeout_is_refused_by_new_context_eval_and_restore(rt: Runtime, ctx: Context, timeout: Any) -> None:
    snapshot = ctx.create_snapshot()
    for attempt in (lambda: rt.new_context(timeout=timeout), lambda: ctx.eval("1", timeout=timeout),
                    lambda: rt.restore(snapshot, timeout=timeout)):
        with pytest.raises((TypeError, InvalidInputError)) as raised:
            attempt()
        check_message(raised.value, ["timeout", "between 0.001 and 2592000 seconds"])
    assert ctx.eval("'still usable'") == "still usable"


@pytest.mark.parametrize(("option", "value"), [("module", 1), ("strict", "yes"), ("filename", 7)])
def test_eval_flags_must_have_their_documented_type(ctx: Context, option: str, value: Any) -> None:
    with pytest.raises(TypeError) as raised:
        ctx.eval("1", **{option: value})
    check_message(raised.value, [option])


@pytest.mark.parametrize("count", [-1, 1001, 2.0, True])
def test_fork_counts_are_checked(rt: Runtime, ctx: Context, count: Any) -> None:
    snapshot = ctx.create_snapshot()
    with pytest.raises((TypeError, InvalidInputError)) as raised:
        rt.fork(snapshot, count)
    check_message(raised.value, ["count", "between 0 and 1000"])


def test_register_checks_its_own_arguments(ctx: Context) -> None:
    with pytest.raises(TypeError, match="is_async must be True, False or None"):
        ctx.register("f", lambda: 1, is_async=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="policy must be a quickbox.Policy"):
        ctx.register("f", lambda: 1, policy={"max_calls_per_eval": 1})  # type: ignore[arg-type]


def test_options_at_the_edges_of_their_ranges_are_accepted_and_mean_what_they_say() -> None:
    for edges in ({"memory_limit": 1 << 20, "timeout": 0.001, "console_limit": 0, "result_limit": 64,
                   "max_host_calls": 0, "seed": 0, "fixed_time_ms": 0, "wall_timeout": 0.001},
                  {"memory_limit": 1 << 31, "timeout": 2592000, "console_limit": 1 << 30, "result_limit": 1 << 30,
                   "max_host_calls": 2**32 - 1, "seed": 2**64 - 1, "wall_timeout": 2592000}):
        Runtime(**edges).close()
    with Runtime(fixed_time_ms=10**13) as rt:
        ctx = rt.new_context(timeout=2592000)
        assert ctx.eval("new Date().toISOString()") == "2286-11-20T17:46:40.000Z"
        assert ctx.eval("Date.now()") == 10**13
    with Runtime(fixed_time_ms=0) as rt:
        assert rt.new_context().eval("Date.now()") == 0
    policy = Policy(max_calls_per_eval=0, max_in_flight=2**32 - 1, call_timeout=0.001,
                    max_argument_bytes=1 << 30, max_result_bytes=0, labels=Label(7))
    assert policy.labels == 7


def test_a_huge_timeout_within_the_range_is_kept_not_wrapped_to_a_short_one() -> None:
    with Runtime(timeout=2592000) as rt:
        ctx = rt.new_context()
        # A budget that wrapped to 1 ms (the old failure) would end this in a TimeoutError.
        assert ctx.eval("let x = 0; for (let i = 0; i < 3e6; i++) x += i; x") == sum(range(3_000_000))


def test_refusals_are_quickbox_errors_or_type_errors_never_runtime_errors() -> None:
    for bad in ({"memory_limit": "64M"}, {"timeout": "5s"}, {"seed": -1}):
        with pytest.raises((TypeError, QuickJSError)) as raised:
            Runtime(**bad)
        assert not isinstance(raised.value, RuntimeError) or isinstance(raised.value, QuickJSError)
        assert "bad_cast" not in str(raised.value)


def test_refusals_from_the_engine_name_python_options_not_cpp_ones(rt: Runtime, ctx: Context) -> None:
    ctx.register("read_secrets", lambda: 1, policy=Policy(labels=Label.SENSITIVE_DATA))
    ctx.register("browse", lambda: 1, policy=Policy(labels=Label.UNTRUSTED_INPUT))
    with pytest.raises(InvalidInputError) as raised:
        ctx.register("send", lambda: 1, policy=Policy(labels=Label.EXTERNAL_EFFECT))
    check_message(raised.value, ["rule of two", "Runtime(allow_all_three_labels=True)"])
    signed = ctx.create_snapshot(key=b"k" * 32)
    with pytest.raises(QuickJSError) as refused:
        rt.restore(signed)
    check_message(refused.value, ["signed", "key="])


# Every way an argument reaches the engine, with a wrong argument: each must be refused in the
# package's own words (TypeError, ValueError, InvalidInputError, or MarshalError for a value),
# never by the native layer's argument matching, whose message shows its signatures and C++ class
# names.
def _argument_misuse(ctx: Context, handle: Any) -> list[tuple[str, Any]]:
    surrogate = "a\ud800b"
    return [
        ("eval code", lambda: ctx.eval(surrogate)),
        ("eval filename", lambda: ctx.eval("1", filename=surrogate)),
        ("eval_handle code", lambda: ctx.eval_handle(surrogate)),
        ("call name", lambda: ctx.call(surrogate)),
        ("call name type", lambda: ctx.call(None)),  # type: ignore[arg-type]
        ("globals read", lambda: ctx.globals[surrogate]),
        ("globals write", lambda: ctx.globals.__setitem__(surrogate, 1)),
        ("call_method name", lambda: handle.call_method(surrogate)),
        ("property key", lambda: handle.get(None)),
        ("property key set", lambda: handle.set(1.5, 1)),
        ("property key has", lambda: handle.has(True)),
        ("to_python flag", lambda: handle.to_python(allow_opaque=1)),
        ("ask name", lambda: ctx.ask(7)),  # type: ignore[arg-type]
        ("answer negative id", lambda: ctx.answer(-1, 1)),
        ("answer huge id", lambda: ctx.answer(2**64, 1)),
        ("answer id type", lambda: ctx.answer("1", 1)),  # type: ignore[arg-type]
        ("deny id", lambda: ctx.deny(2**40)),
        ("deny reason type", lambda: ctx.deny(1, 5)),  # type: ignore[arg-type]
        ("approve id", lambda: ctx.approve(-5)),
        ("approve id type", lambda: ctx.approve(None)),  # type: ignore[arg-type]
        ("snapshot info key type", lambda: ctx.create_snapshot().info(key="k")),  # type: ignore[arg-type]
        ("snapshot info empty key", lambda: ctx.create_snapshot().info(key=b"")),
        ("snapshot from an int", lambda: Snapshot(12345)),  # type: ignore[arg-type]
    ]


def test_a_wrong_argument_is_refused_in_the_packages_words_on_every_path(ctx: Context) -> None:
    with ctx.eval_handle("({ f() { return 1 } })") as handle:
        for what, misuse in _argument_misuse(ctx, handle):
            with pytest.raises((TypeError, ValueError, MarshalError)) as refused:
                misuse()
            message = str(refused.value)
            assert "incompatible function arguments" not in message and "_quickbox" not in message, (what, message)
        assert ctx.eval("'still usable'") == "still usable"


def test_text_with_a_lone_surrogate_is_refused_naming_where_it_is(ctx: Context) -> None:
    with pytest.raises(ValueError, match=r"code holds a lone surrogate \(U\+DC00 at index 3\)"):
        ctx.eval("1 +\udc00")
    with pytest.raises(ValueError, match=r"filename holds a lone surrogate \(U\+D800 at index 0\)"):
        ctx.eval("1", filename="\ud800")
    with pytest.raises(InvalidInputError, match="no pending call has id #-1"):
        ctx.answer(-1, 1)


async def test_a_reason_or_error_message_with_a_lone_surrogate_still_reaches_the_program(ctx: Context) -> None:
    # An answer's report is not refused for a broken character: it becomes U+FFFD, as the
    # sandbox's own error text does.
    ctx.ask("question")
    started = await ctx.start("try { await question() } catch (e) { e.message }")
    ctx.deny(started.pending[0].id, "no\ud800pe")
    assert (await ctx.resume()).value == "the call to 'question' was denied: no\ufffdpe"
    started = await ctx.start("try { await question() } catch (e) { e.name + ': ' + e.message }")
    ctx.answer(started.pending[0].id, error=ValueError("bro\udfffken"))
    assert (await ctx.resume()).value == "ValueError: bro\ufffdken"
