"""The bare ceiling answers an Encrypt-shaped request, through the router or the fast lane."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from loadtest import bare_server


@pytest.mark.parametrize(("lane", "routed_posts"), [(False, 1), (True, 0)])
async def test_post_root_takes_the_lane_only_when_asked(monkeypatch, lane, routed_posts):
    routed: list[str] = []
    handle = web.Application._handle

    async def counted(app: web.Application, request: web.Request) -> web.StreamResponse:
        routed.append(request.method)
        return await handle(app, request)

    monkeypatch.setattr(web.Application, "_handle", counted)  # before the server binds it
    runner = await bare_server.start(0, False, lane)
    host, port = runner.addresses[0]
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://{host}:{port}/", data=b'{"KeyId": "k"}') as answer,
        ):
            assert answer.status == 200
            body = await answer.json(content_type=None)
    finally:
        await runner.cleanup()
    assert body["KeyId"] == "k" and body["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert routed.count("POST") == routed_posts
