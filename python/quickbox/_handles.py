"""Handle: a JavaScript value that stays inside the sandbox, held by reference.

Values that cannot cross as data (functions, promises, symbols, class instances you want to keep
calling) are pinned in the guest's handle table and named by id. A Handle is only ever used with
the context that made it, and only while that context still holds the same VM: every use first
checks that the handle is live, that its context is open and has not been restored or reset since
(the context's ``_generation``), and, for handles passed as arguments, that they come from the
same context. The guest checks the id once more, so a stale id can never reach another value or
freed memory.
"""

from __future__ import annotations

import warnings
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._errors import InvalidHandleError
from ._quickbox import _HandleRef

if TYPE_CHECKING:
    from ._context import Context


class Handle:
    """A JavaScript value kept inside the sandbox. Get one from ``ctx.eval_handle(...)``,
    ``ctx.globals.get_handle(name)`` or another handle's ``get``/``call``/``new``.

    Each handle pins its value until ``dispose()`` (or the end of a ``with`` block), or until its
    context is closed, reset or restored from a snapshot; after that every use raises
    ``InvalidHandleError``. Disposing is idempotent. A handle garbage-collected while still live
    releases its value and emits a ``ResourceWarning``, as leaked files do.
    """

    __slots__ = ("_context", "_id", "_generation", "_disposed", "__weakref__")

    def __init__(self, context: Context, handle_id: int, generation: int) -> None:
        self._context = context
        self._id = handle_id
        self._generation = generation
        self._disposed = False

    # ---- lifetime ------------------------------------------------------------------------------

    def __enter__(self) -> Handle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.dispose()

    @property
    def disposed(self) -> bool:
        """True once disposed (a handle whose context closed or was restored is not live either,
        but reports so only when used)."""
        return self._disposed

    def dispose(self) -> None:
        """Unpins the value. Idempotent; a no-op once the context is closed, reset or restored
        (the value went with that VM)."""
        if self._disposed:
            return
        if self._is_current():
            self._context._release_handle(self._id)  # may refuse (busy context): still live then
        self._disposed = True

    def __del__(self) -> None:
        if getattr(self, "_disposed", True):
            return
        try:
            warnings.warn(f"a quickbox Handle (id {self._id}) was never disposed; use `with ... as h:` "
                          "or call h.dispose()", ResourceWarning, stacklevel=2)
        except Exception:  # noqa: S110 - interpreter shutdown: warnings may be gone
            pass
        self._disposed = True
        try:
            if self._is_current():
                self._context._release_handle(self._id, from_finalizer=True)
        except Exception:  # noqa: S110 - a finalizer must not raise (e.g. the context is busy)
            pass

    def _is_current(self) -> bool:
        """The context is open and still holds the VM this handle was made in."""
        return not self._context.closed and self._context._generation == self._generation

    def _live_id(self) -> int:
        """This handle's id, after checking that it may be used now."""
        if self._disposed:
            raise InvalidHandleError("the handle was disposed")
        if self._context.closed:
            raise InvalidHandleError("the handle's context is closed")
        if self._context._generation != self._generation:
            raise InvalidHandleError("the handle's context was reset or restored from a snapshot since "
                                     "the handle was made; its value is gone")
        return self._id

    def _id_for(self, context: Context) -> int:
        """The id, for passing this handle into `context` (it must be its own)."""
        if context is not self._context:
            raise InvalidHandleError("the handle belongs to another context; a handle can only be used "
                                     "with the context that made it")
        return self._live_id()

    # ---- reading ---------------------------------------------------------------------------------

    @property
    def type_of(self) -> str:
        """``typeof`` of the value, except "null" for null and "array" for arrays."""
        return self._context._describe_handle(self._live_id())[0]

    def is_promise(self) -> bool:
        """True when the value is a Promise (``await_promise`` settles it)."""
        return self._context._describe_handle(self._live_id())[1]

    def get(self, key: str | int) -> Handle:
        """A new handle to ``value[key]`` (getters run)."""
        return self._context._handle_op("get_property", self._live_id(), _property_key(key))

    def get_index(self, index: int) -> Handle:
        """A new handle to ``value[index]``."""
        return self.get(index)

    def has(self, key: str | int) -> bool:
        """``key in value`` (False when the value is not an object)."""
        return self._context._handle_has(self._live_id(), _property_key(key))

    def to_python(self, *, allow_opaque: bool = False) -> Any:
        """The value as Python data, converted as ``ctx.eval`` converts results (a top-level
        ``undefined`` is ``None``). With ``allow_opaque=True``, what cannot cross as data
        (functions, symbols, promises, Maps...) comes back as new Handles in its place, which the
        caller disposes; cycles still raise ``MarshalError``."""
        if allow_opaque is not True and allow_opaque is not False:
            raise TypeError(f"allow_opaque must be True or False, got {allow_opaque!r}")
        return self._context._handle_value(self._live_id(), allow_opaque)

    def dup(self) -> Handle:
        """A second handle to the same value; each is disposed on its own."""
        return self._context._handle_op("duplicate", self._live_id())

    # ---- writing and calling -----------------------------------------------------------------------

    def set(self, key: str | int, value: Any) -> None:
        """``value[key] = value``; ``value`` may be Python data or a Handle of this context."""
        self._context._handle_set(self._live_id(), _property_key(key), value)

    def call(self, *args: Any) -> Handle:
        """Calls the value as a function (``this`` undefined) and returns a handle to its result,
        a promise included. Arguments may be Python data or Handles of this context."""
        return self._context._handle_op("call_handle", self._live_id(), list(args), evaluation=True)

    def call_method(self, name: str, *args: Any) -> Handle:
        """Calls ``value[name](...args)`` with ``this`` the value; returns a handle to the result."""
        if not isinstance(name, str):
            raise TypeError(f"name must be str, got {type(name).__name__}")
        return self._context._handle_op("call_method", self._live_id(), name, list(args), evaluation=True)

    def new(self, *args: Any) -> Handle:
        """``new value(...args)``; returns a handle to the instance."""
        return self._context._handle_op("construct", self._live_id(), list(args), evaluation=True)

    async def await_promise(self, *, timeout: float | None = None) -> Handle:
        """Settles a promise, running async host functions on this event loop as ``eval_async``
        does, and returns a new handle to its value (a rejection raises as ``eval`` would). A
        value that is not a promise returns this handle itself."""
        handle_id = self._live_id()
        if not self._context._describe_handle(handle_id)[1]:
            return self
        return await self._context._await_handle(handle_id, timeout)

    def __repr__(self) -> str:
        state = "disposed" if self._disposed else f"id {self._id}"
        return f"<quickbox.Handle {state}>"


