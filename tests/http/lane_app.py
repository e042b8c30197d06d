"""An aiohttp app on 127.0.0.1 with ``POST /`` on the fast lane, for the HTTP tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.http import fast_lane


@contextlib.asynccontextmanager
async def serving(app: web.Application, lane: fast_lane.Handler) -> AsyncIterator[int]:
    """``app`` served on a free port of 127.0.0.1 with ``lane`` taking ``POST /``; the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    assert runner.server is not None
    fast_lane.install(app, runner.server, lane)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
