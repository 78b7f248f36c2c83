"""Exception classes, and the mapping from the engine's error kinds to them.

One base class, ``QuickJSError``, so callers can catch everything the sandbox can throw at
them; the names follow ``quickjs-rs`` so code written against it keeps working.
"""

from __future__ import annotations

import builtins
from typing import Any

from ._quickbox import UNDEFINED


class QuickJSError(Exception):
    """Base class of every error raised by quickbox."""


class JSError(QuickJSError):
    """A JavaScript exception that the program did not catch.

    ``name``, ``message`` and ``stack`` come from the thrown value. When the program threw
    something that is not an Error (``throw {code: 7}``), ``name`` is "Error", ``message`` its
    text, ``stack`` None, and ``thrown`` holds the value itself.
    """

    def __init__(self, name: str, message: str, stack: str | None = "", thrown: Any = None) -> None:
        super().__init__(f"{name}: {message}" if name else message)
        self.name = name
        self.message = message
        self.stack = stack
        self.thrown = thrown

    def __repr__(self) -> str:
        return f"JSError(name={self.name!r}, message={self.message!r})"


class HostError(JSError):
    """An error named HostError that JavaScript let escape. A host function's own exception is
    raised as itself instead (JavaScript only saw ``HostError: Host function failed``); this
    class covers a HostError the program made or re-threw itself."""


class MarshalError(QuickJSError):
    """A value cannot cross the boundary (a function, a cycle, a str key-less dict, ...)."""


class InvalidHandleError(QuickJSError):
    """A Handle was used after ``dispose()``, after its context was closed, reset or restored,
    or with another context than the one that made it."""


class InterruptError(QuickJSError):
    """The program was stopped from outside."""


class TimeoutError(InterruptError):  # noqa: A001 - same name as quickjs-rs
    """The CPU time budget (``timeout``) or the wall-clock limit (``wall_timeout``) ran out."""


class MemoryLimitError(QuickJSError):
    """The program exceeded its memory limit."""


class StackOverflowError(QuickJSError):
    """Unbounded recursion hit the JavaScript stack limit."""


class OutputLimitError(QuickJSError):
    """The result is larger than the result size limit."""


class InvalidInputError(QuickJSError, ValueError):
    """The request was malformed, or the API was misused (e.g. resolving an unknown call id)."""


class InvalidSnapshotError(QuickJSError, ValueError):
    """A snapshot was refused; the message names the check that failed."""


class InternalError(QuickJSError):
    """An unexpected engine failure; the context's VM was discarded (``reset()`` recovers)."""


class ConcurrentEvalError(QuickJSError):
    """The context is busy: it is evaluating on another thread, an eval_async is in progress,
    or a host function called back into its own context with something that cannot run there;
    or a synchronous eval called an async host function."""


class DeadlockError(QuickJSError):
    """The awaited promise can never settle: nothing is left to run and nothing will settle it."""


class HostCancellationError(QuickJSError):
    """The task awaiting an evaluation was cancelled while host calls were in flight."""


_KINDS: dict[str, type[QuickJSError]] = {
    "Timeout": TimeoutError,
    "OutOfMemory": MemoryLimitError,
    "StackOverflow": StackOverflowError,
    "OutputLimit": OutputLimitError,
    "InvalidInput": InvalidInputError,
    "Internal": InternalError,
    "Deadlock": DeadlockError,
    "Busy": ConcurrentEvalError,  # the native module's refusal of a call on a busy context
}

# The fixed wording for values that cannot cross: leaving the sandbox (guest/cbor.c), and
# entering it from Python (python/src/module.cc), as a host function's result for instance.
_MARSHAL_PREFIX = ("cannot pass ", "cannot marshal ")


def status_error(kind: str, message: str) -> QuickJSError:
    """The exception for a refusal reported by the engine (called from the native module)."""
    if kind == "InvalidInput" and message.startswith("snapshot refused: "):
        return InvalidSnapshotError(message)
    return _KINDS.get(kind, QuickJSError)(message)


def evaluation_error(kind: str, name: str, message: str, stack: str, thrown: Any) -> QuickJSError:
    """The exception for an evaluation that ended in an Error."""
    if kind == "JSException":
        if name == "TypeError" and message.startswith(_MARSHAL_PREFIX):
            return MarshalError(message)
        if not name:  # `throw "x"`, `throw 42`: no Error, so no name or stack (as quickjs-rs reports it)
            return JSError("Error", message, None, None if thrown is UNDEFINED else thrown)
        cls = HostError if name == "HostError" else JSError
        return cls(name, message, stack, None if thrown is UNDEFINED else thrown)
    error = _KINDS.get(kind, QuickJSError)(message)
    if stack:
        error.add_note(stack)
    return error


__all__ = [name for name, value in dict(globals()).items() if isinstance(value, type)
           and issubclass(value, builtins.BaseException)]
