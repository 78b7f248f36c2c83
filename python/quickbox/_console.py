"""Where console lines go as the program prints them: a callback, and the ``logging`` module.

The engine hands each console line over as the program prints it (the program waits meanwhile,
on the thread running it: the caller's for ``eval``, a worker thread for ``eval_async``). Each
line is passed on at once, in order, to the runtime's ``on_console`` callback and to the logger
``quickbox.console`` (level mapped from ``console.log``/``info``/``warn``/``error``/``debug``),
which is silent until the application configures logging. If the callback raises, the program is
stopped and the evaluation raises that exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from ._results import ConsoleLine

logger = logging.getLogger("quickbox.console")

_LEVELS = {"log": logging.INFO, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR,
           "debug": logging.DEBUG}


class ConsoleSink:
    """Passes console lines on to a callback and to the ``quickbox.console`` logger."""

    __slots__ = ("_callback",)

    def __init__(self, callback: Callable[[ConsoleLine], object] | None = None) -> None:
        if callback is not None and not callable(callback):
            raise TypeError(f"on_console must be callable, got {type(callback).__name__}")
        self._callback = callback

    def emit(self, lines: Iterable[ConsoleLine]) -> None:
        for line in lines:
            if logger.isEnabledFor(_LEVELS[line.level]):
                logger.log(_LEVELS[line.level], "%s", line.text)
            if self._callback is not None:
                self._callback(line)
