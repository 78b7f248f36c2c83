"""Values crossing the boundary: None/null, UNDEFINED, bool, exact ints (BigInt beyond 2^53),
floats, str, bytes/Uint8Array, lists, dicts, errors; anything else is a MarshalError."""

import math
from typing import Any

import pytest

import quickbox
from quickbox import UNDEFINED, Context, JSError, MarshalError


@pytest.fixture
def echo(ctx: Context) -> Context:
    """A context with `echo(x)`, so a value goes Python -> JS -> Python -> JS -> Python."""
    ctx.register("echo", lambda value: value)
    return ctx


def round_trip(ctx: Context, value: Any) -> Any:
    """Sends value in as a global, through a host call and back out as the eval's result."""
    ctx.globals["incoming"] = value
    return ctx.eval("echo(incoming)")


# ---- null and undefined ---------------------------------------------------------------------

def test_none_is_null_and_null_is_none(echo: Context) -> None:
    echo.globals["v"] = None
    assert echo.eval("v === null") is True
    assert echo.eval("null") is None
    assert round_trip(echo, None) is None


async def test_none_returned_by_an_async_host_function_is_null(ctx: Context) -> None:
    @ctx.function
    async def log(message: str) -> None:
        pass

    assert await ctx.eval_async("const r = await log('x'); r === null") is True


def test_undefined_is_a_distinct_falsy_sentinel(echo: Context) -> None:
    assert echo.eval("undefined") is None, "a top-level undefined is None, as quickjs-rs returns it"
    assert echo.eval("[void 0]") == [UNDEFINED]
    assert UNDEFINED is not None
    assert not UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"
    assert isinstance(UNDEFINED, quickbox.Undefined)
    echo.globals["v"] = UNDEFINED
    assert echo.eval("v === undefined && 'v' in globalThis") is True
    assert round_trip(echo, [None, UNDEFINED]) == [None, UNDEFINED]
    assert echo.eval("({missing: undefined})") == {"missing": UNDEFINED}


# ---- booleans and numbers ------------------------------------------------------------------

@pytest.mark.parametrize("value", [True, False])
def test_booleans_stay_booleans(echo: Context, value: bool) -> None:
    echo.globals["v"] = value
    assert echo.eval("typeof v") == "boolean"
    result = round_trip(echo, value)
    assert result is value


@pytest.mark.parametrize("value, js_type", [
    (0, "number"),
    (-7, "number"),
    (2**31, "number"),
    (2**53 - 1, "number"),
    (2**53, "number"),
    (-(2**53), "number"),
    (2**53 + 1, "bigint"),
    (-(2**53) - 1, "bigint"),
    (-(2**70), "bigint"),
    (2**64 + 12345, "bigint"),
    (10**40, "bigint"),
])
def test_ints_cross_exactly_as_numbers_up_to_2_pow_53_and_as_bigints_beyond(
        echo: Context, value: int, js_type: str) -> None:
    echo.globals["v"] = value
    assert echo.eval("typeof v") == js_type
    assert echo.eval("String(v)") == str(value), "JS holds the exact value"
    result = round_trip(echo, value)
    assert type(result) is int and result == value


def test_js_bigints_and_integral_numbers_become_ints(ctx: Context) -> None:
    assert ctx.eval("2n ** 64n + 1n") == 2**64 + 1
    assert ctx.eval("-(2n ** 70n)") == -(2**70)
    assert ctx.eval("123n") == 123
    result = ctx.eval("42")
    assert type(result) is int and result == 42
    assert ctx.eval("2 ** 53") == 2**53


def test_fractional_numbers_become_floats(echo: Context) -> None:
    assert echo.eval("0.1 + 0.2") == 0.1 + 0.2
    assert round_trip(echo, 1.5) == 1.5
    assert type(round_trip(echo, 1.5)) is float
    assert echo.eval("1e308 * 10") == math.inf


def test_negative_zero_keeps_its_sign_both_ways(echo: Context) -> None:
    echo.globals["v"] = -0.0
    assert echo.eval("Object.is(v, -0)") is True
    result = echo.eval("-0")
    assert result == 0 and math.copysign(1.0, result) == -1.0
    assert math.copysign(1.0, round_trip(echo, -0.0)) == -1.0


def test_nan_and_infinities_cross_both_ways(echo: Context) -> None:
    echo.globals["values"] = [math.nan, math.inf, -math.inf]
    assert echo.eval("[Number.isNaN(values[0]), values[1] === Infinity, values[2] === -Infinity]") == [True, True, True]
    nan, inf, minus_inf = round_trip(echo, [math.nan, math.inf, -math.inf])
    assert math.isnan(nan) and inf == math.inf and minus_inf == -math.inf
    assert math.isnan(echo.eval("NaN"))


# ---- strings and bytes ----------------------------------------------------------------------

@pytest.mark.parametrize("text, utf16_length", [
    ("", 0),
    ("plain ascii", 11),
    ("naïve café ünïcödé", 18),
    ("日本語のテキスト", 8),
    ("emoji 😀 and 𝄞", 15),
    ("nul\x00inside", 10),
])
def test_strings_cross_intact_including_astral_characters(echo: Context, text: str, utf16_length: int) -> None:
    echo.globals["s"] = text
    assert echo.eval("s.length") == utf16_length, "JS sees UTF-16 code units"
    assert round_trip(echo, text) == text


