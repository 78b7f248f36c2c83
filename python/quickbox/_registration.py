"""Checks of what ``ctx.register`` is given, so a mistake fails there, naming itself, instead of
surfacing later as a confusing error inside JavaScript."""

from __future__ import annotations

from typing import Any


def check_js_name(name: object) -> None:
    """A host function's name: an identifier, or dotted identifiers ("tools.search") for a
    namespace. JavaScript identifiers may hold ``$``; Python's rules cover the rest."""
    if not isinstance(name, str):
        raise TypeError(f"a host function's name must be str, got {type(name).__name__}")
    segments = name.split(".")
    if not all(segment.replace("$", "_").isidentifier() for segment in segments):
        raise ValueError(f"{name!r} is not a JavaScript identifier (or dotted identifiers such as "
                         "'tools.search'); a host function is called by this name from JavaScript")


def check_function(fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"a host function must be callable, got {type(fn).__name__} {fn!r:.60}; "
                        "to give JavaScript a value, set ctx.globals[name] = value")
