"""Limits that hold wherever the engine itself works: recursion inside QuickJS's C code ends in a
catchable RangeError at every stack size, also on a Python thread, and running out of memory is
always a MemoryLimitError or a real Error in JS."""

import threading

import pytest

from quickbox import MemoryLimitError, Runtime, StackOverflowError

_KiB = 1024

RECURSION_IN_C = [
    "JSON.parse('['.repeat(1e6))",
    "eval('x => '.repeat(1e5) + '1')",
    "let a = []; for (let i = 0; i < 2e5; i++) a = [a]; a.flat(Infinity)",
    "let p = {}; for (let i = 0; i < 2e5; i++) p = new Proxy(p, {}); p.x",
]


@pytest.mark.parametrize("stack_limit", [64 * _KiB, None, 768 * _KiB], ids=["min", "default", "max"])
def test_recursion_in_quickjs_c_code_ends_in_a_catchable_range_error(stack_limit: int | None) -> None:
    with Runtime(stack_limit=stack_limit, timeout=30) as rt, rt.new_context() as ctx:
        for recursion in RECURSION_IN_C:
            caught = ctx.eval(f"try {{ {recursion}; 'no error' }} catch (e) {{ e.constructor.name + ': ' + e.message }}")
            assert caught == "RangeError: Maximum call stack size exceeded", recursion
            with pytest.raises(StackOverflowError):
                ctx.eval("{ " + recursion + " }")
            assert ctx.eval("1 + 1") == 2


def test_recursion_in_c_is_caught_on_a_python_thread_with_the_default_stack() -> None:
    outcomes: list[object] = []

    def run() -> None:
        with Runtime(timeout=30) as rt, rt.new_context() as ctx:
            outcomes.extend(ctx.eval(f"try {{ {r} }} catch (e) {{ e.message }}") for r in RECURSION_IN_C)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert outcomes == ["Maximum call stack size exceeded"] * len(RECURSION_IN_C)


def test_a_flood_of_property_names_is_a_memory_limit_error_and_catch_gets_a_real_error() -> None:
    flood = "const o = {}; for (let i = 0; ; i++) o['k' + i] = i;"
    with Runtime(timeout=60) as rt, rt.new_context() as ctx:
        caught = ctx.eval(f"let c; try {{ (() => {{ {flood} }})() }} catch (e) {{ c = e }}"
                          " c === null ? 'null' : c instanceof Error ? c.message : 'leaked ' + typeof c")
        assert caught in ("out of memory", "null")
        with pytest.raises(MemoryLimitError, match="64 MiB"):
            ctx.eval("{ " + flood + " }")
        assert ctx.eval("'still ' + 'works'") == "still works"
