"""Which process holds each connection: read from /proc for sockets these tests open."""

from __future__ import annotations

import os
import socket

from loadtest import driver, servers, sockets


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


def test_the_driver_evens_its_connections_over_two_server_processes() -> None:
    with servers.bare(2) as server:
        # start() returns once both processes listen.
        assert sockets.listeners(server.port) == 2
        clients = [driver.Client("127.0.0.1", server.port) for _ in range(9)]

        async def spread() -> tuple[int, ...]:
            try:
                return await driver.even_out(clients, server.port, [server.pid], 2)
            finally:
                for client in clients:
                    client.close()

        assert driver.run_sync(spread) == (5, 4)
