"""Runtime: the settings every context it creates shares, and snapshot restore/fork."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from typing import Any

from . import _quickbox, _transforms
from ._console import ConsoleSink
from ._context import Context
from ._errors import ConcurrentEvalError, InvalidInputError, QuickJSError
from ._modules import Load, ModuleLoader, Normalize
from ._network import Network
from ._results import ConsoleLine
from ._snapshot import Snapshot, as_snapshot, check_key
from ._transforms import TransformFlagsProvider

_MiB = 1024 * 1024
# The figures Context.memory_usage() reports: the sandbox's, then QuickJS's JSMemoryUsage fields.
_MEMORY_KEYS = (
    "malloc_size", "malloc_limit", "obj_count", "linear_memory", "memory_used_size", "malloc_count",
    "memory_used_count", "atom_count", "atom_size", "str_count", "str_size", "obj_size", "prop_count",
    "prop_size", "shape_count", "shape_size", "js_func_count", "js_func_size", "js_func_code_size",
    "js_func_pc2line_count", "js_func_pc2line_size", "c_func_count", "array_count", "fast_array_count",
    "fast_array_elements", "binary_object_count", "binary_object_size",
)
# The engine holds at most this many sandboxes at once (quickbox::EngineOptions' default).
_MAX_FORK = 1000


class Runtime:
    """Creates sandboxed contexts with the same limits. Cheap: all runtimes share the process's
    engine (the compiled guest and its base image), and each context is its own sandbox.

    ``memory_limit`` (bytes) and ``timeout`` (CPU seconds per evaluation) are the main limits;
    ``wall_timeout`` (seconds) also counts time spent waiting on host functions;
    ``max_host_calls`` caps host calls per evaluation; ``seed`` makes ``Math.random``
    reproducible; ``fixed_time_ms`` freezes ``Date.now()``. ``host_memory_limit`` (bytes; by
    default the memory limit) bounds what the engine keeps for a context outside it: pending
    calls' arguments and results, console output, the audit log. ``max_pending_calls`` (1024 by
    default) caps the async calls one evaluation may have pending. Calls beyond either fail inside
    JavaScript with a catchable ``Error``. ``bigint_limit`` (bytes of magnitude, 64 KiB by
    default) is the largest BigInt that may cross between Python and JavaScript. ``max_timers``
    (10,000 by default; 0 forbids timers) caps the ``setTimeout``/``setInterval`` timers pending
    at once. An evaluation waits on timers within ``wall_timeout``, or within ``timeout`` when
    that is unset; with ``fixed_time_ms`` time jumps to the next timer instead of sleeping.
    ``network`` (a ``quickbox.Network``) gives every context ``fetch()`` under that policy; without
    it there is no network at all. ``max_modules`` (1000 by default) and ``module_source_limit``
    (bytes, 16 MiB by default) cap the ES modules a context may load (see ``set_module_loader``).
    ``on_console`` is called with each ``ConsoleLine`` as the program prints it, while the
    program waits (the logger ``quickbox.console`` gets them too); if it raises, the program is
    stopped and the evaluation raises that exception. ``transform_flags`` (``SourceTransform``
    flags, or a function of the eval's filename giving them) transforms every eval's source first,
    e.g. strips TypeScript; an eval's own ``transform_flags`` takes precedence.
    """

    def __init__(self, *, memory_limit: int | None = 64 * _MiB, timeout: float = 5.0,
                 stack_limit: int | None = None, wall_timeout: float | None = None,
                 max_host_calls: int | None = None, console_limit: int | None = None,
                 result_limit: int | None = None, seed: int | None = None,
                 fixed_time_ms: int | None = None, allow_all_three_labels: bool = False,
                 host_memory_limit: int | None = None, max_pending_calls: int | None = None,
                 bigint_limit: int | None = None, max_timers: int | None = None,
                 network: Network | None = None,
                 max_modules: int | None = None, module_source_limit: int | None = None,
                 on_console: Callable[[ConsoleLine], object] | None = None,
                 transform_flags: TransformFlagsProvider | None = None) -> None:
        # Checked now, so a bad option fails here, naming itself, its value and the range.
        _quickbox.check_seconds(timeout, "timeout")
        if not isinstance(allow_all_three_labels, bool):
            raise TypeError(f"allow_all_three_labels must be True or False, got {allow_all_three_labels!r}")
        if network is not None and not isinstance(network, Network):
            raise TypeError(f"network must be a quickbox.Network, got {type(network).__name__}")
        self._options: dict[str, Any] = {
            "memory_limit": memory_limit,
            "stack_limit": stack_limit,
            "wall_timeout": wall_timeout,
            "max_host_calls": max_host_calls,
            "console_limit": console_limit,
            "result_limit": result_limit,
            "seed": seed,
            "fixed_time_ms": fixed_time_ms,
            "allow_all_three_labels": allow_all_three_labels,
            "host_memory_limit": host_memory_limit,
            "max_pending_calls": max_pending_calls,
            "bigint_limit": bigint_limit,
            "max_timers": max_timers,
            "network": None if network is None else network._native(),
            "max_modules": max_modules,
            "module_source_limit": module_source_limit,
        }
        # Applied to every eval of every context, and to modules, unless they have their own
        # (_transforms.py).
        self._transform = _transforms.TransformSetting(transform_flags)
        self._modules = ModuleLoader(self._transform)
        # Checked and parsed once per timeout a context asks for (the runtime's own here), not per
        # context: a bad option fails now, naming itself, its value and the range.
        self._parsed_options: dict[float, _quickbox._Options] = {
            timeout: _quickbox._Options({**self._options, "timeout": timeout, "modules": self._modules})}
        self._timeout = timeout
        self._wall_timeout = wall_timeout
        self._network = network
        self._console = ConsoleSink(on_console)
        self._contexts: weakref.WeakSet[Context] = weakref.WeakSet()
        self._closed = False

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def transform_flags(self) -> TransformFlagsProvider | None:
        """The ``SourceTransform`` flags (or a function of the filename giving them) applied to
        every eval of every context that passes none of its own; may be reassigned."""
        return self._transform.flags

    @transform_flags.setter
    def transform_flags(self, flags: TransformFlagsProvider | None) -> None:
        _transforms.check_policy(flags)
        self._transform.flags = flags

    @property
    def network(self) -> Network | None:
        """The network policy the contexts' ``fetch()`` runs under (None: no network)."""
        return self._network

    def set_module_loader(self, *, normalize: Normalize | None = None, load: Load | None = None,
                          transform_flags: TransformFlagsProvider | None = None) -> None:
        """Where ``import`` finds ES modules, for every context of this runtime (existing and new).
        ``normalize(base, specifier)`` returns the name of the module ``specifier`` means when
        imported by the module named ``base`` (for ``eval``'d code, its ``filename``), or None to
        refuse it; without it the specifier is the name. ``load(name)`` returns the module's source
        or None when there is none. Both run synchronously while the program waits; each name is
        loaded once per context. ``transform_flags`` (``SourceTransform`` flags, or a function of
        the module's name giving them) transforms each loaded source; unset, the runtime's
        ``transform_flags`` apply, and without those ``default_module_transform_flags(name)``:
        ``.ts``/``.mts``/``.cts``/``.tsx`` modules have their types stripped.
        ``SourceTransform.NONE`` turns transforms off. See docs/modules.md."""
        self._check_open()
        self._modules.set(normalize, load, transform_flags)

    def close(self) -> None:
        """Closes every context this runtime created and refuses new ones. Idempotent. A context
        that is running an evaluation (on any thread) closes as soon as that evaluation returns."""
        self._closed = True
        for ctx in list(self._contexts):
            ctx._close_when_idle()

    def new_context(self, *, timeout: float | None = None) -> Context:
        """A fresh sandboxed context (microseconds: it starts from the base image)."""
        timeout = self._timeout if timeout is None else timeout
        _quickbox.check_seconds(timeout, "timeout")
        return self._adopt(_quickbox._Sandbox.create(self._native_options(timeout)), timeout)

    def create_snapshot(self, ctx: Context, *, key: bytes | None = None) -> Snapshot:
        """Same as ``ctx.create_snapshot()``."""
        self._check_context(ctx)
        return ctx.create_snapshot(key=key)

    async def create_snapshot_async(self, ctx: Context, *, key: bytes | None = None,
                                    timeout: float | None = None) -> Snapshot:
        """Same as ``await ctx.create_snapshot_async()``."""
        self._check_context(ctx)
        return await ctx.create_snapshot_async(key=key, timeout=timeout)

    def restore_snapshot(self, snapshot: Snapshot, ctx: Context, *, key: bytes | None = None,
                         inject_globals: bool = True) -> None:
        """Replaces ``ctx``'s whole VM with the snapshot's. Validated fail-closed first
        (``InvalidSnapshotError`` names the failed check); ``ctx``'s host functions are bound to
        the restored program by name, and its handles become invalid. ``inject_globals=False``
        only validates (there is no partial restore: the VM is replaced whole or not at all)."""
        self._check_context(ctx)
        check_key(key)
        if not isinstance(inject_globals, bool):
            raise TypeError(f"inject_globals must be True or False, got {inject_globals!r}")
        data = as_snapshot(snapshot).to_bytes()
        if not inject_globals:
            _quickbox.inspect_snapshot(data, key)
            return
        ctx._check_idle("Runtime.restore_snapshot()")
        sandbox = _quickbox._Sandbox.restore(data, self._native_options(ctx._timeout), key)
        ctx._replace_sandbox(sandbox)

    def memory_usage(self) -> dict[str, int]:
        """QuickJS's memory counters summed over this runtime's open contexts (each context is
        its own heap; all zeros when there is none)."""
        self._check_open()
        total: dict[str, int] = dict.fromkeys(_MEMORY_KEYS, 0)
        for ctx in list(self._contexts):
            if not ctx.closed:
                try:
                    usage = ctx.memory_usage()
                except ConcurrentEvalError:
                    raise ConcurrentEvalError("rt.memory_usage() cannot count a context that is running an "
                                              "evaluation on another thread; call it when the runtime's "
                                              "contexts are idle") from None
                for key, value in usage.items():
                    total[key] = total.get(key, 0) + value
        return total

    def run_gc(self) -> None:
        """Runs QuickJS's cycle collector in every open context of this runtime that is idle (a
        context busy on another thread collects at its own pace: QuickJS runs the collector as it
        allocates)."""
        self._check_open()
        for ctx in list(self._contexts):
            if not ctx.closed:
                with contextlib.suppress(ConcurrentEvalError):
                    ctx.memory_usage(collect_garbage=True)

    def _check_context(self, ctx: object) -> None:
        self._check_open()
        if not isinstance(ctx, Context):
            raise TypeError(f"ctx must be a quickbox Context, got {type(ctx).__name__}")
        if ctx.closed:
            raise QuickJSError("the context is closed; Runtime.restore() makes a new one from a snapshot")

    def restore(self, snapshot: Snapshot, *, key: bytes | None = None, timeout: float | None = None) -> Context:
        """A new context holding the snapshot's VM. Register its host functions (by the same
        names) before resuming a suspended evaluation."""
        timeout = self._timeout if timeout is None else timeout
        _quickbox.check_seconds(timeout, "timeout")
        check_key(key)
        sandbox = _quickbox._Sandbox.restore(as_snapshot(snapshot).to_bytes(), self._native_options(timeout), key)
        return self._adopt(sandbox, timeout)

    def fork(self, snapshot: Snapshot, count: int, *, key: bytes | None = None) -> list[Context]:
        """``count`` independent contexts from one snapshot, each with its own ``Math.random``
        sequence unless the runtime has a ``seed``."""
        if not isinstance(count, int) or isinstance(count, bool):
            raise TypeError(f"count must be an int between 0 and {_MAX_FORK}, got {count!r}")
        if not 0 <= count <= _MAX_FORK:
            raise InvalidInputError(f"count must be between 0 and {_MAX_FORK}, got {count!r}")
        check_key(key)
        sandboxes = _quickbox._Sandbox.fork(as_snapshot(snapshot).to_bytes(), count,
                                            self._native_options(self._timeout), key)
        return [self._adopt(s, self._timeout) for s in sandboxes]

    def _native_options(self, timeout: float) -> _quickbox._Options:
        self._check_open()
        parsed = self._parsed_options.get(timeout)
        if parsed is None:
            parsed = _quickbox._Options({**self._options, "timeout": timeout, "modules": self._modules})
            if len(self._parsed_options) < 16:  # a few timeouts are usual; any number must not grow it
                self._parsed_options[timeout] = parsed
        return parsed

    def _adopt(self, sandbox: _quickbox._Sandbox, timeout: float) -> Context:
        ctx = Context(sandbox, timeout=timeout, wall_timeout=self._wall_timeout, on_close=self._forget,
                      console=self._console, transform=self._transform,
                      module_failure=self._modules.take_failure)
        self._contexts.add(ctx)
        return ctx

    def _forget(self, ctx: Context) -> None:
        self._contexts.discard(ctx)

    def _check_open(self) -> None:
        if self._closed:
            raise QuickJSError("the runtime is closed")
