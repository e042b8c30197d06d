"""Request targets that aiohttp parses but cannot turn into a request get a 400 and a close.

aiohttp builds its ``Request`` after the parser is done, and for an absolute-form target
whose host yarl cannot decode (``GET http://xn--/ HTTP/1.1``) that raises: aiohttp then
neither answers nor closes the connection, so a client could hold every file descriptor
with one such line per connection. The server's request factory is wrapped: such a
request is built on a stand-in target instead, routed to an answer of 400 that closes the
connection. The client's target is not kept, so nothing logs its bytes.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from yarl import URL

log = logging.getLogger("gateway.request")

# What the request factory puts in place of a target it could not use (any method).
STAND_IN_PATH = "/.unusable-request-target"
_STAND_IN_URL = URL.build(path=STAND_IN_PATH, encoded=True)


def add_route(app: web.Application) -> None:
    app.router.add_route("*", STAND_IN_PATH, _refuse)


def guard(server: web.Server) -> None:
    """Wrap ``server``'s request factory (before the site starts: connections copy it)."""
    make = server.request_factory

    def request_factory(
        message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        try:
            return make(message, payload, protocol, writer, task)
        except Exception:  # yarl's UnicodeError from the IDNA codec, or anything else
            try:
                stand_in = message._replace(path=STAND_IN_PATH, url=_STAND_IN_URL)
                return make(stand_in, payload, protocol, writer, task)
            except Exception:
                protocol.force_close()  # never a connection left open unanswered
                raise

    server.request_factory = request_factory


async def _refuse(request: web.Request) -> web.Response:
    log.info("malformed HTTP request refused", extra={"error": "InvalidRequestTarget"})
    answer = web.Response(status=400, text="400: Bad Request (the request target is not valid)")
    answer.force_close()
    return answer
