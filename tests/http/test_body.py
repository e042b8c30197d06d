"""Reading a request body: whole at once when it has all arrived, else chunk by chunk; the
size limit holds either way, with or without a Content-Length to refuse it by."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_protocol import RequestPayloadError

from gateway.errors import (
    RequestEntityTooLargeException,
    RequestTimeoutException,
    SerializationException,
)
from gateway.http.endpoint import KmsEndpoint

LIMIT = 1024


def _endpoint(timeout: float = 10.0) -> KmsEndpoint:
    endpoint = object.__new__(KmsEndpoint)  # only the body's limits are needed here
    endpoint._max_body = LIMIT
    endpoint._body_timeout = timeout
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
    # Its first bytes are in, the rest not: refused on the declared length, nothing read.
    request = _request(b"{", eof=False, length=LIMIT + 1)
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


async def test_a_body_that_stops_arriving_times_out() -> None:
    request = _request(b'{"KeyId":', eof=False)
    with pytest.raises(RequestTimeoutException, match="within 0.05 seconds"):
        await _endpoint(timeout=0.05)._read_body(request)  # type: ignore[arg-type]


async def test_a_body_aiohttp_cannot_decode_is_a_serialization_error() -> None:
    request = _request(b"{", eof=False)
    request.content.set_exception(RequestPayloadError("bad chunk: b'secret'"))  # type: ignore[attr-defined]
    with pytest.raises(SerializationException) as excinfo:
        await _endpoint()._read_body(request)  # type: ignore[arg-type]
    assert "secret" not in excinfo.value.message  # aiohttp's text can quote the body


async def test_a_client_gone_mid_body_is_left_to_the_handler() -> None:
    request = _request(b"{", eof=False)
    request.content.set_exception(ConnectionResetError("Connection lost"))  # type: ignore[attr-defined]
    with pytest.raises(ConnectionResetError):
        await _endpoint()._read_body(request)  # type: ignore[arg-type]
