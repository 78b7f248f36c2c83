"""Error text is truncated with a marker and never lost: name (1,024), message and stack (65,536
characters each) end with "… [truncated N more characters]" when longer; NUL bytes survive."""

import pytest

from quickbox import Context, JSError, Runtime

MESSAGE_MAX = 65536


def marker(dropped: int) -> str:
    return f"\u2026 [truncated {dropped} more characters]"


def cut(char: str, total: int, limit: int = MESSAGE_MAX) -> str:
    """total copies of char as they cross: as many as fit in limit with the marker for the rest."""
    kept = limit
    while kept + len(marker(total - kept)) > limit:
        kept -= 1
    return char * kept + marker(total - kept)


def test_a_huge_thrown_string_is_a_jserror_with_its_text_truncated() -> None:
    with Runtime(memory_limit=256 * 1024 * 1024) as rt, rt.new_context() as ctx:
        with pytest.raises(JSError) as caught:
            ctx.eval("throw 'w'.repeat(1.7e7)")
        assert caught.value.message == cut("w", 17_000_000)
        assert ctx.eval("'usable'") == "usable"


def test_a_huge_error_message_is_truncated_not_emptied(ctx: Context) -> None:
    with pytest.raises(JSError) as caught:
        ctx.eval("throw new TypeError('x'.repeat(3e7))")
    assert caught.value.name == "TypeError"
    assert caught.value.message == cut("x", 30_000_000)


def test_nul_bytes_survive_in_error_text(ctx: Context) -> None:
    with pytest.raises(JSError) as caught:
        ctx.eval("const e = new Error('a\\0b'); e.name = 'N\\0'; throw e")
    assert caught.value.message == "a\0b"
    assert caught.value.name == "N\0"


def test_an_unreadable_message_says_so(ctx: Context) -> None:
    with pytest.raises(JSError) as caught:
        ctx.eval("throw Object.defineProperty(new Error(), 'message', { get() { throw new Error('nope'); } })")
    assert caught.value.message == "[the error's message could not be read: Error: nope]"


def test_host_exception_text_stays_out_of_javascript_and_in_the_audit_log_with_nul_bytes(ctx: Context) -> None:
    def fails(kind: str) -> None:
        raise ValueError("h" * 1_000_000 if kind == "huge" else "a\0b")

    ctx.register("fails", fails)
    assert ctx.eval("try { fails('huge') } catch (e) { e.message }") == "Host function failed"
    assert ctx.audit_log[-1].detail.startswith("ValueError: hhh")
    assert ctx.eval("try { fails('nul') } catch (e) { e.message }") == "Host function failed"
    assert ctx.audit_log[-1].detail == "ValueError: a\0b"


def test_a_huge_host_exception_that_javascript_lets_go_is_raised_as_itself(ctx: Context) -> None:
    original = ValueError("h" * 1_000_000)

    def fails() -> None:
        raise original

    ctx.register("fails", fails)
    with pytest.raises(ValueError) as caught:
        ctx.eval("fails()")
    assert caught.value is original


def test_error_values_inside_results_are_truncated(ctx: Context) -> None:
    [error] = ctx.eval("[new RangeError('r'.repeat(70000))]")
    assert isinstance(error, JSError)
    assert error.message == cut("r", 70000)
