"""The timer that folds a worker's metric tallies into the files other workers' scrapes read.

A scrape flushes its own worker first, so the timer matters only with several workers:
their values reach a scrape at most ``FLUSH_SECONDS`` late.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5


async def flush_periodically(flush: Callable[[], None], interval: float = FLUSH_SECONDS) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            flush()
        except Exception:
            # One bad fold must not stop the metrics of a worker that keeps serving.
            log.exception("metrics flush failed")
