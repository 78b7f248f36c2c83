"""Source transforms in front of eval: TypeScript stripping and the REPL's top-level ``const`` to
``var`` rewrite, with the ``SourceTransform`` flags of quickjs-rs.

The work is done by the engine (``quickbox/typescript.hh``), which keeps every token of TypeScript
at its line and column, so a stack trace or a SyntaxError points into the TypeScript.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntFlag
from typing import Union

from . import _quickbox
from ._errors import evaluation_error


class SourceTransform(IntFlag):
    """What to do to a source before it is evaluated (the values are quickjs-rs's)."""

    NONE = 0
    #: The source is TypeScript (needs ``STRIP_TYPESCRIPT`` to be stripped).
    SOURCE_TS = 1 << 0
    #: The source is TSX: TypeScript where ``<T>x`` casts are not allowed; JSX itself is refused.
    SOURCE_TSX = 1 << 1
    #: Strip the TypeScript types (with ``SOURCE_TS`` or ``SOURCE_TSX``).
    STRIP_TYPESCRIPT = 1 << 8
    #: Turn top-level ``const`` into ``var``, so a later eval may declare the name again.
    TOP_LEVEL_CONST_TO_VAR = 1 << 9


TransformFlags = Union[SourceTransform, int]
TransformFlagsProvider = Union[TransformFlags, Callable[[str], TransformFlags]]

_TS_SUFFIXES = (".ts", ".mts", ".cts")
_ALL = int(SourceTransform.SOURCE_TS | SourceTransform.SOURCE_TSX | SourceTransform.STRIP_TYPESCRIPT
           | SourceTransform.TOP_LEVEL_CONST_TO_VAR)
# transform_source's language codes (quickbox::SourceLanguage)
_JAVASCRIPT, _TYPESCRIPT, _TSX = 0, 1, 2


def default_module_transform_flags(name: str) -> SourceTransform:
    """The flags a source named ``name`` gets by default: ``.ts``, ``.mts`` and ``.cts`` are
    stripped as TypeScript, ``.tsx`` as TSX, anything else is left alone."""
    if not isinstance(name, str):
        raise TypeError(f"name must be str, got {type(name).__name__}")
    if name.endswith(".tsx"):
        return SourceTransform.SOURCE_TSX | SourceTransform.STRIP_TYPESCRIPT
    if name.endswith(_TS_SUFFIXES):
        return SourceTransform.SOURCE_TS | SourceTransform.STRIP_TYPESCRIPT
    return SourceTransform.NONE


class TransformSetting:
    """A runtime's ``transform_flags``, shared with its contexts: each eval applies it as it is
    when the eval starts (``Runtime.transform_flags`` may be reassigned), and reads it as an
    attribute rather than through a call, a cost every evaluation would pay."""

    __slots__ = ("flags",)

    def __init__(self, flags: TransformFlagsProvider | None = None) -> None:
        check_policy(flags)
        self.flags = flags


def check_policy(policy: object, what: str = "transform_flags") -> None:
    """Raises unless ``policy`` is None, flags, or a callable giving flags for a name."""
    if policy is None or callable(policy):
        return
    _flags(policy, what)


def resolve(policy: TransformFlagsProvider | None, name: str) -> int:
    """The flags a policy gives the source named ``name``; None means no transform."""
    if policy is None:
        return 0
    if callable(policy):
        return _flags(policy(name), "the flags transform_flags returned")
    return _flags(policy, "transform_flags")


def apply(source: str, flags: int, *, filename: str, module: bool = False) -> str:
    """``source`` transformed as ``flags`` say; raises ``JSError`` (a SyntaxError, with the line
    and column in the source) when it does not parse."""
    if not flags:  # the common case, before any flag arithmetic: every eval comes through here
        return source
    if not flags & (SourceTransform.STRIP_TYPESCRIPT | SourceTransform.TOP_LEVEL_CONST_TO_VAR):
        return source
    if flags & SourceTransform.STRIP_TYPESCRIPT:
        language = _TSX if flags & SourceTransform.SOURCE_TSX else _TYPESCRIPT
    elif flags & (SourceTransform.SOURCE_TS | SourceTransform.SOURCE_TSX):
        raise ValueError("SourceTransform.SOURCE_TS and SOURCE_TSX need STRIP_TYPESCRIPT: quickbox "
                         "only rewrites TypeScript while it strips its types")
    else:
        language = _JAVASCRIPT
    status, payload = _quickbox.transform_source(
        source, language, module, bool(flags & SourceTransform.TOP_LEVEL_CONST_TO_VAR), filename)
    if status != 0:
        kind, name, message, stack, thrown, _discarded = payload
        raise evaluation_error(kind, name, message, stack, thrown)
    text: str = payload
    return text


def transform_source(name: str, source: str, *, flags: TransformFlags | None = None) -> str:
    """``source`` (named ``name``) transformed once, outside any context: with ``flags``, or by
    default as ``default_module_transform_flags(name)`` says. Raises ``JSError`` (a
    SyntaxError) when the source does not parse."""
    if not isinstance(name, str):
        raise TypeError(f"name must be str, got {type(name).__name__}")
    if not isinstance(source, str):
        raise TypeError(f"source must be str, got {type(source).__name__}")
    chosen = default_module_transform_flags(name) if flags is None else _flags(flags, "flags")
    return apply(source, chosen, filename=name)


def _flags(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be SourceTransform flags, got {type(value).__name__}")
    flags = int(value)
    if flags < 0 or flags & ~_ALL:
        raise ValueError(f"{what} has unknown bits: {flags:#x} (SourceTransform has {_ALL:#x})")
    if flags & SourceTransform.SOURCE_TS and flags & SourceTransform.SOURCE_TSX:
        raise ValueError(f"{what}: a source is TypeScript or TSX, not both (SOURCE_TS | SOURCE_TSX)")
    if flags & SourceTransform.STRIP_TYPESCRIPT and not flags & (SourceTransform.SOURCE_TS
                                                                  | SourceTransform.SOURCE_TSX):
        raise ValueError(f"{what}: STRIP_TYPESCRIPT needs the source kind, SOURCE_TS or SOURCE_TSX")
    return flags
