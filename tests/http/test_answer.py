"""JsonAnswer on a real aiohttp server: the bytes it sends, and the same keep-alive and
``Connection`` header as aiohttp's own ``web.Response`` for every HTTP version."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from gateway.http.answer import JsonAnswer, as_response
from tests.http.lane_app import serving

BODY = b'{"KeyId":"k"}'
CONTENT_TYPE = "application/x-amz-json-1.1"


async def _lane(request: web.BaseRequest) -> web.StreamResponse:
    await request.read()
    status = int(request.headers.get("x-status", "200"))
    answer = JsonAnswer(status, BODY, CONTENT_TYPE, "req-1")
    if "x-close" in request.headers:
        answer.force_close()
    return as_response(answer)


async def _reference(request: web.Request) -> web.Response:
    # aiohttp's own answer, for the same request through the router (the path differs).
    await request.read()
    response = web.Response(body=BODY, headers={"Content-Type": CONTENT_TYPE})
    if "x-close" in request.headers:
        response.force_close()
    return response


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_post("/reference", _reference)
    async with serving(app, _lane) as bound:
        yield bound


class _Reply:
    def __init__(self, status_line: str, headers: dict[str, str], body: bytes) -> None:
        self.status_line, self.headers, self.body = status_line, headers, body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> _Reply:
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")[:-2]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"header sent twice: {name}"
        headers[name.lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    return _Reply(lines[0], headers, body)


def _request(version: str, path: str = "/", extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/{version}\r\nHost: x\r\nContent-Length: 2\r\n{extra}\r\n{{}}"
    ).encode()


async def _closed_after(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bool:
    """True if the server closed the connection; False if it answers a second request."""
    try:
        writer.write(request)
        first = await asyncio.wait_for(reader.read(1), 10)
    except ConnectionError:
        return True
    return first == b""


async def test_an_answer_carries_its_status_headers_and_body(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        reply = await _exchange(reader, writer, _request("1.1"))
        assert reply.status_line == "HTTP/1.1 200 OK"
        assert reply.body == BODY
        assert reply.headers["content-type"] == CONTENT_TYPE
        assert reply.headers["content-length"] == str(len(BODY))
        assert reply.headers["x-amzn-requestid"] == "req-1"
        assert email.utils.parsedate_to_datetime(reply.headers["date"]).tzname() == "UTC"
        assert "connection" not in reply.headers  # HTTP/1.1 keeps the connection
        # ... and the connection serves the next request.
        again = await _exchange(reader, writer, _request("1.1"))
        assert again.body == BODY
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("status", "line"),
    [(400, "HTTP/1.1 400 Bad Request"), (413, "HTTP/1.1 413 Request Entity Too Large")],
)
async def test_error_statuses_have_their_reason_phrases(port, status, line):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        reply = await _exchange(reader, writer, _request("1.1", extra=f"x-status: {status}\r\n"))
        assert reply.status_line == line
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("version", "extra"),
    [
        ("1.1", ""),
        ("1.1", "Connection: close\r\n"),
        ("1.1", "x-close: 1\r\n"),
        ("1.0", ""),
        ("1.0", "Connection: keep-alive\r\n"),
        ("1.0", "Connection: keep-alive\r\nx-close: 1\r\n"),
    ],
)
async def test_keep_alive_and_connection_header_match_aiohttps_response(port, version, extra):
    outcomes = []
    for path in ("/", "/reference"):  # the lane's JsonAnswer, then aiohttp's web.Response
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            request = _request(version, path, extra)
            reply = await _exchange(reader, writer, request)
            assert reply.body == BODY
            closed = await _closed_after(reader, writer, request)
            outcomes.append((reply.status_line, reply.headers.get("connection"), closed))
        finally:
            writer.close()
    assert outcomes[0] == outcomes[1]
