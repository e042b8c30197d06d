"""Structured JSON logs, one object per line. Callers pass only non-secret fields."""

from __future__ import annotations

import json
import logging
import sys
import time

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

# Attributes every LogRecord has; anything else was passed through ``extra=`` on purpose.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse at ERROR with the parser's exception, whose
    text quotes the raw bytes it stopped at: a header line, or a body with its plaintext.
    (A body that does not decode is logged again, as a RequestPayloadError, when aiohttp
    drains what the gateway did not read.) A request target that yarl fails on inside
    aiohttp's parser (``GET http://[::1]@``) escapes aiohttp altogether: the event loop
    closes the connection and logs the exception with a traceback. Such a record keeps
    only the exception's kind, at INFO: a client's mistake, not ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not (
            isinstance(exc, HttpProcessingError | RequestPayloadError) or _raised_parsing(exc)
        ):
            return True
        record.msg, record.args = "malformed HTTP request refused", ()
        record.exc_info, record.exc_text = None, None
        record.error = type(exc).__name__
        record.levelno, record.levelname = logging.INFO, "INFO"
        return logging.getLogger().isEnabledFor(logging.INFO)


def _raised_parsing(exc: BaseException) -> bool:
    """True if ``exc`` came out of aiohttp's ``data_received``: the parser, fed a client's
    bytes."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if (
            frame.f_code.co_name == "data_received"
            and frame.f_globals.get("__name__") == "aiohttp.web_protocol"
        ):
            return True
        tb = tb.tb_next
    return False


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's own access log would duplicate ours without the request id.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for name in ("aiohttp.server", "asyncio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MalformedRequestFilter) for f in logger.filters):
            logger.addFilter(MalformedRequestFilter())
