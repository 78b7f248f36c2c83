"""Context: one sandboxed JavaScript realm (its own wasm instance) and the functions it may call.

Synchronous Python functions run inside the JavaScript call (the engine calls back into Python
under the GIL). Async Python functions are driven here, on the caller's event loop: the engine
suspends the program while their promises are pending, this module runs the coroutines, settles
the calls and resumes the program. That is also how a program pauses for an approval: the
pending call is handed to the caller instead of being run.
"""

from __future__ import annotations

import asyncio
import builtins
import contextvars
import functools
import inspect
import json
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from . import _quickbox, _transforms
from ._console import ConsoleSink
from ._errors import (
    ConcurrentEvalError,
    HostCancellationError,
    InvalidHandleError,
    InvalidInputError,
    JSError,
    MarshalError,
    QuickJSError,
    TimeoutError,
    evaluation_error,
)
from ._globals import Globals
from ._handles import Handle, unwrap_handles, wrap_opaque
from ._modules import FAILED_ON as MODULE_LOADER_FAILED_ON
from ._policy import Policy
from ._registration import check_function, check_js_name, is_js_binding_name
from ._results import AuditEntry, ConsoleLine, EvalResult, PendingCall
from ._snapshot import Snapshot, check_key
from ._transforms import TransformFlagsProvider, TransformSetting

F = TypeVar("F", bound=Callable[..., Any])

# What JavaScript learns of a Python exception raised by a host function: a fixed message, so a
# secret in an exception's text never reaches the untrusted program. The exception itself is kept
# here (raised again when the program lets the error escape) and its text goes to the audit log.
HOST_ERROR_NAME = "HostError"
HOST_ERROR_MESSAGE = "Host function failed"
_quickbox._set_host_error_text(HOST_ERROR_NAME, HOST_ERROR_MESSAGE)

_DONE, _ERROR, _SUSPENDED = 0, 1, 2
# quickbox::EvalOptions::Kind
_AUTO, _MODULE = 0, 3

# (status, payload, console lines, console bytes dropped, calls the program never awaited); the
# native layer gives an empty tuple for an empty list
Outcome = tuple[int, Any, Sequence[tuple[str, str]], int, Sequence[str]]
_UNDEFINED = _quickbox.UNDEFINED
_NOT_PLAIN = _quickbox.NOT_PLAIN


# When the running host function's evaluation runs out of wall-clock time (time.monotonic()). The
# native layer sets it around each sync host function's call; _run sets it for async ones.
_call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("quickbox_call_deadline",
                                                                             default=None)
_quickbox._set_call_deadline(_call_deadline)


def _renamed(old: str, new: str) -> None:
    """Warns a caller of an old name of the pending-call vocabulary, which is the command line's:
    ask functions, answer, approve, deny."""
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


