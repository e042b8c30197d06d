"""The per-worker connection cap and the descriptor limit it needs."""

from __future__ import annotations

import asyncio
import logging
import resource
from unittest import mock

import pytest

from gateway.http import connections
from gateway.http.connections import DESCRIPTOR_HEADROOM, ConnectionCap, ensure_descriptors


class _Server:
    """Stands in for aiohttp's web.Server: records what reaches it."""

    def __init__(self) -> None:
        self.made: list[object] = []
        self.lost: list[object] = []

    def connection_made(self, handler: object, transport: object) -> None:
        self.made.append(handler)

    def connection_lost(self, handler: object, exc: BaseException | None = None) -> None:
        self.lost.append(handler)


async def test_connections_past_the_limit_are_closed_and_counted(caplog, monkeypatch):
    monkeypatch.setattr(connections, "LOG_EVERY_SECONDS", 0.05)
    server, cap = _Server(), ConnectionCap(2)
    cap.attach(server)  # type: ignore[arg-type]
    handlers = [mock.Mock() for _ in range(4)]
    with caplog.at_level(logging.WARNING, logger="gateway.connections"):
        for handler in handlers:
            server.connection_made(handler, mock.Mock())
    # Past the limit: reading stops at once, the close itself comes a loop turn later.
    assert [h.close.called for h in handlers] == [False, False, True, True]
    assert not any(h.force_close.called for h in handlers)
    await asyncio.sleep(0)
    assert [h.force_close.called for h in handlers] == [False, False, True, True]
    assert (cap.open, cap.refused) == (4, 2)  # until their connection_lost comes
    # The first refusal is logged at once, the rest of the burst a period later, counted.
    assert [r.refused for r in caplog.records] == [1]
    with caplog.at_level(logging.WARNING, logger="gateway.connections"):
        await asyncio.sleep(0.2)
    assert [r.refused for r in caplog.records] == [1, 1]
    assert server.made == handlers  # aiohttp still saw every connection
    for handler in (handlers[2], handlers[3], handlers[0]):
        server.connection_lost(handler, None)
    assert cap.open == 1 and server.lost == [handlers[2], handlers[3], handlers[0]]
    fresh = mock.Mock()
    server.connection_made(fresh, mock.Mock())
    await asyncio.sleep(0)
    assert not fresh.close.called and not fresh.force_close.called and cap.open == 2


def test_descriptor_limit_is_raised_within_the_hard_limit(monkeypatch):
    limits = {"now": (1024, 4096)}
    monkeypatch.setattr(resource, "getrlimit", lambda which: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda which, value: limits.update(now=value))
    assert ensure_descriptors(1000) == 1000 + DESCRIPTOR_HEADROOM
    assert limits["now"] == (1000 + DESCRIPTOR_HEADROOM, 4096)
    assert ensure_descriptors(100) == 1000 + DESCRIPTOR_HEADROOM  # never lowered


def test_a_limit_the_platform_refuses_to_raise_is_kept_and_warned_about(monkeypatch, caplog):
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 1 << 20))

    def refuse(which: int, value: tuple[int, int]) -> None:
        raise ValueError("not allowed")

    monkeypatch.setattr(resource, "setrlimit", refuse)
    with caplog.at_level(logging.WARNING, logger=connections.log.name):
        assert ensure_descriptors(10_000) == 1024
    assert caplog.records[0].limit == 1024


@pytest.mark.parametrize("hard", [8192, resource.RLIM_INFINITY])
def test_descriptor_limit_short_of_the_need_is_warned_about(monkeypatch, caplog, hard):
    limits = {"now": (1024, hard)}
    monkeypatch.setattr(resource, "getrlimit", lambda which: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda which, value: limits.update(now=value))
    with caplog.at_level(logging.WARNING, logger=connections.log.name):
        soft = ensure_descriptors(10_000)
    if hard == resource.RLIM_INFINITY:
        assert soft == 10_000 + DESCRIPTOR_HEADROOM and not caplog.records
    else:
        assert soft == 8192 and caplog.records[0].limit == 8192


def test_this_process_can_hold_the_default_cap():
    # The real call: the soft limit ends where the hard one allows, and is never lowered.
    before, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        soft = ensure_descriptors(10_000)
        wanted = 10_000 + DESCRIPTOR_HEADROOM
        reachable = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        assert soft == max(before, reachable)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (before, hard))
