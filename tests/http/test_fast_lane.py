"""The fast lane takes exactly ``POST /`` without ``Expect``; the app routes the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.http import fast_lane
from tests.http.lane_app import serving


async def _lane(request: web.BaseRequest) -> web.Response:
    return web.Response(text="lane:" + (await request.text()))


async def _routed(request: web.Request) -> web.Response:
    return web.Response(text="routed:" + (await request.text()))


@pytest.fixture
async def url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/", _routed)
    app.router.add_post("/other", _routed)
    async with serving(app, _lane) as port:
        yield f"http://127.0.0.1:{port}"


async def test_post_root_is_served_by_the_lane(url):
    async with aiohttp.ClientSession() as session, session.post(url + "/", data=b"x") as r:
        assert (r.status, await r.text()) == (200, "lane:x")


@pytest.mark.parametrize("path", ["/?a=b", "/other"])
async def test_any_other_target_goes_through_the_router(url, path):
    async with aiohttp.ClientSession() as session, session.post(url + path, data=b"x") as r:
        assert (r.status, await r.text()) == (200, "routed:x")


async def test_a_request_with_expect_gets_the_routers_100_continue(url):
    # Bounded: were the lane to take it, nobody would send the 100 and both sides would wait.
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.post(url + "/", data=b"x", expect100=True) as r,
    ):
        assert (r.status, await r.text()) == (200, "routed:x")


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/", 405), ("GET", "/x", 404)])
async def test_routes_the_app_lacks_get_its_answers(url, method, path, status):
    async with aiohttp.ClientSession() as session, session.request(method, url + path) as r:
        assert r.status == status


async def _passing(request: web.Request, handler: Handler) -> web.StreamResponse:
    return await handler(request)


async def test_an_app_with_middlewares_is_refused() -> None:
    # The lane would skip them for every POST /: refused at start, not silently skipped.
    app = web.Application(middlewares=[web.middleware(_passing)])
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert runner.server is not None
        with pytest.raises(RuntimeError, match="middlewares"):
            fast_lane.install(app, runner.server, _lane)
    finally:
        await runner.cleanup()
