"""Which process holds each connection: read from /proc for sockets these tests open."""

from __future__ import annotations

import os
import socket

from botocore.credentials import Credentials

from loadtest import driver, operations, servers, sockets, workload
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Signer


def _listening(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


def test_every_reuseport_listener_on_the_port_is_counted() -> None:
    first = _listening()
    port = first.getsockname()[1]
    assert sockets.listeners(port) == 1
    second = _listening(port)
    assert sockets.listeners(port) == 2
    second.close()
    first.close()
    assert sockets.listeners(port) == 0


def test_accepted_connections_map_client_ports_to_the_accepting_process() -> None:
    listener = _listening()
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    # Not accepted yet: the kernel holds them, no process does.
    assert sockets.serving_processes([os.getpid()], port) == {}
    accepted = [listener.accept()[0] for _ in clients]
    owners = sockets.serving_processes([os.getpid()], port)
    assert owners == {c.getsockname()[1]: os.getpid() for c in clients}
    assert sockets.spread(owners.values(), 2) == (3, 0)
    for sock in (*clients, *accepted, listener):
        sock.close()


def test_spread_counts_per_process_most_first() -> None:
    assert sockets.spread([7, 8, 7], 2) == (2, 1)
    assert sockets.spread([], 2) == (0, 0)
    assert sockets.spread([7, 8, 9], 2) == (1, 1, 1)


class _FakeClient:
    """A driver client whose connections get the next port from a shared counter."""

    ports = iter(range(40_000, 41_000))

    def __init__(self, refuse: bool = False) -> None:
        self.local_port: int | None = None
        self.refuse = refuse
        self.connects = 0

    async def connect(self) -> None:
        self.connects += 1
        if self.refuse:
            raise ConnectionRefusedError("refused")
        self.local_port = next(self.ports)

    def close(self) -> None:
        self.local_port = None


def test_even_out_moves_connections_off_the_busiest_process(monkeypatch) -> None:
    clients = [_FakeClient() for _ in range(9)]
    first_ports = range(40_000, 40_009)
    _FakeClient.ports = iter(range(40_000, 41_000))

    def held(roots: list[int], port: int) -> dict[int, int]:
        # All nine first connections on process 1 (it listened first); reconnections
        # alternate between the two processes.
        return {
            c.local_port: 1 if c.local_port in first_ports else 1 + c.local_port % 2
            for c in clients
            if c.local_port is not None
        }

    monkeypatch.setattr(sockets, "serving_processes", held)
    spread = driver.run_sync(lambda: driver.even_out(clients, 8080, [1], 2))  # type: ignore[arg-type]
    assert spread == (5, 4)
    assert sorted(held([], 8080).values()).count(2) == 4
    assert sum(c.connects for c in clients) > 9  # some really were reconnected


def test_even_out_gives_up_in_time_when_a_connection_is_refused(monkeypatch, caplog) -> None:
    clients = [_FakeClient(), _FakeClient(refuse=True)]
    monkeypatch.setattr(
        sockets,
        "serving_processes",
        lambda roots, port: {c.local_port: 1 for c in clients if c.local_port is not None},
    )
    spread = driver.run_sync(
        lambda: driver.even_out(clients, 8080, [1], 2, within=0.2)  # type: ignore[arg-type]
    )
    assert spread == ()  # one client never connected: nothing to report as a spread
    assert clients[1].connects > 1  # retried, and the refusal never escaped
    assert "not spread evenly" in caplog.text


def test_a_run_against_two_processes_starts_with_its_connections_spread_evenly() -> None:
    with servers.bare(2) as server:
        # start() returns once both processes listen.
        assert sockets.listeners(server.port) == 2
        signer = Signer(server.url, Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY))
        requests = workload.ceiling_pool(signer, operations.Shape(plaintext_bytes=32))
        summary, _ = driver.run_sync(
            lambda: driver.drive(
                "127.0.0.1",
                server.port,
                requests,
                concurrency=31,
                total=200,
                warmup=0,
                server_pids=[server.pid],
                processes=2,
            )
        )
    assert summary.connections == (16, 15)
    assert summary.errors == {}
