"""Globals: ``ctx.globals``, the program's global variables as a Python mapping."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._context import Context
    from ._handles import Handle

_MISSING = object()


class Globals(MutableMapping[str, Any]):
    """``ctx.globals``: the program's global variables as a mapping.

    - ``globals[name]`` reads ``globalThis[name]``, or else a top-level ``let``/``const``/``class``
      binding of that name; a name that is neither raises ``KeyError``. A global whose value is
      ``undefined`` reads as ``None``. Values that cannot cross as data (functions...) raise
      ``MarshalError``: ``get_handle(name)`` reaches them.
    - ``globals[name] = value`` sets ``globalThis[name]``; ``value`` may be a ``Handle`` of this
      context. ``del globals[name]`` deletes the property.
    - ``name in globals`` is True when reading it would give a value other than ``undefined``.
    - ``len``, iteration and ``keys()`` cover ``Object.keys(globalThis)``: the enumerable globals
      (``var`` declarations and assignments, not the built-ins, nor the registered functions, nor
      ``let``/``const`` bindings, which JavaScript cannot list).
    """

    def __init__(self, context: Context) -> None:
        self._context = context

    def __getitem__(self, name: str) -> Any:
        value = self._context._read_global(name, _MISSING)
        if value is _MISSING:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        self._context._write_global(name, value)

    def __delitem__(self, name: str) -> None:
        if not self._context._delete_global(name):
            raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return self._context._read_global(name, _MISSING, marshal=False) not in (_MISSING, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._context._global_names())

    def __len__(self) -> int:
        return len(self._context._global_names())

    def get_handle(self, name: str) -> Handle:
        """A ``Handle`` to ``globalThis[name]`` (``undefined`` when there is no such global), for
        values that cannot cross as data. The caller disposes it."""
        return self._context._global_handle(name)

    def __repr__(self) -> str:
        return f"<quickbox.Globals of {self._context!r}>"
