"""Checks of what ``ctx.register`` is given, so a mistake fails there, naming itself, instead of
surfacing later as a confusing error inside JavaScript."""

from __future__ import annotations

from typing import Any

# Words a program cannot use as a binding's name (ECMAScript's reserved words and literals, with
# those reserved in strict code), so a bare reference never reaches a global by them: `if` names
# no function a program can call, and `this` is no global to read.
JS_RESERVED_WORDS = frozenset("""
    await break case catch class const continue debugger default delete do else enum export extends
    false finally for function if implements import in instanceof interface let new null package
    private protected public return static super switch this throw true try typeof var void while
    with yield""".split())


def is_js_identifier(name: str) -> bool:
    """Whether `name` is a JavaScript identifier: they may hold ``$``; Python's rules cover the
    rest."""
    return name.replace("$", "_").isidentifier()


def is_js_binding_name(name: str) -> bool:
    """Whether a bare reference in a program can name `name`: an identifier, not a reserved word."""
    return is_js_identifier(name) and name not in JS_RESERVED_WORDS


def check_js_name(name: object) -> None:
    """A host function's name: an identifier, or dotted identifiers ("tools.search") for a
    namespace. The first is a binding the program calls by its bare name, so not a reserved word;
    after a dot, any identifier is a property name (``tools.delete``)."""
    if not isinstance(name, str):
        raise TypeError(f"a host function's name must be str, got {type(name).__name__}")
    segments = name.split(".")
    if not all(is_js_identifier(segment) for segment in segments):
        raise ValueError(f"{name!r} is not a JavaScript identifier (or dotted identifiers such as "
                         "'tools.search'); a host function is called by this name from JavaScript")
    first = segments[0]
    if first in JS_RESERVED_WORDS:
        raise ValueError(f"{first!r} is a reserved word in JavaScript, so a program cannot call a function "
                         f"by that name; choose another, or put it in a namespace ('tools.{first}')")


def check_function(fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"a host function must be callable, got {type(fn).__name__} {fn!r:.60}; "
                        "to give JavaScript a value, set ctx.globals[name] = value")
