"""What the malformed-request filter rewrites, and what it leaves alone."""

from __future__ import annotations

import logging
import sys

from gateway.logs import MalformedRequestFilter

# A function named like aiohttp's, defined in a namespace named like its module: the
# filter recognises the parser's failures by the frame they were raised through.
_PARSING = {"__name__": "aiohttp.web_protocol"}
exec(  # noqa: S102 - a fixed test fixture
    "def data_received(data):\n    return data[len(data)]\n", _PARSING
)


def _record(exc: BaseException, logger: str = "asyncio") -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord(logger, logging.ERROR, __file__, 1, "Fatal error", (), exc_info)


def _raised_by_parser(data: object) -> logging.LogRecord:
    try:
        _PARSING["data_received"](data)
    except Exception:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "asyncio", logging.ERROR, __file__, 1, "Fatal error on transport %s", ("t",), exc_info
    )


def test_an_exception_out_of_the_parser_keeps_only_its_kind():
    record = _raised_by_parser(b"GET http://[::1]@")  # an IndexError, as yarl raises it
    MalformedRequestFilter().filter(record)  # kept if the root logger shows INFO
    assert record.getMessage() == "malformed HTTP request refused"
    assert (record.levelname, record.error, record.exc_info) == ("INFO", "IndexError", None)


def test_other_errors_are_left_as_they_are():
    record = _record(IndexError("ours"))
    assert MalformedRequestFilter().filter(record) is True
    assert record.getMessage() == "Fatal error" and record.exc_info is not None
    plain = logging.LogRecord("asyncio", logging.WARNING, __file__, 1, "slow", (), None)
    assert MalformedRequestFilter().filter(plain) is True and plain.getMessage() == "slow"