def wrap_opaque(context: Context, value: Any, generation: int) -> Any:
    """Replaces the native references inside a converted value by Handles of `context`."""
    if isinstance(value, _HandleRef):
        return Handle(context, value.id, generation)
    if isinstance(value, list):
        return [wrap_opaque(context, item, generation) for item in value]
    if isinstance(value, dict):
        return {key: wrap_opaque(context, item, generation) for key, item in value.items()}
    return value


# Deeper than this, a value cannot enter JavaScript anyway (the converter refuses it, naming the
# place): the walk stops there instead of recursing into a cycle.
_MAX_DEPTH = 130


def _property_key(key: Any) -> str | int:
    """key, which names a property as JavaScript's own keys do: a str, or an int index."""
    if isinstance(key, str) or (isinstance(key, int) and not isinstance(key, bool)):
        return key
    raise TypeError(f"a property key must be str or int, got {type(key).__name__}")


# Types that hold no Handle: most of what goes into a program (arguments, answers) is these, and
# passing them by at a type test keeps unwrapping from costing more than the call it serves.
_LEAVES = frozenset({int, float, str, bool, type(None), bytes})


def unwrap_handles(context: Context, value: Any, depth: int = 0) -> Any:
    """Replaces the Handles inside a value going into `context` by native references, checking
    each belongs to it and is live. Data without handles is returned as it is, uncopied."""
    if type(value) in _LEAVES:
        return value
    if isinstance(value, Handle):
        return _HandleRef(value._id_for(context))
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, (list, tuple)):
        items: list[Any] | None = None  # a copy, from the first item that changed
        for index, item in enumerate(value):
            replaced = item if type(item) in _LEAVES else unwrap_handles(context, item, depth + 1)
            if items is not None:
                items.append(replaced)
            elif replaced is not item:
                items = [*value[:index], replaced]
        return value if items is None else items
    if isinstance(value, dict):
        entries: dict[Any, Any] | None = None
        for key, item in value.items():
            replaced = item if type(item) in _LEAVES else unwrap_handles(context, item, depth + 1)
            if entries is not None:
                entries[key] = replaced
            elif replaced is not item:
                entries = dict(value)
                entries[key] = replaced
        return value if entries is None else entries
    return value