def time_remaining() -> float | None:
    """Inside a host function: the seconds left before the evaluation's ``wall_timeout`` runs
    out (0.0 once it has), so the function can bound its own work; the engine cannot interrupt a
    running host function, and the evaluation ends with ``TimeoutError`` as soon as it returns
    late. ``None`` when there is no ``wall_timeout`` (or outside a host function)."""
    deadline = _call_deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _detect_is_async(fn: Callable[..., Any]) -> bool:
    """Coroutine functions, partials of them and objects whose __call__ is one are async. A
    plain function that wraps a coroutine function (``__wrapped__``) without being one itself is
    refused: it would return an unawaited coroutine to JavaScript."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - objects with an async __call__
    if call is not None and inspect.iscoroutinefunction(call):
        return True
    try:
        unwrapped = inspect.unwrap(fn)
    except ValueError:  # a __wrapped__ cycle
        return False
    if unwrapped is not fn and inspect.iscoroutinefunction(unwrapped):
        raise TypeError(f"{getattr(fn, '__name__', fn)!r} is not a coroutine function, but its __wrapped__ is: "
                        "pass is_async=True if it returns an awaitable, or is_async=False if it is sync")
    return False


class _Exclusive:
    """``with ctx._exclusive:`` claims the context for this thread for the length of an operation
    (or refuses, in words that say who holds it), and closes it after if a close was asked for
    meanwhile. From inside one of the context's own synchronous host functions the operation runs
    nested instead (the engine sets the calling evaluation aside and gives it back after), unless
    it cannot run there: ``ctx._exclusive(nested=False, what="ctx.reset()")`` refuses it, naming
    it. The claim is the native layer's (``_Sandbox.claim``), which a plain ``eval`` takes and
    gives back inside its one native call. A class rather than a generator-based context manager:
    this costs about a microsecond less."""

    __slots__ = ("_ctx", "_nested", "_what")

    def __init__(self, ctx: Context, nested: bool = True, what: str = "") -> None:
        self._ctx = ctx
        self._nested = nested
        self._what = what

    def __call__(self, *, nested: bool = True, what: str = "") -> _Exclusive:
        return _Exclusive(self._ctx, nested, what)

    def __enter__(self) -> None:
        ctx = self._ctx
        if ctx._sandbox.claim():
            ctx._console_failure = None  # an outermost operation starts clean
            ctx._nesting.append(None)
            return
        if ctx._owner == threading.get_ident():
            if ctx._sandbox.in_console_listener():
                raise ConcurrentEvalError(_quickbox._Sandbox.refused_from_on_console(self._what or "this operation"))
            if ctx._sandbox.in_host_function():
                if self._nested:
                    ctx._enter_nested()
                    return
                raise ConcurrentEvalError(
                    f"{self._what} cannot run inside a host function of its own context: the evaluation that "
                    "called the function is stopped until it returns, so nothing could wait for async host "
                    "functions meanwhile; use ctx.eval() there, or run it after the evaluation returns")
            raise ConcurrentEvalError("this context is already evaluating: an eval_async or start must "
                                      "finish before the next")
        raise ConcurrentEvalError("this context is running an evaluation on another thread; a context "
                                  "is used by one thread at a time")

    def __exit__(self, *exc: object) -> None:
        ctx = self._ctx
        if ctx._nesting[-1] is not None:
            ctx._leave_nested()
            return
        ctx._nesting.pop()
        ctx._sandbox.unclaim()
        if ctx._close_requested:
            ctx._close_now(when_idle=True)


@dataclass(frozen=True)
class _Function:
    name: str
    fn: Callable[..., Any]
    is_async: bool
    policy: Policy


class Context(_quickbox._ContextBase):
    """A JavaScript realm in its own sandbox. Create it with ``Runtime.new_context()``.

    One thread at a time: while an evaluation runs (``eval``, ``call``, or ``start``/``resume``
    until it returns), any use from another thread raises ``ConcurrentEvalError``. A synchronous
    host function may call back into its own context: ``eval``, ``eval_handle``, ``call``,
    ``globals``, handles and ``memory_usage`` run nested, and the evaluation that called the
    function continues intact after they return (they share its time limits and cannot wait on
    async host functions; at most 8 deep). What cannot run there (``eval_async``, ``start``,
    ``resume``, ``reset``, a snapshot or a restore) raises ``ConcurrentEvalError``. A host
    function may also read ``pending`` and ``audit_log``, settle calls, and ``close()`` the
    context: the close takes effect when the evaluation returns. Different contexts may be used
    from different threads at once; the GIL is released while JavaScript runs (a plain ``eval``
    keeps it while the program is short: 0.1 ms, or until it waits on a timer or ``fetch()``).
    """

    def __init__(self, sandbox: _quickbox._Sandbox, *, timeout: float, wall_timeout: float | None = None,
                 on_close: Callable[[Context], None] | None = None, console: ConsoleSink | None = None,
                 transform: TransformSetting | None = None,
                 module_failure: Callable[[str], BaseException | None] | None = None) -> None:
        # No reference to the Runtime: it holds its contexts (weakly), and what a context needs
        # of it (limits, a close hook, where console lines go, its transform_flags as they are
        # when an eval starts, what its module loader raised) is handed over here.
        self._sandbox = sandbox
        self._timeout = timeout
        self._wall_timeout = wall_timeout
        self._on_close = on_close
        self._console_sink = console or ConsoleSink()
        self._transform = transform or TransformSetting()
        self._module_failure = module_failure
        self._functions: dict[str, _Function] = {}
        # One entry per operation in progress on the owner thread (_Exclusive): None for the
        # outermost, and for each nested one (run by a synchronous host function in its own
        # context) the calling evaluation's state, given back when it ends.
        self._nesting: list[tuple[BaseException | None, BaseException | None, list[ConsoleLine], int] | None] = []
        self._close_requested = False
        # The last Python exception a host function raised in this evaluation (JavaScript only
        # saw HOST_ERROR_MESSAGE), and a KeyboardInterrupt or SystemExit one raised, which
        # stops the evaluation and is raised again as soon as it returns.
        self._host_exception: BaseException | None = None
        self._fatal: BaseException | None = None
        # What on_console raised in this evaluation: it stops the evaluations a nested one runs
        # inside too, each raising it as it returns.
        self._console_failure: BaseException | None = None
        # The running async host calls, by call id (the name quickjs-rs gives its own).
        self._pending_tasks: dict[int, asyncio.Task[Any]] = {}
        self._console: list[ConsoleLine] = []
        self._console_dropped = 0
        # True while _host_exception, _fatal, _console_failure, _console and _console_dropped hold
        # nothing (the last operation left nothing to forget), so a plain eval need not start
        # afresh (_start_afresh). Whatever sets one of them clears it. Kept rather than derived:
        # testing the five at every eval cost what leaving out the separate claim call saved.
        self._left_nothing = True
        # Bumped whenever the VM is replaced (restore, reset) or closed: handles made before
        # belong to a VM that is gone.
        self._generation = 0
        self._exclusive = _Exclusive(self)
        self.globals = Globals(self)
        sandbox.set_console_listener(self._console_line)

    @property
    def _owner(self) -> int | None:
        """The thread running an operation of this context (an eval_async's spans awaits), or
        None: the holder of the native layer's claim (_Exclusive, eval)."""
        return self._sandbox.owner()

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Releases the sandbox. Idempotent. Called from inside one of this context's host
        functions (or an async host function it awaits), the close takes effect when the running
        evaluation returns; from another thread while an evaluation runs, it raises
        ``ConcurrentEvalError``."""
        owner = self._owner
        if owner is not None:
            if owner != threading.get_ident():
                raise ConcurrentEvalError("ctx.close() cannot run now: the context is running an evaluation on "
                                          "another thread; close it after that returns (Runtime.close() waits "
                                          "for it)")
            self._close_requested = True
            return
        self._close_now(when_idle=False)

    def _close_when_idle(self) -> None:
        """Closes now, or as soon as the evaluation running on any thread returns (Runtime.close)."""
        if self._owner is not None:
            self._close_requested = True
            return
        self._close_now(when_idle=True)

    def _close_now(self, *, when_idle: bool) -> None:
        for task in self._pending_tasks.values():
            task.cancel()
        self._pending_tasks.clear()
        self._generation += 1
        # The native layer defers too, when one of its operations runs outside an evaluation
        # (a host function reached from ctx.answer(), say).
        self._sandbox.close(when_idle)
        if self._on_close is not None:
            self._on_close(self)

    @property
    def closed(self) -> bool:
        """True once closed."""
        return bool(self._sandbox.closed())

    # ---- host functions ----------------------------------------------------------------------

    def register(self, name: str, fn: F, *, is_async: bool | None = None,
                 policy: Policy | None = None) -> F:
        """Offers ``fn`` to JavaScript as ``globalThis[name]`` (a dotted name such as
        ``"tools.search"`` creates namespace objects). Async functions (detected, or forced with
        ``is_async``) return Promises in JavaScript. Returns ``fn`` unchanged."""
        self._check_thread("ctx.register()")
        check_js_name(name)
        check_function(fn)
        if is_async is None:
            is_async = _detect_is_async(fn)
        elif not isinstance(is_async, bool):
            raise TypeError(f"is_async must be True, False or None, got {is_async!r}")
        if policy is not None and not isinstance(policy, Policy):
            raise TypeError(f"policy must be a quickbox.Policy, got {type(policy).__name__}")
        function = _Function(name, fn, is_async, policy or Policy())
        native_policy = function.policy._native(timed_by_python=is_async)
        if is_async:
            self._sandbox.register_external(name, native_policy)
        else:
            self._sandbox.register_sync(name, fn, self._sync_failure(function), self._inbound, native_policy)
        self._functions[name] = function
        return fn

    @overload
    def function(self, fn: F, *, name: str | None = None, is_async: bool | None = None,
                 policy: Policy | None = None) -> F: ...

    @overload
    def function(self, fn: None = None, *, name: str | None = None, is_async: bool | None = None,
                 policy: Policy | None = None) -> Callable[[F], F]: ...

    def function(self, fn: F | None = None, *, name: str | None = None, is_async: bool | None = None,
                 policy: Policy | None = None) -> F | Callable[[F], F]:
        """Decorator form of ``register``: ``@ctx.function`` or ``@ctx.function(name="js")``."""
        def decorate(f: F) -> F:
            js_name = name if name is not None else getattr(f, "__name__", None)
            if not js_name:
                raise InvalidInputError("this callable has no __name__; pass name=...")
            return self.register(js_name, f, is_async=is_async, policy=policy)
        return decorate(fn) if fn is not None else decorate

    def ask(self, name: str, *, policy: Policy | None = None) -> None:
        """Declares a function whose calls the caller answers (``ctx.answer``, ``ctx.deny``): the
        program suspends at each call, which ``start``/``resume`` return as pending. The command
        line's manifests call such a function an ``ask`` handler, answered with ``--answer``."""
        self._check_thread("ctx.ask()")
        check_js_name(name)
        if policy is not None and not isinstance(policy, Policy):
            raise TypeError(f"policy must be a quickbox.Policy, got {type(policy).__name__}")
        self._sandbox.register_external(name, (policy or Policy())._native(timed_by_python=False))

    def external(self, name: str, *, policy: Policy | None = None) -> None:
        """Deprecated name of ``ask``."""
        _renamed("ctx.external()", "ctx.ask()")
        self.ask(name, policy=policy)

    def _sync_failure(self, function: _Function) -> Callable[[BaseException | None, Any], tuple[str, str, str]]:
        """What JavaScript learns when the sync host function raised ``exc`` or returned an
        ``awaitable``: (name, message, audit detail). The native layer calls the function itself
        (a Python frame per call less) and this only when it fails."""
        def failed(exc: BaseException | None, awaitable: Any) -> tuple[str, str, str]:
            if exc is None:
                if inspect.iscoroutine(awaitable):
                    awaitable.close()
                return ("TypeError", f"host function {function.name!r} returned an awaitable; "
                        "register it with is_async=True", "")
            if isinstance(exc, Exception):  # reported to JS; re-raised to the caller if JS lets it go
                return (HOST_ERROR_NAME, HOST_ERROR_MESSAGE, self._remember_host_error(exc))
            # KeyboardInterrupt, SystemExit...: not for JavaScript to catch. The evaluation is
            # stopped at once and the exception raised again when it returns.
            self._fatal = exc
            self._left_nothing = False
            self._sandbox.interrupt()
            return (HOST_ERROR_NAME, HOST_ERROR_MESSAGE, f"{type(exc).__name__} stopped the evaluation")
        return failed

    def _inbound(self, value: Any) -> Any:
        """value, going into JavaScript, with the Handles inside it replaced by references (each
        must be this context's and live). Every way a Python value enters the program comes
        through here: arguments, answers, host functions' results, globals and properties."""
        return unwrap_handles(self, value)

    def _remember_host_error(self, exc: BaseException) -> str:
        """Keeps exc for the caller and returns its text for the audit log (the host's text, which
        the program never sees), even when the exception cannot say what it is."""
        self._host_exception = exc
        self._left_nothing = False
        try:
            text = str(exc)
        except Exception:  # noqa: BLE001 - its __str__ raised: the audit still records the call failed
            text = "(its str() raised)"
        return f"{type(exc).__name__}: {text}"

    # ---- evaluation ----------------------------------------------------------------------------

    # eval itself is _quickbox._ContextBase.eval (python/src/context_eval.cc): `ctx.eval(code)`
    # runs there without a Python frame, through `_Sandbox.eval_plain`, which claims the context,
    # runs the program, hands back the bare value and gives the claim back. It does so only while
    # the last operation left nothing to forget (_left_nothing), no thread holds the context and no
    # transform applies; every other call comes here, with its arguments as given.

    def _eval_general(self, code: str, module: bool = False, strict: bool = False, filename: str = "<eval>",
                      timeout: float | None = None,
                      transform_flags: TransformFlagsProvider | None = None) -> Any:
        # `with self._exclusive:` spelled out for the outermost eval: two Python calls fewer
        if not self._sandbox.claim():
            with self._exclusive:  # a host function's nested eval, or refused naming who holds the context
                return self._run_eval(code, module, strict, filename, timeout, transform_flags)
        self._console_failure = None
        try:
            return self._run_eval(code, module, strict, filename, timeout, transform_flags)
        finally:
            self._sandbox.unclaim()
            if self._close_requested:
                self._close_now(when_idle=True)

    # Its argument errors ("eval() got an unexpected keyword argument") and its traceback lines
    # name the method the caller called.
    _eval_general.__code__ = _eval_general.__code__.replace(co_name="eval", co_qualname="Context.eval")
    _eval_general.__name__, _eval_general.__qualname__ = "eval", "Context.eval"

    def _start_afresh(self) -> None:
        """Forgets what the last operation left (its host function's exception, a fatal one, its
        console lines): an operation that runs the program starts with none, under its claim."""
        self._host_exception = None
        self._fatal = None
        if self._console:
            self._console = []
        self._console_dropped = 0
        self._left_nothing = self._console_failure is None

    def _plain_value(self, value: Any, what: str) -> Any:
        """What a plain native call (call_plain) answered, as its caller returns it."""
        if value is _NOT_PLAIN:
            return self._plain_outcome(what)
        if self._fatal is not None:
            self._raise_fatal()
        return value

    def _plain_outcome(self, what: str) -> Any:
        """What eval_plain or call_plain handed over whole (an error, console lines, a suspension),
        finished under the claim again: the native call gave it back, so that a KeyboardInterrupt
        raised as it returns cannot leave the context claimed."""
        outcome = self._sandbox.take_outcome()
        if not self._sandbox.claim():  # another thread took the context in between: misuse
            raise ConcurrentEvalError("this context is running an evaluation on another thread; a context "
                                      "is used by one thread at a time")
        try:
            if self._fatal is not None:
                self._raise_fatal()
            return self._sync_result(outcome, what)
        finally:
            self._sandbox.unclaim()

    def _run_eval(self, code: str, module: bool, strict: bool, filename: str, timeout: float | None,
                  transform_flags: TransformFlagsProvider | None) -> Any:
        # a module's result is its namespace (its exports), as quickjs-rs returns it
        outcome = self._begin(code, module, strict, filename, timeout, module, False, transform_flags)
        if self._fatal is not None:
            self._raise_fatal()
        status, value, console, dropped, unsettled = outcome
        if status == _DONE and not console and not dropped and not unsettled:  # _sync_result's common case
            return None if value is _UNDEFINED else value
        return self._sync_result(outcome, "eval")

    def eval_handle(self, code: str, module: bool = False, strict: bool = False, filename: str = "<eval>",
                    timeout: float | None = None, transform_flags: TransformFlagsProvider | None = None) -> Handle:
        """Like ``eval``, but the result stays in the sandbox: a ``Handle`` to it, whatever it is
        (a function, a class instance, a promise, which is not awaited); with ``module=True``, a
        handle to the module's namespace once the module has run (``ns.get("export")``), as
        quickjs-rs has it. Dispose it when done."""
        with self._exclusive:
            outcome = self._begin(code, module, strict, filename, timeout, module, True, transform_flags)
            self._raise_fatal()
            return self._as_handle(self._sync_result(outcome, "eval_handle"))

    async def eval_async(self, code: str, module: bool = False, strict: bool = False,
                         filename: str = "<eval>", timeout: float | None = None,
                         transform_flags: TransformFlagsProvider | None = None) -> Any:
        """Like ``eval``, and async Python functions may be awaited by the program; they run on
        this event loop, concurrently (within each function's ``max_in_flight``). The JavaScript
        itself runs on a worker thread, so the event loop keeps serving other tasks meanwhile."""
        result = await self.start(code, module=module, strict=strict, filename=filename, timeout=timeout,
                                  transform_flags=transform_flags)
        value = self._finished(result).value
        if module:
            return None  # a module completes with nothing, as in quickjs-rs
        return None if value is _quickbox.UNDEFINED else value

    async def eval_handle_async(self, code: str, module: bool = False, strict: bool = False,
                                filename: str = "<eval>", timeout: float | None = None,
                                transform_flags: TransformFlagsProvider | None = None) -> Handle:
        """``eval_handle`` that may await async host functions (as ``eval_async``); the final
        value is not awaited: a promise comes back as a handle (``await_promise`` settles it). With
        ``module=True`` it is a handle to the module's namespace, as from ``eval_handle``."""
        with self._exclusive(nested=False, what="ctx.eval_handle_async()"):
            outcome = await self._off_loop(lambda: self._begin(code, module, strict, filename, timeout,
                                                               namespace=module, as_handle=True,
                                                               transform_flags=transform_flags))
            result = self._finished(await self._drive(outcome))
        return self._as_handle(result.value)

    async def start(self, code: str, module: bool = False, strict: bool = False,
                    filename: str = "<eval>", timeout: float | None = None,
                    transform_flags: TransformFlagsProvider | None = None) -> EvalResult:
        """Evaluates ``code`` until it is done or waits on calls only the caller can settle
        (approvals, ``ask`` functions): then ``result.pending`` lists them; settle them with
        ``approve``/``answer``/``deny`` and call ``resume()``."""
        with self._exclusive(nested=False, what="ctx.eval_async() (or ctx.start())"):
            outcome = await self._off_loop(lambda: self._begin(code, module, strict, filename, timeout,
                                                               transform_flags=transform_flags))
            return await self._drive(outcome)

    async def resume(self) -> EvalResult:
        """Continues a suspended evaluation after its pending calls were settled."""
        with self._exclusive(nested=False, what="ctx.resume()"):
            return await self._drive(await self._off_loop(self._sandbox.resume))

    def _finished(self, result: EvalResult) -> EvalResult:
        """result, which must not wait on the caller (eval_async has no one to settle calls)."""
        if result.suspended:
            self._sandbox.abandon()
            names = ", ".join(sorted({c.name for c in result.pending}))
            raise QuickJSError(f"the program waits for approval or an answer ({names}); "
                               "use `await ctx.start(...)` to settle its calls and resume")
        return result

    def _begin(self, code: str, module: bool, strict: bool, filename: str, timeout: float | None,
               namespace: bool = False, as_handle: bool = False,
               transform_flags: TransformFlagsProvider | None = None) -> Outcome:
        """Checks an eval's arguments, transforms its source, and runs it on this thread. Every
        synchronous eval comes through here: the common case stays free of work it does not need
        (no transform, the context's own timeout, no console lines to drop)."""
        if not isinstance(code, str):
            raise TypeError(f"code must be str, got {type(code).__name__}")
        if module is not False and module is not True:
            raise TypeError(f"module must be True or False, got {module!r}")
        if strict is not False and strict is not True:
            raise TypeError(f"strict must be True or False, got {strict!r}")
        if not isinstance(filename, str):
            raise TypeError(f"filename must be str, got {type(filename).__name__}")
        if timeout is not None:
            _quickbox.check_seconds(timeout, "timeout")
        if transform_flags is None:
            policy = self._transform.flags
        else:
            _transforms.check_policy(transform_flags)
            policy = transform_flags
        if policy is not None:
            code = _transforms.apply(code, _transforms.resolve(policy, filename), filename=filename, module=module)
        self._start_afresh()
        # No timeout: the sandbox's own, which is this context's (it was created with it).
        outcome: Outcome = self._sandbox.eval(code, _MODULE if module else _AUTO, filename, strict, timeout,
                                              namespace, as_handle)
        return outcome

    def call(self, name: str, *args: Any) -> Any:
        """Calls the function ``name`` (a global, a dotted path from ``globalThis`` such as
        ``"tools.search"``, called on its holder, or a top-level ``let``/``const``/``class``
        binding) with ``args``; a returned promise is awaited."""
        if not isinstance(name, str):
            raise TypeError(f"name must be str, got {type(name).__name__}")
        arguments = self._inbound(list(args))
        # One operation: the engine resolves the name as the program's code would (a top-level
        # let/const/class binding, else globalThis), which took a lookup and four handle
        # operations here before (5 µs against 1.3 µs for the same call through eval).
        if self._sandbox.claim():  # outermost: the plain path, as eval's (which spells it out)
            self._console_failure = None
            self._start_afresh()
            try:
                return self._plain_value(self._sandbox.call_plain(name, arguments), "call")
            finally:
                if self._close_requested:
                    self._close_now(when_idle=True)
        with self._exclusive:  # a host function's nested call, or refused naming who holds the context
            self._start_afresh()
            outcome = self._native(lambda: self._sandbox.call(name, arguments))
            return self._sync_result(outcome, "call")

    def _sync_result(self, outcome: Outcome, what: str) -> Any:
        """The value of a synchronous operation's outcome; a suspension is refused (and dropped)."""
        status, value, console, dropped, unsettled = outcome
        if status == _DONE and not console and not dropped and not unsettled:  # the common case, first
            return None if value is _UNDEFINED else value
        if status == _SUSPENDED:
            self._sandbox.abandon()
            names = sorted({call[1] for call in outcome[1]})
            asynchronous = [n for n in names if n in self._functions and self._functions[n].is_async]
            if asynchronous:
                raise ConcurrentEvalError(
                    f"a synchronous {what} cannot wait for the async host function {asynchronous[0]!r}; "
                    "use `await ctx.eval_async(...)`")
            raise QuickJSError(f"the program waits for approval or an answer ({', '.join(names)}); "
                               "use `await ctx.start(...)` to settle its calls and resume")
        value = self._value_of(outcome)
        unawaited = self._async_functions(unsettled)
        if unawaited:
            raise ConcurrentEvalError(
                f"a synchronous {what} called the async host function {unawaited[0]!r}, which cannot run "
                "before it returns (the call was cancelled); use `await ctx.eval_async(...)`")
        return None if value is _quickbox.UNDEFINED else value

    def _async_functions(self, names: Sequence[str]) -> list[str]:
        """The names among `names` of async Python functions registered here."""
        return [n for n in names if n in self._functions and self._functions[n].is_async]

    def _native(self, run: Callable[[], Outcome]) -> Outcome:
        """Runs a native operation that may run JavaScript on this thread (on the main thread, the
        native layer lets Ctrl-C interrupt it): a KeyboardInterrupt or SystemExit that a host
        function raised is raised again once it returns."""
        outcome = run()
        self._raise_fatal()
        return outcome

    async def _off_loop(self, run: Callable[[], Outcome]) -> Outcome:
        """Runs a native operation on a worker thread, so that the event loop is free while
        JavaScript runs; the context counts as owned by that thread meanwhile (its host
        functions run there). A cancelled caller interrupts the program and waits for it."""
        loop_thread = threading.get_ident()

        def on_worker() -> Outcome | None:
            self._sandbox.set_owner(threading.get_ident())
            try:
                return run()
            except (KeyboardInterrupt, SystemExit) as stop:
                # What stopped the program (the module loader raised it) is raised in the caller's
                # task below: raised in to_thread's own task, asyncio would throw it past the loop.
                self._fatal = stop
                self._left_nothing = False
                return None
            finally:
                self._sandbox.set_owner(loop_thread)

        future = asyncio.ensure_future(asyncio.to_thread(on_worker))
        try:
            outcome = await asyncio.shield(future)
        except asyncio.CancelledError:
            self._sandbox.interrupt()
            try:
                await future
            except Exception:  # noqa: S110 - the cancellation is what the caller gets
                pass
            raise
        self._raise_fatal()
        assert outcome is not None  # only a stop leaves none, and it was raised
        return outcome

    def _raise_fatal(self) -> None:
        fatal, self._fatal = self._fatal, None
        if not self._sandbox.in_host_function():
            self._console_failure = None  # the outermost evaluation raises it last
        if fatal is not None:
            if self._sandbox.suspended():
                self._sandbox.abandon()
            raise fatal

    def _value_of(self, outcome: Outcome) -> Any:
        status, payload, console, dropped, _unsettled = outcome
        self._record_console(console, dropped)
        if status == _ERROR:
            self._raise_for(payload)
        return payload

    def _console_line(self, level: str, text: str) -> None:
        """A line the program printed, handed over by the engine as it prints it (on the thread
        running the program, which waits meanwhile)."""
        line = ConsoleLine(level, text)  # type: ignore[arg-type]
        self._console.append(line)
        self._left_nothing = False
        try:
            self._console_sink.emit((line,))
        except BaseException as exc:  # noqa: BLE001 - on_console raised: the evaluation stops and raises it
            if self._fatal is None:
                self._fatal = exc
            self._console_failure = exc
            self._sandbox.interrupt()

    def _record_console(self, console: Sequence[tuple[str, str]], dropped: int) -> None:
        lines = [ConsoleLine(level, text) for level, text in console]  # type: ignore[arg-type]
        if lines or dropped:
            self._left_nothing = False
        self._console.extend(lines)
        self._console_dropped += dropped
        self._console_sink.emit(lines)

    def _raise_for(self, payload: tuple[Any, ...]) -> None:
        kind, name, message, stack, thrown, _discarded = payload
        original = self._host_exception
        if (kind == "JSException" and name == HOST_ERROR_NAME and message == HOST_ERROR_MESSAGE
                and original is not None):
            self._host_exception = None
            raise original from JSError(name, message, stack)
        if kind == "JSException" and "is not live (it was released" in message:
            raise InvalidHandleError(message)
        if kind == "JSException" and message.startswith(MODULE_LOADER_FAILED_ON) and self._module_failure:
            raise evaluation_error(kind, name, message, stack, thrown) from self._module_failure(message)
        raise evaluation_error(kind, name, message, stack, thrown)

    # ---- driving async host functions -----------------------------------------------------------

    async def _drive(self, outcome: Outcome) -> EvalResult:
        loop = asyncio.get_running_loop()
        wall = self._wall_timeout
        deadline = None if wall is None else loop.time() + wall
        try:
            while True:
                status, payload, console, dropped, unsettled = outcome
                self._record_console(console, dropped)
                if status == _DONE:
                    # Calls the program stopped waiting for (the loser of a race with a timer)
                    # ended with the evaluation in the engine: their functions are cancelled too.
                    # A call whose function never started was never awaited at all: raised.
                    started = [task.get_name() for task in self._pending_tasks.values()]
                    self._drop_tasks()
                    never_started = list(unsettled)
                    for name in started:
                        if name in never_started:
                            never_started.remove(name)
                    self._refuse_unawaited(never_started)
                    return EvalResult(True, payload, console=list(self._console))
                if status == _ERROR:
                    self._raise_for(payload)
                waiting = self._start_runnable([PendingCall(*row) for row in payload], loop,
                                               None if deadline is None
                                               else time.monotonic() + deadline - loop.time())
                if not self._pending_tasks:
                    return EvalResult(False, pending=waiting, console=list(self._console))
                remaining = None if deadline is None else max(0.0, deadline - loop.time())
                # The program's timers keep time while its async functions run: when one comes
                # due first, resume() runs it and suspends again on the calls still in flight.
                timer = self._sandbox.next_timer()
                wait = timer if remaining is None else remaining if timer is None else min(remaining, timer)
                done, _ = await asyncio.wait(self._pending_tasks.values(), timeout=wait,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done and (timer is None or (remaining is not None and remaining <= timer)):
                    self._drop_tasks()
                    self._sandbox.abandon()
                    raise TimeoutError(f"wall-clock limit of {wall} s exceeded while waiting on host functions")
                for call_id in [i for i, t in self._pending_tasks.items() if t.done()]:
                    self._settle(call_id, self._pending_tasks.pop(call_id))
                outcome = await self._off_loop(self._sandbox.resume)
        except asyncio.CancelledError:
            # The program may react to the cancellation (catch it, clean up): it runs on a worker
            # thread as any evaluation does, so the event loop is not held for its length.
            in_flight = list(self._pending_tasks)
            self._drop_tasks()
            outcome = await self._off_loop(lambda: self._reject_in_flight(in_flight))
            if outcome[0] == _DONE:  # the program caught the cancellation and finished
                self._record_console(outcome[2], outcome[3])
                return EvalResult(True, outcome[1], console=list(self._console))
            if outcome[0] == _SUSPENDED:
                self._sandbox.abandon()
            raise
        except Exception:
            # The evaluation ended (an error, or settling a call ran out of time): the engine
            # cancelled its calls, so the functions still running for it are cancelled too.
            self._drop_tasks()
            raise

    def _refuse_unawaited(self, unsettled: list[str]) -> None:
        """An async Python function the program called but never awaited was cancelled when it
        ended, before it could run: raised, rather than letting the call vanish."""
        unawaited = self._async_functions(unsettled)
        if unawaited:
            raise QuickJSError(
                f"the program called the async host function {unawaited[0]!r} without awaiting it, and "
                "ended before the call could run (it was cancelled); await the call (or collect it with "
                "Promise.all) before the program ends")

    def _start_runnable(self, pending: list[PendingCall], loop: asyncio.AbstractEventLoop,
                        deadline: float | None = None) -> list[PendingCall]:
        """Starts the async Python functions that may run (approved ones included: the engine
        hands them over once approved); returns the calls left to the caller. ``deadline``
        (``time.monotonic()``) is when the evaluation's wall clock runs out."""
        waiting = []
        for call in pending:
            function = self._functions.get(call.name)
            if function is None or not function.is_async or call.needs_approval:
                waiting.append(call)
            elif call.id not in self._pending_tasks:
                self._pending_tasks[call.id] = loop.create_task(self._run(function, call.args, deadline),
                                                                name=call.name)
        return waiting

    @staticmethod
    async def _run(function: _Function, args: list[Any], deadline: float | None) -> Any:
        _call_deadline.set(deadline)  # this task's own context: seen by time_remaining()
        if function.policy.call_timeout is None:
            return await function.fn(*args)
        return await asyncio.wait_for(function.fn(*args), function.policy.call_timeout)

    def _settle(self, call_id: int, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self._sandbox.reject(call_id, "the host function was cancelled", "HostCancellationError")
            return
        exc = task.exception()
        if exc is None:
            try:
                self._sandbox.resolve(call_id, self._inbound(task.result()))
            except (MarshalError, InvalidHandleError) as error:  # it cannot cross: raised as itself if uncaught
                self._sandbox.reject(call_id, HOST_ERROR_MESSAGE, HOST_ERROR_NAME, False,
                                     self._remember_host_error(error))
            except InvalidInputError as refusal:
                if not any(call.id == call_id for call in self.pending):
                    raise
                # the engine refused this answer (over the result limit): the program's to see
                self._sandbox.reject(call_id, str(refusal), "Error", False, str(refusal))
            except QuickJSError:
                raise  # the evaluation itself ended while settling (its time limit, say)
            except Exception as error:  # converting the result ran the host's code, which raised
                self._sandbox.reject(call_id, HOST_ERROR_MESSAGE, HOST_ERROR_NAME, False,
                                     self._remember_host_error(error))
        elif isinstance(exc, builtins.TimeoutError):
            name = next((c.name for c in self.pending if c.id == call_id), "the host function")
            self._sandbox.reject(call_id, f"the call to {name!r} timed out", "Error", True)
        elif not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: not for JavaScript
            self._fatal = exc
            self._left_nothing = False
            self._sandbox.reject(call_id, HOST_ERROR_MESSAGE, HOST_ERROR_NAME)
        else:
            self._sandbox.reject(call_id, HOST_ERROR_MESSAGE, HOST_ERROR_NAME, False, self._remember_host_error(exc))

    def _drop_tasks(self) -> None:
        for task in self._pending_tasks.values():
            task.cancel()
        self._pending_tasks.clear()

    def _reject_in_flight(self, cancelled: list[int]) -> Outcome:
        """Rejects the cancelled async calls inside JS and lets the program react, rejecting the
        async calls it makes from then on too. Returns where the program ended. No asyncio in
        here: it runs on a worker thread."""
        for call_id in cancelled:
            self._sandbox.reject(call_id, "the task awaiting this evaluation was cancelled", "HostCancellationError")
        outcome: Outcome = self._sandbox.resume()
        while outcome[0] == _SUSPENDED:
            asynchronous = [row for row in outcome[1]
                            if row[1] in self._functions and self._functions[row[1]].is_async and not row[3]]
            if not asynchronous:
                break
            for row in asynchronous:
                self._sandbox.reject(row[0], "the task awaiting this evaluation was cancelled",
                                     "HostCancellationError")
            outcome = self._sandbox.resume()
        return outcome

    # ---- settling pending calls ------------------------------------------------------------------

    @property
    def pending(self) -> list[PendingCall]:
        """The calls a suspended evaluation waits on."""
        self._check_thread("ctx.pending")
        return [PendingCall(*row) for row in self._sandbox.pending()]

    def approve(self, call_id: int) -> None:
        """Approves a call that needs approval; it runs on ``resume()``."""
        self._check_thread("ctx.approve()")
        self._sandbox.approve(call_id)

    def deny(self, call_id: int, reason: str = "") -> None:
        """Denies a call that needs approval or waits for an answer: it rejects inside
        JavaScript with ``Error: the call to 'name' was denied: reason``."""
        self._check_thread("ctx.deny()")
        self._check_not_running(call_id, "ctx.deny()")
        self._sandbox.deny(call_id, reason)

    def _check_not_running(self, call_id: int, what: str) -> None:
        """Refuses to settle a call that one of this context's async Python functions is running:
        its own result settles it (answered from outside, the function's result would then find
        no call, and the evaluation could not go on)."""
        task = self._pending_tasks.get(call_id) if isinstance(call_id, int) else None
        if task is not None and not task.done():
            raise InvalidInputError(f"{what} cannot settle call #{call_id}: the async function "
                                    f"{task.get_name()!r} is running it, and its result settles it")

    def answer(self, call_id: int, value: Any = None, *, error: BaseException | None = None) -> None:
        """Answers a call of an ``ask`` function: its promise resolves with ``value``, or, given
        ``error``, rejects with a JavaScript Error named after it (a ``JSError`` keeps its own
        name, any other exception gives its class name) carrying its message. From inside a host
        function the answer reaches the program when that function returns."""
        self._check_thread("ctx.answer()")
        self._check_not_running(call_id, "ctx.answer()")
        if error is None:
            self._sandbox.resolve(call_id, self._inbound(value))
            return
        if value is not None:
            raise TypeError("answer() takes a value or an error, not both")
        if not isinstance(error, BaseException):
            raise TypeError(f"error must be an exception, got {type(error).__name__}")
        if isinstance(error, JSError):
            self._sandbox.reject(call_id, error.message, error.name or "Error")
        else:
            self._sandbox.reject(call_id, str(error), type(error).__name__)

    def resolve(self, call_id: int, value: Any) -> None:
        """Deprecated name of ``answer(call_id, value)``."""
        _renamed("ctx.resolve()", "ctx.answer()")
        self.answer(call_id, value)

    def reject(self, call_id: int, message: str, name: str = "Error") -> None:
        """Deprecated: ``answer(call_id, error=JSError(name, message))``, or ``deny(call_id,
        reason)`` for a person's refusal."""
        _renamed("ctx.reject()", "ctx.answer(call_id, error=...) or ctx.deny()")
        self.answer(call_id, error=JSError(name, message))

    def abandon(self) -> None:
        """Drops a suspended evaluation; its pending calls are cancelled."""
        self._check_idle("ctx.abandon()")
        self._drop_tasks()
        self._sandbox.abandon()

    @property
    def suspended(self) -> bool:
        """True while an evaluation waits on pending calls (not while its code runs, on any
        thread or inside one of its host functions)."""
        return bool(self._sandbox.suspended()) and not self._sandbox.busy()

    # ---- state -------------------------------------------------------------------------------------

    @property
    def console(self) -> list[ConsoleLine]:
        """Console output of the last operation that ran the program (an eval, a call, a handle's
        call or await)."""
        return list(self._console)

    @property
    def console_dropped_bytes(self) -> int:
        """Console bytes the last operation that ran the program lost to the console limit."""
        return self._console_dropped

    @property
    def audit_log(self) -> list[AuditEntry]:
        """Every host call made in this context."""
        self._check_thread("ctx.audit_log")
        return [AuditEntry._from_native(row) for row in self._sandbox.audit_log()]

    def memory_usage(self, *, collect_garbage: bool = False) -> dict[str, int]:
        """QuickJS's memory counters (``malloc_size``, ``obj_count``... as QuickJS names them)
        and the sandbox's linear memory size, in bytes. ``collect_garbage`` runs QuickJS's cycle
        collector first."""
        self._check_thread("ctx.memory_usage()")
        usage: dict[str, int] = self._sandbox.memory_usage(collect_garbage)
        return usage

    def create_snapshot(self, *, key: bytes | None = None) -> Snapshot:
        """Captures the whole VM (only what differs from the engine's base image) and the host
        state to continue it, also while suspended. ``key`` signs it (HMAC-SHA256). Live handles
        stay pinned in the snapshot's VM but are not valid in the context it is restored into."""
        self._check_thread("ctx.create_snapshot()")
        check_key(key)
        if self._sandbox.in_console_listener():
            raise ConcurrentEvalError(_quickbox._Sandbox.refused_from_on_console("ctx.create_snapshot()"))
        if self._sandbox.in_host_function():
            raise ConcurrentEvalError("ctx.create_snapshot() cannot run inside a host function of its own context: "
                                      "the evaluation that called the function is in the middle of running; "
                                      "snapshot after it returns")
        if self._owner is not None:
            raise ConcurrentEvalError("cannot snapshot while eval_async is in flight on this context (an "
                                      "evaluation awaiting host functions); snapshot after it returns")
        if self._pending_tasks:
            raise ConcurrentEvalError("cannot snapshot while async host tasks are pending")
        return Snapshot(self._sandbox.snapshot(key))

    async def create_snapshot_async(self, *, key: bytes | None = None, timeout: float | None = None) -> Snapshot:
        """``create_snapshot`` for async code (the capture is a memory copy; it does not block
        the event loop for long). ``timeout`` is accepted for quickjs-rs compatibility."""
        if timeout is not None:
            _quickbox.check_seconds(timeout, "timeout")
        return self.create_snapshot(key=key)

    def reset(self) -> None:
        """Replaces the VM with a fresh one (all JavaScript state is lost, handles included),
        keeping the registered functions and the limits. The way back after an ``InternalError``
        or a hard-deadline stop discarded the VM."""
        with self._exclusive(nested=False, what="ctx.reset()"):
            self._generation += 1
            self._drop_tasks()
            self._value_of(self._sandbox.reset())

    # ---- globals (ctx.globals) -----------------------------------------------------------------

    def _read_global(self, name: str, missing: Any, *, marshal: bool = True) -> Any:
        """A top-level let/const/class binding of that name, else globalThis[name]; `missing` when
        there is neither. With marshal=False, only whether it exists (UNDEFINED-valued: None)."""
        if not isinstance(name, str):
            raise TypeError(f"a global's name must be str, got {type(name).__name__}")
        with self._exclusive:
            sandbox = self._sandbox
            if marshal:
                # One operation for a value (the engine reads the name as the program's code does,
                # binding first); a second only to tell undefined from absent.
                outcome = sandbox.get_global(name)
                if outcome[0] == _ERROR and outcome[1][1] == "ReferenceError" and \
                        not self._value_of(sandbox.has_property(0, name)):
                    return missing  # a binding the program never reached (it threw first)
                value = self._value_of(outcome)
                if value is not _UNDEFINED:
                    return value
                return None if self._value_of(sandbox.has_property(0, name)) else missing
            # Whether it exists, without converting its value (it may be a function, or large).
            if self._value_of(sandbox.has_property(0, name)):
                handle = self._value_of(sandbox.get_property(0, name))
            else:
                if not is_js_binding_name(name) or sandbox.suspended():  # `this` is no global
                    return missing
                outcome = sandbox.eval(f"typeof {name} === 'undefined' ? undefined : {name}", _AUTO, "<globals>",
                                       False, self._timeout, as_handle=True)
                if outcome[0] != _DONE:  # a ReferenceError: no such binding
                    return missing
                handle = outcome[1]
            try:
                return None if sandbox.describe(handle.id)[0] == "undefined" else True
            finally:
                sandbox.release(handle.id)

    def _write_global(self, name: str, value: Any) -> None:
        if not isinstance(name, str):
            raise TypeError(f"a global's name must be str, got {type(name).__name__}")
        with self._exclusive:
            self._value_of(self._sandbox.set_global(name, self._inbound(value)))

    def _delete_global(self, name: str) -> bool:
        """Deletes globalThis[name]; False when there is no such property."""
        if not isinstance(name, str):
            raise TypeError(f"a global's name must be str, got {type(name).__name__}")
        with self._exclusive:
            if not self._value_of(self._sandbox.has_property(0, name)):
                return False
            # json.dumps writes a valid JavaScript string literal for any str
            key = json.dumps(name)
            self._value_of(self._sandbox.eval(
                f"if (!delete globalThis[{key}]) throw new TypeError('the global ' + {key} + ' cannot be deleted')",
                _AUTO, "<globals>", True, self._timeout))
            return True

    def _global_names(self) -> list[str]:
        with self._exclusive:
            handle = self._value_of(self._sandbox.get_property(0, "Object"))
            try:
                keys = self._value_of(self._sandbox.call_method(handle.id, "keys", [_quickbox._HandleRef(0)]))
                try:
                    names: list[str] = self._value_of(self._sandbox.handle_value(keys.id, False))
                    return names
                finally:
                    self._sandbox.release(keys.id)
            finally:
                self._sandbox.release(handle.id)

    def _global_handle(self, name: str) -> Handle:
        if not isinstance(name, str):
            raise TypeError(f"a global's name must be str, got {type(name).__name__}")
        with self._exclusive:
            return self._as_handle(self._value_of(self._sandbox.get_property(0, name)))

    # ---- handles (Handle's methods land here) ----------------------------------------------------

    def _as_handle(self, ref: Any) -> Handle:
        return Handle(self, ref.id, self._generation)

    def _handle_op(self, op: str, handle_id: int, *args: Any, evaluation: bool = False) -> Handle:
        """A native handle operation whose result is a new handle. Calls run as evaluations:
        like ``eval``, Ctrl-C interrupts them and an async host function is refused."""
        args = tuple(self._inbound(a) for a in args)
        with self._exclusive:
            if evaluation:
                self._start_afresh()
            method = getattr(self._sandbox, op)
            outcome: Outcome = self._native(lambda: method(handle_id, *args))
            return self._as_handle(self._sync_result(outcome, f"Handle.{op}"))

    def _handle_set(self, handle_id: int, key: Any, value: Any) -> None:
        value = self._inbound(value)
        with self._exclusive:
            self._value_of(self._sandbox.set_property(handle_id, key, value))

    def _handle_has(self, handle_id: int, key: Any) -> bool:
        with self._exclusive:
            return bool(self._value_of(self._sandbox.has_property(handle_id, key)))

    def _handle_value(self, handle_id: int, allow_opaque: bool) -> Any:
        with self._exclusive:
            value = self._value_of(self._sandbox.handle_value(handle_id, allow_opaque))
        if value is _quickbox.UNDEFINED:
            return None
        return wrap_opaque(self, value, self._generation) if allow_opaque else value

    def _describe_handle(self, handle_id: int) -> tuple[str, bool]:
        with self._exclusive:
            return self._sandbox.describe(handle_id)

    def _release_handle(self, handle_id: int, *, from_finalizer: bool = False) -> None:
        if from_finalizer and (self._owner is not None or self._sandbox.busy()):
            return  # collected mid-operation: the value stays pinned until the context goes
        with self._exclusive:
            if self._sandbox.discarded():
                return  # a hard stop discarded the VM, and the value with it (reset() gives a new one)
            self._sandbox.release(handle_id)

    async def _await_handle(self, handle_id: int, timeout: float | None) -> Handle:
        if timeout is not None:
            _quickbox.check_seconds(timeout, "timeout")
        with self._exclusive(nested=False, what="Handle.await_promise()"):
            self._start_afresh()
            outcome = await self._off_loop(lambda: self._sandbox.await_handle(handle_id))
            result = self._finished(await self._drive(outcome))
        return self._as_handle(result.value)

    def _enter_nested(self) -> None:
        """Starts an operation a synchronous host function runs in its own context: the engine
        runs it nested, and the evaluation that called the function gets its own state back after
        it (_leave_nested)."""
        self._nesting.append((self._host_exception, self._fatal, self._console, self._console_dropped))
        self._host_exception = None
        self._fatal = None
        self._console = []  # its own lines (they reach on_console and the logger as printed)
        self._console_dropped = 0

    def _leave_nested(self) -> None:
        saved = self._nesting.pop()
        assert saved is not None
        self._host_exception, self._fatal, self._console, self._console_dropped = saved
        self._left_nothing = False  # the calling evaluation's own state is back
        if self._console_failure is not None and self._fatal is None:
            self._fatal = self._console_failure  # the calling evaluation stops for it too

    def _check_idle(self, what: str) -> None:
        """Refuses `what` while an evaluation of this context runs, on any thread."""
        owner = self._owner
        if owner is None and not self._sandbox.busy():
            return
        if owner is not None and owner != threading.get_ident():
            raise ConcurrentEvalError(f"{what} cannot run now: the context is running an evaluation on another thread")
        if self._sandbox.in_host_function():
            raise ConcurrentEvalError(f"{what} cannot run while the context is evaluating (it was called from "
                                      "inside one of its host functions); call it after the evaluation returns")
        raise ConcurrentEvalError(f"{what} cannot run while an eval_async or start of this context is in progress; "
                                  "await it first, or cancel its task to stop the program")

    def _check_thread(self, what: str) -> None:
        """Refuses `what` from another thread while an evaluation runs here (even one waiting on
        async host functions, when the native context is momentarily idle)."""
        owner = self._owner
        if owner is not None and owner != threading.get_ident():
            raise ConcurrentEvalError(f"{what} cannot run now: the context is running an evaluation on "
                                      "another thread; a context is used by one thread at a time")

    def _replace_sandbox(self, sandbox: _quickbox._Sandbox) -> None:
        """Swaps in a restored sandbox and binds this context's functions to it by name."""
        self._check_idle("Runtime.restore_snapshot()")
        old = self._sandbox
        self._sandbox = sandbox
        sandbox.set_console_listener(self._console_line)
        self._generation += 1
        functions = list(self._functions.values())
        self._functions.clear()
        for function in functions:
            self.register(function.name, function.fn, is_async=function.is_async, policy=function.policy)
        old.close()
