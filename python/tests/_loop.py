"""Watching the event loop: whether other tasks still run while quickbox works."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def loop_ticks(period: float = 0.01) -> AsyncIterator[list[int]]:
    """Counts, in ticks[0], how often a task sleeping `period` between ticks got to run while the
    block ran: a loop held by a blocking call ticks once or not at all."""
    ticks = [0]

    async def tick() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(period)

    task = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        task.cancel()
