"""BigInts cross the boundary in binary, in linear time (int.from_bytes / int.to_bytes, never
decimal text), up to the sandbox's BigInt limit of 64 KiB of magnitude (docs/limits.md)."""

import time

import pytest

from quickbox import Context, InvalidInputError, OutputLimitError, Runtime

LIMIT_BITS = 64 * 1024 * 8  # the default BigInt limit, 64 KiB of magnitude


@pytest.mark.parametrize("value", [
    pytest.param(2**LIMIT_BITS - 1, id="the largest allowed"),
    pytest.param(-(2**LIMIT_BITS - 1), id="the most negative allowed"),
    pytest.param(2**53 + 1, id="2**53 + 1"),
    pytest.param(-(2**64), id="-(2**64)"),
    # beyond Python's own 4300-digit limit for decimal conversion
    pytest.param(10**4300 + 7, id="4301 digits"),
])
def test_ints_up_to_the_limit_cross_exactly_both_ways(ctx: Context, value: int) -> None:
    ctx.register("echo", lambda x: x)
    ctx.globals["incoming"] = value
    assert ctx.eval("typeof incoming") == "bigint"
    assert ctx.eval("echo(incoming)") == value
    assert ctx.eval("incoming === echo(incoming)") is True


def test_js_bigints_become_exact_ints(ctx: Context) -> None:
    assert ctx.eval("2n ** 500000n - 1n") == 2**500000 - 1
    assert ctx.eval("-(3n ** 100000n)") == -(3**100000)


def test_bigints_at_the_limit_cross_in_linear_time(ctx: Context) -> None:
    # Ten 64 KiB BigInts: decimal conversion took seconds each with the GIL held; binary takes
    # milliseconds.
    started = time.process_time()
    values = ctx.eval("Array(10).fill((1n << 524288n) - 1n)")
    ctx.globals["back"] = values
    assert ctx.eval("back.every((x) => x === (1n << 524288n) - 1n)") is True
    assert time.process_time() - started < 2.0
    assert values == [2**LIMIT_BITS - 1] * 10


def test_a_result_holding_a_bigint_over_the_limit_is_an_output_limit_error_naming_it(ctx: Context) -> None:
    started = time.process_time()
    with pytest.raises(OutputLimitError, match=r"BigInt at \$\[0\] has 125000 bytes \(1000000 bits\), "
                                               r"more than the sandbox's BigInt limit of 65536 bytes"):
        ctx.eval("Array(10).fill(2n ** 1000000n - 1n)")
    assert time.process_time() - started < 2.0
    assert ctx.eval("1 + 1") == 2


def test_an_int_over_the_limit_is_refused_where_it_enters_javascript(ctx: Context) -> None:
    with pytest.raises(InvalidInputError, match="BigInt limit of 65536 bytes"):
        ctx.globals["big"] = 2**LIMIT_BITS
    ctx.register("huge", lambda: -(2**LIMIT_BITS))
    assert ctx.eval("try { huge(); 'no error' } catch (e) { e instanceof RangeError && e.message }") == (
        "a BigInt from the host has 65537 bytes, more than the sandbox's BigInt limit of 65536 bytes")


def test_a_bigint_over_the_limit_in_host_call_arguments_is_a_catchable_range_error(ctx: Context) -> None:
    calls = []
    ctx.register("record", calls.append)
    assert ctx.eval("try { record(1n << 524288n); 'sent' } catch (e) { e.name }") == "RangeError"
    assert calls == []


def test_the_limit_is_an_option_of_the_runtime_and_is_validated() -> None:
    with Runtime(bigint_limit=1 << 20) as rt, rt.new_context() as ctx:
        assert ctx.eval("2n ** 1000000n - 1n") == 2**1000000 - 1
    with Runtime(bigint_limit=8) as rt, rt.new_context() as ctx:
        assert ctx.eval("2n ** 64n - 1n") == 2**64 - 1
        with pytest.raises(OutputLimitError, match="BigInt limit of 8 bytes"):
            ctx.eval("2n ** 64n")
    for bad in (0, 7, (1 << 20) + 1):
        with pytest.raises(ValueError, match=r"bigint_limit must be between 8 and 1048576 bytes"):
            Runtime(bigint_limit=bad)
