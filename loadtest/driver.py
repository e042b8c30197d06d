"""A cheap closed-loop (or rate-limited) HTTP/1.1 driver replaying pre-signed requests.

Locust and aiohttp's client spend 100 µs or more of CPU per request, on the same two cores
as the server under test. This driver writes pre-built request bytes on keep-alive
connections with an asyncio ``Protocol`` and parses only the status line, Content-Length
and, for errors, the ``__type``: a few tens of µs per request, so the server gets the cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from loadtest import proctree, sockets
from loadtest.stats import Summary, summarize

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        if at < 0:
            if b"transfer-encoding: chunked" in head:
                self._fail(RuntimeError("chunked responses are not supported by this driver"))
            return  # no length: the body ends when the server closes (connection_lost)
        length = int(head[at + 15 : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(self.buffer[9:12])
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        if b"connection: close" in head:
            self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        end = self.buffer.find(b"\r\n\r\n")
        if end >= 0 and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((int(self.buffer[9:12]), bytes(self.buffer[end + 4 :])))
            return
        self._fail(exc or ConnectionResetError("connection closed by the server"))

    def _fail(self, exc: BaseException) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)


class Client:
    """A pool-less client: each caller coroutine owns one connection and reconnects as needed."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._conn: _Connection | None = None

    async def connect(self) -> _Connection:
        """The open connection, opened first if there is none."""
        if self._conn is None or self._conn.closed:
            loop = asyncio.get_running_loop()
            _, self._conn = await loop.create_connection(_Connection, self.host, self.port)
        return self._conn

    @property
    def local_port(self) -> int | None:
        conn = self._conn
        if conn is None or conn.closed or conn.transport is None:
            return None
        return int(conn.transport.get_extra_info("sockname")[1])

    async def send(self, wire: bytes) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        conn = await self.connect()
        conn.waiter = loop.create_future()
        assert conn.transport is not None
        conn.transport.write(wire)
        try:
            return await conn.waiter
        finally:
            conn.waiter = None

    def close(self) -> None:
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.close()
            self._conn.closed = True


async def even_out(
    clients: Sequence[Client],
    port: int,
    server_pids: Sequence[int],
    processes: int,
    *,
    within: float = 3.0,
) -> tuple[int, ...]:
    """Connect every client, then reconnect clients until each of ``processes`` server
    processes holds as many of the connections as the others, give or take one.

    SO_REUSEPORT hashes each connection to one worker: 32 connections land 20/12 or worse in
    about one run of five, and all on one worker if it listened first. Both sides of a
    comparison get the same even spread. Gives up after ``within`` seconds (a worker that
    never accepts) with a warning. Returns the spread reached (see sockets.spread), () if
    some connection never got a server process.
    """
    found: tuple[int, ...] = ()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for client in clients:
            if client.local_port is None:
                # Never connected, or closed by the server: a refusal here is left to
                # send(), which counts it as the run's error.
                with contextlib.suppress(OSError):
                    await client.connect()
        held = sockets.serving_processes(list(server_pids), port)
        owners = {c: held.get(c.local_port or -1) for c in clients}
        pids = [pid for pid in owners.values() if pid is not None]
        if len(pids) < len(clients):
            found = ()
            await asyncio.sleep(0.005)  # accepted by the kernel, not yet by a worker
            continue
        found = sockets.spread(pids, processes)
        if found[0] - found[-1] <= 1:
            return found
        busiest = max(set(pids), key=pids.count)
        moved = next(c for c, pid in owners.items() if pid == busiest)
        moved.close()
    log.warning(
        "connections not spread evenly over %d server processes within %.0f s: %s",
        processes,
        within,
        "/".join(map(str, found)) or "some never accepted",
    )
    return found


def error_type(status: int, body: bytes) -> str | None:
    """None for a success; else the AWS ``__type`` (without its namespace) or the status."""
    if status == 200:
        return None
    try:
        kind = str(orjson.loads(body).get("__type", ""))
    except (orjson.JSONDecodeError, AttributeError):
        kind = ""
    return kind.rpartition("#")[2] or f"HTTP {status}"


