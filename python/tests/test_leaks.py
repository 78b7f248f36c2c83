"""Contexts do not leak: creating and closing many leaves memory flat, and a context that is
dropped without close() is still freed."""

import gc
import os
import weakref
from collections.abc import Callable

import pytest

from quickbox import Runtime
from quickbox._transforms import TransformSetting

PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1024 * 1024

# Bound on growth between context 1,000 and context 10,000. The first 1,000 warm up the engine's
# instance pool, allocator arenas and caches; after that, a leak of even 2.5 KiB per context
# (9,000 x 2.5 KiB = 22 MiB) would exceed it.
ALLOWED_GROWTH = 20 * MiB


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


# make test-asan preloads AddressSanitizer, which keeps freed memory in its quarantine (and finds
# leaks itself): RSS then measures ASan.
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""), reason="RSS measures AddressSanitizer's quarantine")
def test_creating_and_closing_10000_contexts_keeps_memory_flat(rt: Runtime) -> None:
    after_warm_up = 0
    for i in range(10_000):
        with rt.new_context() as ctx:
            ctx.register("echo", lambda value: value)
            assert ctx.eval(f"echo({{n: {i}, text: 'x'.repeat(100)}}).n") == i
        if i == 999:
            gc.collect()
            after_warm_up = resident_bytes()
    gc.collect()
    growth = resident_bytes() - after_warm_up
    assert growth < ALLOWED_GROWTH, (f"RSS grew by {growth / MiB:.1f} MiB over 9,000 contexts "
                                     f"(bound {ALLOWED_GROWTH / MiB:.0f} MiB)")


def test_a_context_dropped_without_close_is_freed_by_the_garbage_collector(rt: Runtime) -> None:
    ctx = rt.new_context()
    ctx.register("echo", lambda value: value)
    ctx.eval("echo(1)")
    dropped = weakref.ref(ctx)
    del ctx
    gc.collect()
    assert dropped() is None, "the context (and its sandbox) is still alive"


def _closing_over(value: object) -> Callable[[str], None]:
    return lambda name: None if value else None


@pytest.mark.parametrize("member", ["_sandbox", "_transform", "_fatal"])
def test_a_context_in_a_cycle_through_its_native_state_is_collected(member: str) -> None:
    # Context._sandbox, _transform and _fatal are members of its native base class
    # (python/src/context_eval.cc): a cycle through one is only found if the class shows its
    # members to the garbage collector.
    runtime = Runtime()
    ctx = runtime.new_context()
    if member == "_sandbox":
        pass  # every context has this one: ctx -> _sandbox -> its console listener, ctx._console_line -> ctx
    elif member == "_transform":
        ctx._transform = TransformSetting(_closing_over(ctx))  # ctx -> _transform -> its callable -> ctx
    else:
        fatal = KeyboardInterrupt()
        fatal.context = ctx  # type: ignore[attr-defined]  # ctx -> ctx._fatal -> fatal -> ctx
        ctx._fatal = fatal
        del fatal
    dropped = weakref.ref(ctx)
    del ctx
    gc.collect()
    assert dropped() is None, f"a context held only by a cycle through {member} stayed alive"
    runtime.close()
