"""Which server process holds each TCP connection to a port, read from /proc (Linux only).

Workers sharing a port with SO_REUSEPORT each have a listening socket, and the kernel hashes
every new connection to one of them. A benchmark that connects before the last worker
listens, or that is dealt an uneven hash, measures fewer workers than it names: these
readings let the driver wait for every listener and even out its connections.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from loadtest import proctree

_LISTEN, _ESTABLISHED = "0A", "01"
_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def _rows(tables: Iterable[str] = _TABLES) -> list[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of every IPv4 and IPv6 TCP socket."""
    rows = []
    for table in tables:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue  # no IPv6 on this host
        for line in lines:
            fields = line.split()
            local, remote = fields[1], fields[2]
            rows.append(
                (
                    int(local.rpartition(":")[2], 16),
                    int(remote.rpartition(":")[2], 16),
                    fields[3],
                    fields[9],
                )
            )
    return rows


def listeners(port: int) -> int:
    """How many sockets listen on ``port`` (one per SO_REUSEPORT worker)."""
    return sum(1 for local, _, state, _ in _rows() if local == port and state == _LISTEN)


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    try:
        entries = list(os.scandir(f"/proc/{pid}/fd"))
    except OSError:
        return inodes  # ended, or not ours to read
    for entry in entries:
        try:
            target = os.readlink(entry.path)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def serving_processes(roots: list[int], port: int) -> dict[int, int]:
    """Client port -> pid of the server process holding that connection, for every
    established connection to ``port`` held by a process of the trees under ``roots``."""
    by_inode = {
        inode: remote
        for local, remote, state, inode in _rows()
        if local == port and state == _ESTABLISHED
    }
    owners: dict[int, int] = {}
    for root in roots:
        for pid in proctree.tree(root):
            for inode in _socket_inodes(pid) & by_inode.keys():
                owners[by_inode[inode]] = pid
    return owners


def spread(owners: Iterable[int], processes: int) -> tuple[int, ...]:
    """Connections per server process (``owners``: one pid per connection), most first,
    with a 0 for each of the ``processes`` left without one."""
    counts: dict[int, int] = {}
    for pid in owners:
        counts[pid] = counts.get(pid, 0) + 1
    found = sorted(counts.values(), reverse=True)
    return tuple(found + [0] * max(0, processes - len(found)))
