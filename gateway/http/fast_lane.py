"""``POST /`` straight to the KMS endpoint, ahead of aiohttp's router.

Every AWS JSON request is ``POST /``, and routing it through ``web.Application`` (the
router's resolve, the match info, the middleware chain, one more coroutine) costs about
6 µs of the ~40 µs a bare aiohttp handler takes per request on the reference machine
(BENCHMARKS.md, "The fast lane"). The lane takes the one route that matters before the
application sees it; everything else, including ``POST /`` with an ``Expect`` header (the
router's expect handler answers ``100 Continue``) and any other spelling of the target, goes
through the application as before, to the same endpoint where the route is the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def install(app: web.Application, server: web.Server, post_root: Handler) -> None:
    """Serve ``POST /`` on ``app``'s ``server`` with ``post_root`` (after the runner's
    setup, before the site starts: each connection copies the server's handler when it is
    made). Refused if ``app`` has middlewares or response-prepare handlers: the lane would
    skip them for nearly every request."""
    if app.middlewares or app.on_response_prepare:
        raise RuntimeError("the fast lane would skip this app's middlewares or signals")
    routed: Handler = server.request_handler

    # A plain function handing back the handler's awaitable: no coroutine of its own to
    # create, and to pass through on every resume of the request's task.
    def lane(request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        if (
            request.method == hdrs.METH_POST
            and request.raw_path == "/"
            and hdrs.EXPECT not in request.headers
        ):
            return post_root(request)
        return routed(request)

    server.request_handler = lane
