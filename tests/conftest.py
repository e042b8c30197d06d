"""Fixtures shared by the unit tests of several packages."""

from __future__ import annotations

import pytest
from aiohttp import web


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``"METHOD path"`` of every request aiohttp's application router handles from now on
    (in servers set up after this: each binds the app's handler when it is made)."""
    seen: list[str] = []
    handle = web.Application._handle

    async def counted(app: web.Application, request: web.Request) -> web.StreamResponse:
        seen.append(f"{request.method} {request.path}")
        return await handle(app, request)

    monkeypatch.setattr(web.Application, "_handle", counted)
    return seen
