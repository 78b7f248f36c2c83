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
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import _quickbox, _transforms
from ._errors import (
    ConcurrentEvalError,
    HostCancellationError,
    InvalidInputError,
    JSError,
    MarshalError,
    QuickJSError,
    TimeoutError,
    evaluation_error,
)
from ._policy import Policy
from ._results import AuditEntry, ConsoleLine, EvalResult, PendingCall
from ._snapshot import Snapshot
from ._transforms import TransformFlagsProvider

if TYPE_CHECKING:
    from ._runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

_DONE, _ERROR, _SUSPENDED = 0, 1, 2
# quickbox::EvalOptions::Kind
_AUTO, _MODULE = 0, 3

Outcome = tuple[int, Any, list[tuple[str, str]], int]


# When the running host function's evaluation runs out of wall-clock time (time.monotonic()).
_call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("quickbox_call_deadline",
                                                                             default=None)


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
    """Coroutine functions, partials of them and objects whose __call__ is one are async."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - objects with an async __call__
    return call is not None and inspect.iscoroutinefunction(call)


_JS_MESSAGE_MAX_CHARS = 65536  # QB_ERROR_MESSAGE_MAX_CHARS: see "Error text" in docs/limits.md


def _as_js_error_message(text: str) -> str:
    """text as JavaScript receives it in an error message: at most 65,536 UTF-16 code units in
    all, ending with "… [truncated N more characters]" when it was longer (the engine cuts the
    same way: docs/limits.md, "Error text")."""
    if len(text) <= _JS_MESSAGE_MAX_CHARS // 2:
        return text
    units = text.encode("utf-16-le", "surrogatepass")
    total = len(units) // 2
    if total <= _JS_MESSAGE_MAX_CHARS:
        return text
    def marker_chars(dropped: int) -> int:
        return 30 + len(str(dropped))

    kept = _JS_MESSAGE_MAX_CHARS - 31  # the text kept and the marker fit in the limit together
    while kept + marker_chars(total - kept) > _JS_MESSAGE_MAX_CHARS:
        kept -= 1
    if 0xD800 <= int.from_bytes(units[2 * kept - 2:2 * kept], "little") <= 0xDBFF:
        kept -= 1  # never split a surrogate pair
    head = units[:2 * kept].decode("utf-16-le", "surrogatepass")
    return f"{head}\u2026 [truncated {total - kept} more characters]"


@dataclass(frozen=True)
class _Function:
    name: str
    fn: Callable[..., Any]
    is_async: bool
    policy: Policy


class Globals:
    """``ctx.globals``: read and write the program's global variables like a mapping."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def __getitem__(self, name: str) -> Any:
        return self._context._read_global(name)

    def __setitem__(self, name: str, value: Any) -> None:
        self._context._write_global(name, value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._context._read_global(name) is not _quickbox.UNDEFINED

    def get(self, name: str, default: Any = None) -> Any:
        """The global's value, or ``default`` when it is undefined."""
        value = self._context._read_global(name)
        return default if value is _quickbox.UNDEFINED else value


class Context:
    """A JavaScript realm in its own sandbox. Create it with ``Runtime.new_context()``.

    One thread at a time: while an evaluation runs (``eval``, ``call``, or ``start``/``resume``
    until it returns), any use from another thread raises ``ConcurrentEvalError``, and so does
    a host function calling back into its own context with something that cannot run there
    (another evaluation, a snapshot, ``memory_usage``...). A host function may read ``pending``
    and ``audit_log``, settle calls, and ``close()`` the context: the close takes effect when the
    evaluation returns. Different contexts may be used from different threads at once; the GIL
    is released while JavaScript runs.
    """

    def __init__(self, runtime: Runtime, sandbox: _quickbox._Sandbox, *, timeout: float) -> None:
        self._runtime = runtime
        self._sandbox = sandbox
        self._timeout = timeout
        self._functions: dict[str, _Function] = {}
        self._lock = threading.Lock()
        # The thread running an evaluation of this context (it may span awaits), or None.
        self._owner: int | None = None
        self._close_requested = False
        self._host_errors: dict[str, BaseException] = {}
        self._tasks: dict[int, asyncio.Task[Any]] = {}
        self._console: list[ConsoleLine] = []
        self._console_dropped = 0
        self.globals = Globals(self)

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
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        # The native layer defers too, when one of its operations runs outside an evaluation
        # (a host function reached from ctx.answer(), say).
        self._sandbox.close(when_idle)
        self._runtime._forget(self)

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
            self._sandbox.register_sync(name, self._dispatcher(function), native_policy)
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
        if policy is not None and not isinstance(policy, Policy):
            raise TypeError(f"policy must be a quickbox.Policy, got {type(policy).__name__}")
        self._sandbox.register_external(name, (policy or Policy())._native(timed_by_python=False))

    def external(self, name: str, *, policy: Policy | None = None) -> None:
        """Deprecated name of ``ask``."""
        _renamed("ctx.external()", "ctx.ask()")
        self.ask(name, policy=policy)

    def _dispatcher(self, function: _Function) -> Callable[[int, list[Any]], tuple[Any, ...]]:
        def dispatch(call_id: int, args: list[Any], seconds_left: float | None = None) -> tuple[Any, ...]:
            token = _call_deadline.set(None if seconds_left is None else time.monotonic() + seconds_left)
            try:
                value = function.fn(*args)
            except Exception as exc:  # reported to JS; re-raised to the caller if JS lets it go
                return (False, "HostError", self._remember_host_error(exc))
            finally:
                _call_deadline.reset(token)
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                return (False, "TypeError", f"host function {function.name!r} returned an awaitable; "
                        "register it with is_async=True")
            return (True, value)
        return dispatch

    def _remember_host_error(self, exc: BaseException) -> str:
        message = f"{type(exc).__name__}: {exc}"
        # Keyed by the text as JavaScript will report it, so a huge message still finds its way
        # back to the original exception.
        self._host_errors[_as_js_error_message(message)] = exc
        return message

    # ---- evaluation ----------------------------------------------------------------------------

    def eval(self, code: str, *, module: bool = False, strict: bool = False, filename: str = "<eval>",
             timeout: float | None = None, transform_flags: TransformFlagsProvider | None = None) -> Any:
        """Evaluates ``code`` and returns its value (a final promise is awaited; top-level
        ``await`` works). Raises on errors. Use ``eval_async`` when the program calls async
        Python functions. ``transform_flags`` (``SourceTransform``) transforms the code first, e.g.
        strips TypeScript; unset, the runtime's ``transform_flags`` apply."""
        with self._exclusive():
            outcome = self._begin(code, module, strict, filename, timeout, transform_flags)
            if outcome[0] == _SUSPENDED:
                self._sandbox.abandon()
                names = sorted({call[1] for call in outcome[1]})
                asynchronous = [n for n in names if n in self._functions and self._functions[n].is_async]
                if asynchronous:
                    raise ConcurrentEvalError(
                        f"a synchronous eval cannot wait for the async host function {asynchronous[0]!r}; "
                        "use `await ctx.eval_async(...)`")
                raise QuickJSError(f"the program waits for approval or an answer ({', '.join(names)}); "
                                   "use `await ctx.start(...)` to settle its calls and resume")
            return self._value_of(outcome)

    async def eval_async(self, code: str, *, module: bool = False, strict: bool = False,
                         filename: str = "<eval>", timeout: float | None = None,
                         transform_flags: TransformFlagsProvider | None = None) -> Any:
        """Like ``eval``, and async Python functions may be awaited by the program; they run on
        this event loop, concurrently (within each function's ``max_in_flight``)."""
        result = await self.start(code, module=module, strict=strict, filename=filename, timeout=timeout,
                                  transform_flags=transform_flags)
        if result.suspended:
            self._sandbox.abandon()
            names = ", ".join(sorted({c.name for c in result.pending}))
            raise QuickJSError(f"the program waits for approval or an answer ({names}); "
                               "use `await ctx.start(...)` to settle its calls and resume")
        return result.value

    async def start(self, code: str, *, module: bool = False, strict: bool = False,
                    filename: str = "<eval>", timeout: float | None = None,
                    transform_flags: TransformFlagsProvider | None = None) -> EvalResult:
        """Evaluates ``code`` until it is done or waits on calls only the caller can settle
        (approvals, ``ask`` functions): then ``result.pending`` lists them; settle them with
        ``approve``/``answer``/``deny`` and call ``resume()``."""
        with self._exclusive():
            outcome = self._begin(code, module, strict, filename, timeout, transform_flags)
            return await self._drive(outcome)

    async def resume(self) -> EvalResult:
        """Continues a suspended evaluation after its pending calls were settled."""
        with self._exclusive():
            return await self._drive(self._sandbox.resume())

    def _begin(self, code: str, module: bool, strict: bool, filename: str, timeout: float | None,
               transform_flags: TransformFlagsProvider | None = None) -> Outcome:
        if not isinstance(code, str):
            raise TypeError(f"code must be str, got {type(code).__name__}")
        for option, value in (("module", module), ("strict", strict)):
            if not isinstance(value, bool):
                raise TypeError(f"{option} must be True or False, got {value!r}")
        if not isinstance(filename, str):
            raise TypeError(f"filename must be str, got {type(filename).__name__}")
        if timeout is not None:
            _quickbox.check_seconds(timeout, "timeout")
        _transforms.check_policy(transform_flags)
        policy = transform_flags if transform_flags is not None else self._runtime.transform_flags
        code = _transforms.apply(code, _transforms.resolve(policy, filename), filename=filename, module=module)
        self._host_errors.clear()
        self._console = []
        self._console_dropped = 0
        outcome: Outcome = self._sandbox.eval(code, _MODULE if module else _AUTO, filename, strict,
                                              timeout if timeout is not None else self._timeout)
        return outcome

    def call(self, name: str, *args: Any) -> Any:
        """Calls the global function ``name`` with ``args``; a returned promise is awaited."""
        with self._exclusive():
            self._host_errors.clear()
            outcome: Outcome = self._sandbox.call(name, list(args))
            if outcome[0] == _SUSPENDED:
                self._sandbox.abandon()
                raise ConcurrentEvalError("the function waits on host calls; use eval_async/start")
            return self._value_of(outcome)

    def _value_of(self, outcome: Outcome) -> Any:
        status, payload, console, dropped = outcome
        self._record_console(console, dropped)
        if status == _ERROR:
            self._raise_for(payload)
        return payload

    def _record_console(self, console: list[tuple[str, str]], dropped: int) -> None:
        self._console.extend(ConsoleLine(level, text) for level, text in console)  # type: ignore[arg-type]
        self._console_dropped += dropped

    def _raise_for(self, payload: tuple[Any, ...]) -> None:
        kind, name, message, stack, thrown, _discarded = payload
        if kind == "JSException" and name == "HostError" and message in self._host_errors:
            original = self._host_errors.pop(message)
            raise original from JSError(name, message, stack)
        raise evaluation_error(kind, name, message, stack, thrown)

    # ---- driving async host functions -----------------------------------------------------------

    async def _drive(self, outcome: Outcome) -> EvalResult:
        loop = asyncio.get_running_loop()
        wall = self._runtime._wall_timeout
        deadline = None if wall is None else loop.time() + wall
        try:
            while True:
                status, payload, console, dropped = outcome
                self._record_console(console, dropped)
                if status == _DONE:
                    return EvalResult(True, payload, console=list(self._console))
                if status == _ERROR:
                    self._raise_for(payload)
                waiting = self._start_runnable([PendingCall(*row) for row in payload], loop,
                                               None if deadline is None
                                               else time.monotonic() + deadline - loop.time())
                if not self._tasks:
                    return EvalResult(False, pending=waiting, console=list(self._console))
                remaining = None if deadline is None else max(0.0, deadline - loop.time())
                done, _ = await asyncio.wait(self._tasks.values(), timeout=remaining,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    self._drop_tasks()
                    self._sandbox.abandon()
                    raise TimeoutError(f"wall-clock limit of {wall} s exceeded while waiting on host functions")
                for call_id in [i for i, t in self._tasks.items() if t.done()]:
                    self._settle(call_id, self._tasks.pop(call_id))
                outcome = self._sandbox.resume()
        except asyncio.CancelledError:
            outcome = self._cancel_in_flight()
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
            elif call.id not in self._tasks:
                self._tasks[call.id] = loop.create_task(self._run(function, call.args, deadline))
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
                self._sandbox.resolve(call_id, task.result())
            except MarshalError as error:
                self._sandbox.reject(call_id, str(error), "TypeError")
        elif isinstance(exc, builtins.TimeoutError):
            name = next((c.name for c in self.pending if c.id == call_id), "the host function")
            self._sandbox.reject(call_id, f"the call to {name!r} timed out", "Error", True)
        else:
            self._sandbox.reject(call_id, self._remember_host_error(exc), "HostError")

    def _drop_tasks(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    def _cancel_in_flight(self) -> Outcome:
        """Rejects every in-flight async call inside JS and lets the program react, rejecting
        the async calls it makes from then on too. Returns where the program ended."""
        cancelled = list(self._tasks)
        self._drop_tasks()
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
        self._sandbox.deny(call_id, reason)

    def answer(self, call_id: int, value: Any = None, *, error: BaseException | None = None) -> None:
        """Answers a call of an ``ask`` function: its promise resolves with ``value``, or, given
        ``error``, rejects with a JavaScript Error named after it (a ``JSError`` keeps its own
        name, any other exception gives its class name) carrying its message. From inside a host
        function the answer reaches the program when that function returns."""
        self._check_thread("ctx.answer()")
        if error is None:
            self._sandbox.resolve(call_id, value)
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
        self._check_thread("ctx.abandon()")
        self._drop_tasks()
        self._sandbox.abandon()

    @property
    def suspended(self) -> bool:
        """True while an evaluation waits on pending calls."""
        return bool(self._sandbox.suspended())

    # ---- state -------------------------------------------------------------------------------------

    @property
    def console(self) -> list[ConsoleLine]:
        """Console output of the last evaluation."""
        return list(self._console)

    @property
    def console_dropped_bytes(self) -> int:
        """Console bytes the last evaluation lost to the console limit."""
        return self._console_dropped

    @property
    def audit_log(self) -> list[AuditEntry]:
        """Every host call made in this context."""
        self._check_thread("ctx.audit_log")
        return [AuditEntry._from_native(row) for row in self._sandbox.audit_log()]

    def memory_usage(self) -> dict[str, int]:
        """QuickJS's allocation figures and the sandbox's linear memory size, in bytes."""
        self._check_thread("ctx.memory_usage()")
        usage: dict[str, int] = self._sandbox.memory_usage()
        return usage

    def create_snapshot(self, *, key: bytes | None = None) -> Snapshot:
        """Captures the whole VM (only what differs from the engine's base image) and the host
        state to continue it, also while suspended. ``key`` signs it (HMAC-SHA256)."""
        self._check_thread("ctx.create_snapshot()")
        if key is not None and not isinstance(key, bytes):
            raise TypeError(f"key must be bytes or None, got {type(key).__name__}")
        if self._tasks:
            raise ConcurrentEvalError("cannot snapshot while async host functions are running")
        return Snapshot(self._sandbox.snapshot(key))

    def _read_global(self, name: str) -> Any:
        with self._exclusive(allow_suspended=True):
            return self._value_of(self._sandbox.get_global(name))

    def _write_global(self, name: str, value: Any) -> None:
        with self._exclusive(allow_suspended=True):
            self._value_of(self._sandbox.set_global(name, value))

    def _check_idle(self, what: str) -> None:
        """Refuses `what` while an evaluation of this context runs, on any thread."""
        owner = self._owner
        if owner is None and not self._sandbox.busy():
            return
        if owner is not None and owner != threading.get_ident():
            raise ConcurrentEvalError(f"{what} cannot run now: the context is running an evaluation on another thread")
        raise ConcurrentEvalError(f"{what} cannot run while the context is evaluating (it was called from inside "
                                  "one of its host functions); call it after the evaluation returns")

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
        functions = list(self._functions.values())
        self._functions.clear()
        for function in functions:
            self.register(function.name, function.fn, is_async=function.is_async, policy=function.policy)
        old.close()

    @contextmanager
    def _exclusive(self, *, allow_suspended: bool = False) -> Iterator[None]:
        if not self._lock.acquire(blocking=False):
            if self._owner == threading.get_ident():
                raise ConcurrentEvalError("this context is already evaluating: a host function cannot start "
                                          "another evaluation of its own context, and an eval_async or start "
                                          "must finish before the next")
            raise ConcurrentEvalError("this context is running an evaluation on another thread; a context "
                                      "is used by one thread at a time")
        self._owner = threading.get_ident()
        try:
            yield
        finally:
            self._owner = None
            self._lock.release()
            if self._close_requested:
                self._close_now(when_idle=True)
