"""Quickbox: run untrusted JavaScript in a sandbox inside this process.

    from quickbox import Runtime

    with Runtime() as rt, rt.new_context() as ctx:
        ctx.register("add", lambda a, b: a + b)
        assert ctx.eval("add(1, 2)") == 3

Each context is a QuickJS-ng realm compiled to WebAssembly, with hard limits on memory, CPU time
and stack, no ambient access (files, network, environment), only the functions you register (and
``fetch()`` under a ``Network`` policy, when the runtime grants one), and whole-VM snapshots that
resume in another process.
"""

from . import _quickbox
from ._context import Context, time_remaining
from ._engine import configure_engine
from ._errors import (
    ConcurrentEvalError,
    DeadlockError,
    HostCancellationError,
    HostError,
    InternalError,
    InterruptError,
    InvalidHandleError,
    InvalidInputError,
    InvalidSnapshotError,
    JSError,
    MarshalError,
    MemoryLimitError,
    OutputLimitError,
    QuickJSError,
    StackOverflowError,
    TimeoutError,
    status_error,
)
from ._globals import Globals
from ._handles import Handle
from ._network import Network, Secret
from ._policy import Label, Policy
from ._results import AuditEntry, ConsoleLine, EvalResult, NetworkRequest, PendingCall
from ._runtime import Runtime
from ._snapshot import Snapshot
from ._threading import ThreadWorker
from ._transforms import SourceTransform, default_module_transform_flags, transform_source

UNDEFINED = _quickbox.UNDEFINED
Undefined = _quickbox.Undefined

_quickbox._set_error_classes(JSError, MarshalError, status_error)

__version__ = "0.1.0"


def engine_info() -> dict[str, str]:
    """Versions of quickjs-ng and wasmtime in use, and the guest build id."""
    info: dict[str, str] = _quickbox.engine_info()
    return info


__all__ = [
    "UNDEFINED", "AuditEntry", "ConcurrentEvalError", "ConsoleLine", "Context", "DeadlockError", "configure_engine",
    "EvalResult", "Globals", "Handle", "HostCancellationError", "HostError", "InternalError",
    "InterruptError", "InvalidHandleError", "InvalidInputError", "InvalidSnapshotError", "JSError", "Label",
    "MarshalError", "MemoryLimitError", "Network", "NetworkRequest", "OutputLimitError", "PendingCall",
    "Policy", "QuickJSError", "Runtime", "Secret", "Snapshot", "SourceTransform", "StackOverflowError",
    "ThreadWorker", "TimeoutError", "Undefined", "default_module_transform_flags", "engine_info",
    "time_remaining", "transform_source",
]
