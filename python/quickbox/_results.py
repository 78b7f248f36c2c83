"""Plain data returned by contexts: evaluation results, pending calls, console lines, audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal


@dataclass(frozen=True)
class ConsoleLine:
    """One ``console.*`` call made by the program."""

    level: Literal["log", "info", "warn", "error", "debug"]
    text: str


@dataclass(frozen=True)
class PendingCall:
    """A host call the program is waiting on and only the caller can settle.

    ``needs_approval`` calls wait for ``ctx.approve(id)``; the others (calls of ``ask``
    functions) wait for ``ctx.answer(id, value)``. ``ctx.deny(id, reason)`` refuses either.
    """

    id: int
    name: str
    args: list[Any]
    needs_approval: bool


@dataclass(frozen=True)
class EvalResult:
    """The outcome of ``Context.start`` / ``Context.resume``: done with a value, or suspended.

    Errors are raised, not returned.
    """

    done: bool
    value: Any = None
    pending: list[PendingCall] = field(default_factory=list)
    console: list[ConsoleLine] = field(default_factory=list)

    @property
    def suspended(self) -> bool:
        """True when the program waits on ``pending``."""
        return not self.done


@dataclass(frozen=True)
class NetworkRequest:
    """One HTTP request a ``fetch()`` made (each redirect is one), without credentials.
    ``status`` is 0 when no response came; ``duration`` is in seconds; ``error`` says why it was
    refused or failed."""

    method: str
    url: str
    status: int
    request_bytes: int
    response_bytes: int
    duration: float
    error: str


@dataclass(frozen=True)
class AuditEntry:
    """One host call, as recorded by the engine; ``requests`` are the HTTP requests of a
    ``fetch()``."""

    capability: str
    call_id: int
    argument_bytes: int
    argument_digest: str
    start: datetime
    duration: float
    outcome: Literal["ok", "error", "denied", "budget_exceeded", "timeout", "cancelled", "pending"]
    detail: str
    requests: tuple[NetworkRequest, ...] = ()

    @classmethod
    def _from_native(cls, row: tuple[Any, ...]) -> AuditEntry:
        capability, call_id, size, digest, start, duration, outcome, detail, requests = row
        return cls(capability, call_id, size, digest, datetime.fromtimestamp(start, timezone.utc),
                   duration, outcome, detail, tuple(NetworkRequest(*r) for r in requests))
