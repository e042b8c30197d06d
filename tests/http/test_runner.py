"""The worker's runner serves POST / through the fast lane and the rest through the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.config import Settings
from gateway.http.app import create_app
from gateway.http.runner import start_runner


@pytest.fixture
async def served(tmp_path: Path, routed: list[str]) -> AsyncIterator[tuple[str, list[str]]]:
    """The URL of a worker's runner on 127.0.0.1, and the requests its app's router handled."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    runner = await start_runner(create_app(Settings(data_dir=data_dir)), Settings())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0]
    try:
        yield f"http://{host}:{port}", routed
    finally:
        await runner.cleanup()


async def test_post_root_reaches_the_endpoint_without_the_router(served):
    url, routed = served
    async with aiohttp.ClientSession() as session:
        async with session.post(url + "/", data=b"{}") as answer:
            assert answer.status == 400
            error = (await answer.json(content_type=None))["__type"]
            assert error == "MissingAuthenticationTokenException"
            assert answer.headers["x-amzn-RequestId"]
        async with session.get(url + "/healthz") as answer:
            assert answer.status == 200
    assert routed == ["GET /healthz"]
