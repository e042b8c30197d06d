"""A cap on the connections one worker keeps open, and the file descriptors it needs.

Without a cap, clients that open connections and keep them (idle ones are closed only
after the idle timeout) use up the process's file descriptors, and then every new
connection fails, the store and metrics files included. Past the cap a new connection is
closed as soon as it is accepted, before anything is read from it: a client sees the
connection closed and retries, as the SDKs do, while the connections already open are
served as before. With TLS a connection is counted once its handshake is done: one still
in its handshake holds a descriptor uncounted, for at most the idle timeout (gateway/cli.py).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from aiohttp import web

log = logging.getLogger("gateway.connections")

# Descriptors a worker needs besides its connections: the store, the metrics files, the
# listening socket, the event loop's own, logs.
DESCRIPTOR_HEADROOM = 256
# A refused connection is logged at most once per this many seconds, with a count.
LOG_EVERY_SECONDS = 10.0


class ConnectionCap:
    """Counts one worker's open connections and closes the ones past ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0  # read by the metrics at scrape time
        self.refused = 0
        self._unlogged = 0
        self._next_log: asyncio.TimerHandle | None = None

    def attach(self, server: web.Server) -> None:
        """Watch ``server``'s connections (before the site starts accepting them)."""
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: Any, transport: Any) -> None:
            made(handler, transport)
            self.open += 1
            if self.open > self.limit:
                # Nothing of the connection is read from now on (aiohttp drops what arrives
                # once it is closing), so no request on it reaches a handler. The close
                # itself waits a turn: aiohttp starts the connection's task after this
                # returns, and that task fails if the connection is already gone.
                handler.close()
                asyncio.get_running_loop().call_soon(handler.force_close)
                self._refused()  # connection_lost follows and takes it off the count

        def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
            self.open -= 1
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    def _refused(self) -> None:
        self.refused += 1
        self._unlogged += 1
        if self._next_log is None:  # the first of a burst is logged at once
            self._log()

    def _log(self) -> None:
        """Log the refusals not logged yet; while they go on, again every LOG_EVERY_SECONDS
        (so the end of a burst is counted too)."""
        self._next_log = None
        if not self._unlogged:
            return
        log.warning(
            "connections refused: this worker has max_connections open",
            extra={"refused": self._unlogged, "max_connections": self.limit},
        )
        self._unlogged = 0
        self._next_log = asyncio.get_running_loop().call_later(LOG_EVERY_SECONDS, self._log)


def ensure_descriptors(max_connections: int) -> int:
    """Raise this process's soft descriptor limit to what ``max_connections`` needs, as far
    as the hard limit allows; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + DESCRIPTOR_HEADROOM
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):  # a platform cap below the hard limit: keep serving
            pass
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning(
            "the file descriptor limit is below max_connections plus headroom: raise it "
            "(ulimit -n) or lower max_connections",
            extra={"limit": soft, "max_connections": max_connections},
        )
    return soft
