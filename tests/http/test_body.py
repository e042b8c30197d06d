"""Reading a request body: whole at once when it has all arrived, else chunk by chunk; the
size limit holds either way, with or without a Content-Length to refuse it by."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request

from gateway.errors import RequestEntityTooLargeException
from gateway.http.endpoint import KmsEndpoint

LIMIT = 1024


def _endpoint() -> KmsEndpoint:
    endpoint = object.__new__(KmsEndpoint)  # only the body limit is needed here
    endpoint._max_body = LIMIT
    return endpoint


def _request(*pieces: bytes, eof: bool, length: int | None = None) -> object:
    stream = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    for piece in pieces:
        stream.feed_data(piece)
    if eof:
        stream.feed_eof()
    headers = {} if length is None else {"Content-Length": str(length)}
    return make_mocked_request("POST", "/", headers=headers, payload=stream)


async def test_a_body_that_has_all_arrived_is_taken_whole() -> None:
    request = _request(b'{"KeyId":', b' "k"}', eof=True)
    assert _endpoint()._body_at_hand(request) == b'{"KeyId": "k"}'


async def test_an_arrived_body_over_the_limit_is_refused_without_a_length() -> None:
    # Chunked: no Content-Length to refuse it by up front, so the bytes themselves count.
    request = _request(b"{" + b" " * LIMIT + b"}", eof=True)
    with pytest.raises(RequestEntityTooLargeException):
        _endpoint()._body_at_hand(request)


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    request = _request(b"{}", eof=True, length=LIMIT + 1)
    with pytest.raises(RequestEntityTooLargeException):
        _endpoint()._body_at_hand(request)


async def test_a_body_still_arriving_is_read_in_chunks() -> None:
    endpoint = _endpoint()
    request = _request(b'{"KeyId":', eof=False)
    assert endpoint._body_at_hand(request) is None

    async def rest() -> None:
        request.content.feed_data(b' "k"}')  # type: ignore[attr-defined]
        request.content.feed_eof()  # type: ignore[attr-defined]

    feeding = asyncio.ensure_future(rest())
    assert await endpoint._read_body(request) == b'{"KeyId": "k"}'  # type: ignore[arg-type]
    await feeding


async def test_a_body_still_arriving_is_refused_once_over_the_limit() -> None:
    request = _request(b" " * (LIMIT // 2), eof=False)

    async def rest() -> None:
        request.content.feed_data(b" " * LIMIT)  # type: ignore[attr-defined]

    feeding = asyncio.ensure_future(rest())
    with pytest.raises(RequestEntityTooLargeException):
        await _endpoint()._read_body(request)  # type: ignore[arg-type]
    await feeding
