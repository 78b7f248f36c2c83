"""Per-function policy: budgets, concurrency, timeouts, size caps, approval and labels."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from typing import Any

from . import _quickbox


class Label(IntFlag):
    """Rule-of-two labels. A context whose functions carry all three is refused unless the
    runtime was created with ``allow_all_three_labels=True``."""

    SENSITIVE_DATA = 1
    UNTRUSTED_INPUT = 2
    EXTERNAL_EFFECT = 4


@dataclass(frozen=True)
class Policy:
    """Limits for one host function.

    ``max_in_flight`` makes further calls wait their turn (in order) instead of failing;
    ``max_calls_per_eval`` makes further calls fail inside JavaScript; ``call_timeout`` (seconds)
    rejects a call inside JavaScript when its host function takes longer;
    ``requires_approval`` suspends the program at each call until ``ctx.approve`` or
    ``ctx.deny``.
    """

    max_calls_per_eval: int | None = None
    max_in_flight: int | None = None
    call_timeout: float | None = None
    max_argument_bytes: int | None = None
    max_result_bytes: int | None = None
    requires_approval: bool = False
    labels: Label = Label(0)

    def __post_init__(self) -> None:
        # Checked now, so a bad option fails where it is given, naming itself, its value and the range.
        if not isinstance(self.requires_approval, bool):
            raise TypeError(f"requires_approval must be True or False, got {self.requires_approval!r}")
        if self.labels is None:
            raise TypeError("labels must be a combination of Label flags (an int between 0 and 7), got None")
        _quickbox.check_policy(self._native(timed_by_python=False))

    def _native(self, *, timed_by_python: bool) -> dict[str, Any]:
        """The engine's view. The engine applies everything, except the timeout of async Python
        functions: the driver times their coroutines out itself (and reports it as a timeout)."""
        out: dict[str, Any] = {
            "max_calls_per_eval": self.max_calls_per_eval,
            "max_in_flight": self.max_in_flight,
            "max_argument_bytes": self.max_argument_bytes,
            "max_result_bytes": self.max_result_bytes,
            "labels": self.labels,
            "requires_approval": self.requires_approval,
            "call_timeout": None if timed_by_python else self.call_timeout,
        }
        return {k: v for k, v in out.items() if v is not None}
