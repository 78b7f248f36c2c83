"""The process's engine pool: configure_engine() sizes it before the first Runtime, the default
cap holds more than the old 1,000 live contexts, and a late call is refused in Python's words."""

import subprocess
import sys
import textwrap

import pytest

import quickbox
from quickbox import InvalidInputError, Runtime


def run_fresh(code: str) -> str:
    """Runs code in a new interpreter (the engine is per process) and returns what it printed."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_configure_engine_before_the_first_runtime_sets_the_cap_and_the_warm_pool() -> None:
    out = run_fresh("""
        import quickbox
        print(quickbox.configure_engine(max_sandboxes=3, warm_sandboxes=1))
        rt = quickbox.Runtime()
        contexts = [rt.new_context() for _ in range(3)]
        try:
            rt.new_context()
            print("a fourth context fit")
        except quickbox.InternalError as e:
            print("refused:", "3 at once" in str(e))
    """)
    assert out.splitlines() == ["(3, 1)", "refused: True"]


def test_prefaulted_slots_are_given_back_to_the_pool() -> None:
    # Every slot the engine pre-faulted when it was made serves a context; none stays taken.
    out = run_fresh("""
        import quickbox
        print(quickbox.configure_engine(max_sandboxes=4, warm_sandboxes=4, prefaulted_sandboxes=4))
        rt = quickbox.Runtime()
        contexts = [rt.new_context() for _ in range(4)]
        print([ctx.eval(f"{i} + 1") for i, ctx in enumerate(contexts)])
    """)
    assert out.splitlines() == ["(4, 4)", "[1, 2, 3, 4]"]


def test_the_default_cap_holds_more_than_a_thousand_live_contexts() -> None:
    out = run_fresh("""
        import quickbox
        rt = quickbox.Runtime()
        contexts = [rt.new_context() for _ in range(1001)]
        contexts[-1].eval("globalThis.x = 1")
        print(contexts[-1].eval("x + 1"))
    """)
    assert out == "2"


def test_configure_engine_after_the_engine_exists_is_refused() -> None:
    with Runtime() as rt, rt.new_context() as ctx:
        assert ctx.eval("1+2") == 3
    with pytest.raises(InvalidInputError, match="before the first Runtime"):
        quickbox.configure_engine(max_sandboxes=10)


@pytest.mark.parametrize("options", [{"max_sandboxes": 0}, {"max_sandboxes": 100001}, {"warm_sandboxes": -1},
                                     {"prefaulted_sandboxes": -1}])
def test_out_of_range_pool_sizes_are_refused_by_name(options: dict[str, int]) -> None:
    code = f"""
        import quickbox
        try:
            quickbox.configure_engine(**{options!r})
        except quickbox.InvalidInputError as e:
            print(e)
    """
    out = run_fresh(code)
    assert out.startswith(next(iter(options)) + " must be between"), out
