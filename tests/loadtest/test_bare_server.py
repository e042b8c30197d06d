"""The bare ceiling answers an Encrypt-shaped request, through the router or the fast lane."""

from __future__ import annotations

import aiohttp
import pytest

from loadtest import bare_server


@pytest.mark.parametrize(("lane", "routed_posts"), [(False, 1), (True, 0)])
async def test_post_root_takes_the_lane_only_when_asked(routed, lane, routed_posts):
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
    assert routed.count("POST /") == routed_posts
