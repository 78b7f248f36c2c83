"""ThreadWorker: one thread with its own event loop, to run sandbox work from anywhere.

quickbox's contexts may be used from any thread (one at a time), so unlike quickjs-rs it does not
need this to be correct. It is here for code written against quickjs-rs (langchain-quickjs calls
it), and because it is a convenient way to give synchronous callers an event loop for
``eval_async`` and async host functions.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


class ThreadWorker:
    """A daemon thread running an asyncio loop, started on first use. ``run_sync(coro)`` runs a
    coroutine there and blocks until it is done; ``run_async(coro)`` returns an awaitable for the
    caller's own loop. Exceptions reach the caller. ``close()`` cancels what is still running,
    stops the loop and joins the thread; it is idempotent, and the worker starts again if used
    after it."""

    def __init__(self, name: str = "quickbox-worker") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None:
                return self._loop
            ready = threading.Event()
            loop = asyncio.new_event_loop()

            def run() -> None:
                asyncio.set_event_loop(loop)
                ready.set()
                try:
                    loop.run_forever()
                finally:
                    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                    for task in pending:
                        task.cancel()
                    if pending:
                        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                    loop.run_until_complete(loop.shutdown_asyncgens())
                    loop.close()

            self._thread = threading.Thread(target=run, name=self._name, daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
            return loop

    def run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Runs ``coro`` on the worker and returns its result (or raises its exception). Not from
        the worker's own thread: that would wait for itself."""
        loop = self._ensure_started()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("ThreadWorker.run_sync() was called from the worker's own thread; await the "
                               "coroutine instead")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    def run_async(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Runs ``coro`` on the worker; the returned future belongs to the caller's running loop."""
        loop = self._ensure_started()
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def close(self) -> None:
        """Stops the worker: cancels its remaining tasks, stops its loop and joins its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join()

    def __enter__(self) -> ThreadWorker:
        self._ensure_started()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> ThreadWorker:
        self._ensure_started()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.close()
