"""ES modules for Python: ``Runtime.set_module_loader(normalize=, load=)``, as quickjs-rs has it.

The engine asks the runtime's ``ModuleLoader`` synchronously, on the thread running the
evaluation, whenever a program imports a module it has not loaded yet (docs/modules.md). Every
context of the runtime shares one loader object, so ``set_module_loader`` reaches the existing
contexts as well as new ones. What a callback raises stays on the Python side: JavaScript only
learns that the loader failed on that module.
"""

from __future__ import annotations

from typing import Callable, Optional

Normalize = Callable[[str, str], Optional[str]]
Load = Callable[[str], Optional[str]]

# What dispatch() answers the engine (python/src/module.cc reads these tuples).
_Answer = tuple[str, ...]


class ModuleLoader:
    """The runtime's module callbacks; the engine calls ``dispatch``."""

    def __init__(self) -> None:
        self.normalize: Normalize | None = None
        self.load: Load | None = None

    def set(self, normalize: Normalize | None, load: Load | None) -> None:
        if normalize is not None and not callable(normalize):
            raise TypeError(f"normalize must be callable or None, got {type(normalize).__name__}")
        if load is not None and not callable(load):
            raise TypeError(f"load must be callable or None, got {type(load).__name__}")
        self.normalize = normalize
        self.load = load

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
        except Exception:  # the detail may hold secrets: it stays in Python
            return ("error", "Error", f"the module loader failed on {name!r}")
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
        return ("ok", answer)