@dataclass(slots=True)
class Run:
    """Raw observations of a run; ``bodies`` only when asked (e.g. CreateKey's key ids)."""

    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    bodies: list[bytes] = field(default_factory=list)


async def drive(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    seconds: float = 5.0,
    warmup: float = 1.0,
    rate: float | None = None,
    total: int | None = None,
    server_pids: Sequence[int] = (),
    processes: int = 1,
    keep_bodies: bool = False,
) -> tuple[Summary, Run]:
    """Replay ``requests`` round robin from ``concurrency`` connections.

    Closed loop by default: each connection sends its next request when the previous answer
    arrives. With ``rate``, requests are due on a fixed schedule (open loop over the
    connections) and latency counts from the due time, so a stalled server is not hidden
    by the client waiting politely (coordinated omission). With ``total``, the run stops
    after that many requests instead of after ``seconds``. With ``server_pids`` and
    ``processes`` > 1, the connections are first spread evenly over the server's processes.
    """
    if not requests:
        raise ValueError("no requests to send")
    cycle = itertools.cycle(requests)
    clients = [Client(host, port) for _ in range(concurrency)]
    # The spread the run starts with (a connection the server closes reconnects wherever
    # the kernel hashes it).
    connections: tuple[int, ...] = ()
    if server_pids and processes > 1:
        connections = await even_out(clients, port, server_pids, processes)
    run = Run()
    # Without a warm-up every answer counts (a CreateKey run needs all the key ids).
    measuring = warmup <= 0
    sent = 0
    # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
    clock = time.perf_counter
    start_at = clock() + warmup
    stop_at = start_at + seconds

    async def one(client: Client, due: float) -> None:
        try:
            status, body = await client.send(next(cycle))
        except (OSError, RuntimeError) as exc:
            status, body = 0, type(exc).__name__.encode()
            client.close()
        if not measuring:
            return
        run.latencies.append(clock() - due)
        if status == 0:
            run.errors[body.decode()] += 1
            return
        kind = error_type(status, body)
        if kind is not None:
            run.errors[kind] += 1
        elif keep_bodies:
            run.bodies.append(body)

    async def closed_loop(client: Client) -> None:
        nonlocal sent
        while clock() < stop_at and (total is None or sent < total):
            sent += measuring
            await one(client, clock())

    slots = itertools.count()

    async def scheduled(client: Client) -> None:
        # Every connection takes the next free slot of one shared schedule, so a slow answer
        # on one connection does not delay the requests due after it on the others.
        assert rate is not None
        begin = start_at - warmup
        while True:
            due = begin + next(slots) / rate
            if due >= stop_at:
                return
            delay = due - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            await one(client, due)

    async def measure_window() -> tuple[float, float, float]:
        """Measured seconds, server CPU seconds and this driver's own CPU seconds."""
        nonlocal measuring
        await asyncio.sleep(max(0.0, start_at - clock()))
        cpu0, t0, own0 = proctree.cpu_seconds(list(server_pids)), clock(), time.process_time()
        measuring = True
        while clock() < stop_at and (total is None or sent < total):
            await asyncio.sleep(0.02)
        cpu1, t1, own1 = proctree.cpu_seconds(list(server_pids)), clock(), time.process_time()
        # A rate-limited run keeps counting the answers still due: dropping the late ones
        # would hide exactly the tail it is meant to show. A counted run needs every answer.
        measuring = rate is not None or total is not None
        return t1 - t0, cpu1 - cpu0, own1 - own0

    workers = [closed_loop(c) if rate is None else scheduled(c) for c in clients]
    window = asyncio.ensure_future(measure_window())
    await asyncio.gather(*workers)
    elapsed, cpu, own = await window
    for client in clients:
        client.close()
    summary = summarize(run.latencies, elapsed, run.errors, cpu if server_pids else None)
    summary.client_cpu_seconds = own
    summary.connections = connections
    return summary, run


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on uvloop (installed: the gateway depends on it) and return its result."""
    import uvloop

    return uvloop.run(factory())