def test_astral_characters_made_in_js_arrive_as_one_code_point(ctx: Context) -> None:
    assert ctx.eval("String.fromCodePoint(0x1F600) + '\\u{10FFFF}'") == "\U0001F600\U0010FFFF"


def test_strings_with_lone_surrogates_are_a_marshal_error(ctx: Context) -> None:
    with pytest.raises(MarshalError):
        ctx.globals["s"] = "broken \ud800 surrogate"


def test_bytes_become_uint8array_and_back(echo: Context) -> None:
    payload = bytes(range(256))
    echo.globals["b"] = payload
    assert echo.eval("[b instanceof Uint8Array, b.length, b[0], b[255]]") == [True, 256, 0, 255]
    assert echo.eval("new Uint8Array([1, 2, 3])") == b"\x01\x02\x03"
    assert round_trip(echo, payload) == payload
    assert round_trip(echo, b"") == b""


def test_bytearray_and_memoryview_are_sent_as_bytes(echo: Context) -> None:
    assert round_trip(echo, bytearray(b"abc")) == b"abc"
    assert round_trip(echo, memoryview(b"xyz")) == b"xyz"


# ---- containers -----------------------------------------------------------------------------

def test_lists_and_tuples_become_arrays_and_come_back_as_lists(echo: Context) -> None:
    echo.globals["t"] = (1, "two", 3.5)
    assert echo.eval("Array.isArray(t) && t.length === 3") is True
    assert round_trip(echo, (1, "two", 3.5)) == [1, "two", 3.5]
    assert round_trip(echo, [[1, [2, [3]]], []]) == [[1, [2, [3]]], []]


def test_dicts_with_string_keys_become_objects_with_their_order_preserved(echo: Context) -> None:
    value = {"zeta": 1, "alpha": 2, "mid": {"inner": [True, None]}}
    echo.globals["d"] = value
    assert echo.eval("Object.keys(d)") == ["zeta", "alpha", "mid"]
    result = round_trip(echo, value)
    assert result == value and list(result) == ["zeta", "alpha", "mid"]
    assert list(echo.eval("({b: 1, a: 2, c: 3})")) == ["b", "a", "c"]


def test_a_nested_structure_survives_a_round_trip(echo: Context) -> None:
    user = {"name": "Zoë 🎉", "id": 2**60, "tags": ("a", "b"), "avatar": b"\x89PNG"}
    value = {"user": user, "scores": [1, -0.5, math.inf], "active": True, "parent": None}
    result = round_trip(echo, value)
    assert result == {**value, "user": {**user, "tags": ["a", "b"]}}


@pytest.mark.parametrize("value", [
    {1: "int key"},
    {("tuple",): "key"},
    {"outer": {2.5: "nested float key"}},
], ids=["int key", "tuple key", "nested float key"])
def test_dicts_with_non_string_keys_are_a_marshal_error(ctx: Context, value: dict[Any, Any]) -> None:
    with pytest.raises(MarshalError, match="str"):
        ctx.globals["d"] = value


@pytest.mark.parametrize("value", [object(), {1, 2}, lambda: 1, 1 + 2j, [object()]],
                         ids=["object", "set", "function", "complex", "object in a list"])
def test_unsupported_python_values_are_a_marshal_error(ctx: Context, value: Any) -> None:
    with pytest.raises(MarshalError, match="cannot marshal a Python"):
        ctx.globals["v"] = value


def test_a_cyclic_python_value_is_a_marshal_error(ctx: Context) -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(MarshalError):
        ctx.globals["v"] = cycle


@pytest.mark.parametrize("code", ["(() => 1)", "Symbol('s')", "const a = []; a.push(a); a", "({f() {}})"],
                         ids=["function", "symbol", "cycle", "object with a method"])
def test_js_values_that_are_not_data_are_a_marshal_error(ctx: Context, code: str) -> None:
    with pytest.raises(MarshalError, match="cannot pass"):
        ctx.eval(code)


def test_a_host_function_returning_an_unsupported_value_is_a_marshal_error(ctx: Context) -> None:
    ctx.register("make", lambda: object())
    assert ctx.eval("try { make(); 'no error' } catch (e) { e.name }") == "TypeError"
    with pytest.raises(MarshalError):
        ctx.eval("make()")


# ---- errors as values -----------------------------------------------------------------------

def test_a_returned_error_object_is_a_jserror_instance_not_raised(ctx: Context) -> None:
    value = ctx.eval("new RangeError('out of range')")
    assert isinstance(value, JSError)
    assert (value.name, value.message) == ("RangeError", "out of range")


def test_a_thrown_error_is_raised_with_name_message_and_stack(ctx: Context) -> None:
    with pytest.raises(JSError) as raised:
        ctx.eval("function inner() { throw new TypeError('bad input') }\ninner()", filename="job.js")
    error = raised.value
    assert (error.name, error.message) == ("TypeError", "bad input")
    assert "inner" in error.stack and "job.js" in error.stack
    assert str(error) == "TypeError: bad input"


def test_a_thrown_non_error_value_is_raised_with_the_value(ctx: Context) -> None:
    with pytest.raises(JSError) as raised:
        ctx.eval("throw {code: 7}")
    assert (raised.value.name, raised.value.stack) == ("Error", None)
    assert raised.value.thrown == {"code": 7}


def test_a_jserror_passed_into_js_becomes_an_error_object(ctx: Context) -> None:
    ctx.globals["e"] = JSError("SyntaxError", "unexpected token")
    assert ctx.eval("[e instanceof Error, e.name, e.message]") == [True, "SyntaxError", "unexpected token"]
