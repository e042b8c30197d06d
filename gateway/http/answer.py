"""The endpoint's JSON answer, written straight to aiohttp's stream writer.

``web.Response`` is general: it copies its headers into a ``CIMultiDict``, works out
chunking, compression, cookies and empty bodies, and runs the prepare signals, about a
dozen Python calls before one byte goes out. An AWS JSON answer needs none of that: a
status, four headers and a body whose length is known. ``JsonAnswer`` gives aiohttp's
request handler the three things it uses of a response (``prepare``, ``write_eof`` and
``keep_alive``) and hands the status line and headers to aiohttp's own serializer, which
refuses CR and LF in them as it does for every response (BENCHMARKS.md, "A lean answer").

Only for apps without ``on_response_prepare`` signals and middlewares, which the endpoint's
app has none of (the fast lane refuses such an app).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import cast

from aiohttp import HttpVersion10, HttpVersion11, web
from aiohttp.abc import AbstractStreamWriter

_REASONS = {status.value: status.phrase for status in HTTPStatus}


class _HttpDate:
    """The ``Date`` header's text, formatted once per second."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._text = formatdate(second, usegmt=True)
            self._second = second
        return self._text


_date = _HttpDate()


class JsonAnswer:
    """A complete answer: status, content type, request id and body, nothing streamed.

    Not a ``web.StreamResponse`` (its constructor and ``prepare()`` are the cost this class
    avoids); it has what aiohttp's request handler calls on a response, and ``status``,
    ``body`` and ``headers`` to read back.
    """

    __slots__ = ("status", "body", "_content_type", "_request_id", "_keep_alive", "_writer")

    def __init__(self, status: int, body: bytes, content_type: str, request_id: str) -> None:
        self.status = status
        self.body = body
        self._content_type = content_type
        self._request_id = request_id
        self._keep_alive: bool | None = None  # the request's own, unless closed before
        self._writer: AbstractStreamWriter | None = None

    @property
    def keep_alive(self) -> bool | None:
        return self._keep_alive

    def force_close(self) -> None:
        self._keep_alive = False

    @property
    def headers(self) -> dict[str, str]:
        """The headers as sent (the connection header depends on the request)."""
        return {
            "Content-Type": self._content_type,
            "Content-Length": str(len(self.body)),
            "x-amzn-RequestId": self._request_id,
            "Date": _date.now(),
        }

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self._writer is not None:
            return self._writer
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = self._keep_alive = request.keep_alive
        headers = self.headers
        version = request.version
        # As aiohttp does: HTTP/1.1 keeps a connection unless told, HTTP/1.0 closes it.
        if keep_alive:
            if version == HttpVersion10:
                headers["Connection"] = "keep-alive"
        elif version == HttpVersion11:
            headers["Connection"] = "close"
        writer = self._writer = request.writer
        reason = _REASONS.get(self.status, "Unknown")
        status_line = f"HTTP/{version[0]}.{version[1]} {self.status} {reason}"
        # Typed for a CIMultiDict; the serializer reads any mapping's items().
        await writer.write_headers(status_line, headers)  # type: ignore[arg-type]
        return writer

    async def write_eof(self, data: bytes = b"") -> None:
        writer = self._writer
        assert writer is not None, "write_eof() before prepare()"
        await writer.write_eof(self.body)


# aiohttp types a handler's result as a StreamResponse; of it, its request handler calls
# only what JsonAnswer has. These two casts are where that is said, once per handler.
def as_response(answer: JsonAnswer) -> web.StreamResponse:
    return cast(web.StreamResponse, answer)


def as_handler(
    handler: Callable[[web.BaseRequest], Awaitable[JsonAnswer]],
) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    return cast(Callable[[web.BaseRequest], Awaitable[web.StreamResponse]], handler)
