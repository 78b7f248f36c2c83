"""The process's engine: how many contexts may be alive at once, and how many closed ones keep
their memory for the next (the warm pool)."""

from __future__ import annotations

from . import _quickbox


def configure_engine(*, max_sandboxes: int | None = None, warm_sandboxes: int | None = None,
                     prefaulted_sandboxes: int | None = None) -> tuple[int, int]:
    """Sizes the engine every Runtime of this process shares. Call it before the first Runtime.

    ``max_sandboxes``: contexts alive at once, 1 to 100,000 (by default one per 2 MiB of the
    machine's memory, between 1,000 and 10,000). Each reserves address space, not memory.
    ``warm_sandboxes``: closed contexts whose memory is kept for the next ones (default 100; more
    than ``max_sandboxes`` means all); the memory of the rest goes back to the system when they
    close. ``prefaulted_sandboxes``: how many of the warm pool's slots the engine pre-faults when it
    is made (default 16, at most ``warm_sandboxes``), evaluating ``1+2`` in each, so that the
    first contexts of the process start as fast as later ones (about 0.1 ms each, once).
    None keeps the current value. Returns ``(max_sandboxes, warm_sandboxes)`` as now in force.

    Raises InvalidInputError once the engine exists, or when a value is out of range.
    """
    result: tuple[int, int] = _quickbox._configure_engine(max_sandboxes, warm_sandboxes, prefaulted_sandboxes)
    return result
