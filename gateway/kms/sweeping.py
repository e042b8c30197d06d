"""The loop the background sweeps share: run one sweep, log a failure, wait, again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from gateway.kms.service import Kms


async def sweep_forever(
    sweep: Callable[[Kms], Awaitable[int]], kms: Kms, interval: float, log: logging.Logger
) -> None:
    """Run ``sweep`` every ``interval`` seconds until cancelled; a failed sweep is logged
    and retried at the next beat, so one bad round never stops the sweeps."""
    while True:
        try:
            await sweep(kms)
        except Exception:
            log.exception("sweep failed; will retry", extra={"sweep": sweep.__name__})
        await asyncio.sleep(interval)
