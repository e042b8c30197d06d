"""One worker's aiohttp runner: the server's settings, and what wraps the server before it
accepts a connection (the request-target guard, the fast lane for ``POST /``, the
connection cap)."""

from __future__ import annotations

from aiohttp import web

from gateway.config import Settings
from gateway.http import fast_lane, request_target
from gateway.http.answer import as_handler
from gateway.http.app import CONNECTIONS, ENDPOINT

# After refusing a body (413, 408) aiohttp drains what is still coming, so the client can
# read the answer before the close: 2 s, not its default 10.
LINGERING_SECONDS = 2.0


async def start_runner(app: web.Application, settings: Settings) -> web.AppRunner:
    """The runner of ``app``, set up (its services started) and its server wrapped."""
    # keepalive_timeout also bounds a new connection that sends no request, or its headers
    # a line at a time: aiohttp's own default keeps such a connection for an hour.
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=settings.idle_timeout_seconds,
        lingering_time=LINGERING_SECONDS,
    )
    await runner.setup()
    server = runner.server
    assert server is not None  # setup() made it
    request_target.guard(server)
    # The endpoint exists once setup has run the app's cleanup_ctx.
    fast_lane.install(app, server, as_handler(app[ENDPOINT].handle))
    app[CONNECTIONS].attach(server)
    return runner
