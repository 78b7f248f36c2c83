"""ES modules for Python: ``Runtime.set_module_loader(normalize=, load=)``, as quickjs-rs has it.

The engine asks the runtime's ``ModuleLoader`` synchronously, on the thread running the
evaluation, whenever a program imports a module it has not loaded yet (docs/modules.md). Every
context of the runtime shares one loader object, so ``set_module_loader`` reaches the existing
contexts as well as new ones. What a callback raises stays on the Python side: JavaScript only
learns that the loader failed on that module, and the caller, when the program does not catch
that error, gets the callback's exception as the JSError's ``__cause__``.

A loaded source goes through the source transforms first (_transforms.py), with the flags the
loader's own ``transform_flags`` give, else the runtime's ``transform_flags``, else the default by
name (``.ts``/``.mts``/``.cts`` stripped as TypeScript, ``.tsx`` as TSX), as quickjs-rs does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Optional

from . import _transforms
from ._errors import JSError
from ._transforms import TransformFlagsProvider, TransformSetting

Normalize = Callable[[str, str], Optional[str]]
Load = Callable[[str], Optional[str]]

# What dispatch() answers the engine (python/src/module.cc reads these tuples).
_Answer = tuple[str, ...]

# How the message the program sees for a callback's failure begins.
FAILED_ON = "the module loader failed on "

# Callback failures kept for their callers, newest last: enough for the imports one evaluation
# makes while others fail, few enough that the tracebacks they hold are no burden.
_KEPT_FAILURES = 16


class ModuleLoader:
    """The runtime's module callbacks; the engine calls ``dispatch``."""

    def __init__(self, runtime_transform: TransformSetting) -> None:
        # The runtime's transform_flags as they are when a module loads (Runtime.transform_flags
        # may be reassigned after the loader is set).
        self._runtime_transform = runtime_transform
        self.normalize: Normalize | None = None
        self.load: Load | None = None
        self.transform_flags: TransformFlagsProvider | None = None
        # By the message the program saw. The loader is the runtime's, shared by its contexts and
        # asked on whichever thread evaluates (a worker thread for eval_async), so the message is
        # what ties a failure to the error the caller is about to raise.
        self._failures: OrderedDict[str, BaseException] = OrderedDict()
        self._failures_lock = threading.Lock()

    def take_failure(self, message: str) -> BaseException | None:
        """The exception behind the error message ``message``, if a callback raised it; once."""
        with self._failures_lock:
            return self._failures.pop(message, None)

    def _failed(self, message: str, exc: BaseException) -> _Answer:
        with self._failures_lock:
            self._failures.pop(message, None)
            self._failures[message] = exc
            while len(self._failures) > _KEPT_FAILURES:
                self._failures.popitem(last=False)
        return ("error", "Error", message)

    def set(self, normalize: Normalize | None, load: Load | None,
            transform_flags: TransformFlagsProvider | None = None) -> None:
        if normalize is not None and not callable(normalize):
            raise TypeError(f"normalize must be callable or None, got {type(normalize).__name__}")
        if load is not None and not callable(load):
            raise TypeError(f"load must be callable or None, got {type(load).__name__}")
        _transforms.check_policy(transform_flags)
        self.normalize = normalize
        self.load = load
        self.transform_flags = transform_flags

    def _flags(self, name: str) -> int:
        """The transform flags for the module named ``name``: the loader's policy, else the
        runtime's, else the default by name."""
        policy = self.transform_flags if self.transform_flags is not None else self._runtime_transform.flags
        if policy is None:
            return int(_transforms.default_module_transform_flags(name))
        return _transforms.resolve(policy, name)

    def dispatch(self, what: str, first: str, second: str) -> _Answer:
        """("ok", text) | ("none",) | ("error", js_name, js_message)."""
        name = second if what == "normalize" else first
        if self.load is None:
            return ("error", "Error", f"cannot import {name!r}: no module loader is set "
                                      "(call Runtime.set_module_loader)")
        if what == "normalize" and self.normalize is None:  # the specifier is the name
            return ("ok", second)
        try:
            answer = self.normalize(first, second) if self.normalize and what == "normalize" else self.load(first)
        except Exception as exc:  # the detail may hold secrets: it stays in Python
            return self._failed(f"{FAILED_ON}{name!r}", exc)
        if answer is None:
            return ("none",)
        if not isinstance(answer, str):
            return ("error", "TypeError", f"the module loader's {what}() answered {name!r} with "
                                          f"{type(answer).__name__}; it must return str or None")
        try:
            answer.encode("utf-8")
        except UnicodeEncodeError:
            return ("error", "TypeError", f"the module loader's {what}() answered {name!r} with "
                                          "text that is not valid UTF-8 (a lone surrogate)")
        if what == "load":
            return self._transformed(name, answer)
        return ("ok", answer)

    def _transformed(self, name: str, source: str) -> _Answer:
        try:
            flags = self._flags(name)
        except Exception as exc:  # a policy function's failure, or its bad answer: details stay in Python
            return self._failed(f"{FAILED_ON}{name!r}: its transform_flags did not give "
                                "valid SourceTransform flags", exc)
        try:
            return ("ok", _transforms.apply(source, flags, filename=name, module=True))
        except JSError as error:  # the module's source does not parse: say where, as name:line:col
            where = (error.stack or "").strip().removeprefix("at ").strip()
            return ("error", error.name, f"{error.message} ({where})" if where else error.message)
        except ValueError as error:  # flags that ask for a transform quickbox cannot do
            return ("error", "Error", f"cannot transform module {name!r}: {error}")
