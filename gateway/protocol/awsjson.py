"""AWS JSON 1.1 body codec: one decode per request, one place that renders errors.

Decoding failures become SerializationException without any parser text: AWS answers a
body it cannot parse with a bare ``{"__type": "SerializationException"}``.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import AwsError, SerializationException

CONTENT_TYPE = "application/x-amz-json-1.1"

# Measured against AWS JSON 1.1 services: a JSON array where an object is expected.
UNEXPECTED_LIST = "Start of list found where not expected"


def decode_body(body: bytes) -> dict[str, Any]:
    """Parse a request body into a dict; an empty body is an empty input."""
    if not body:
        # The SDKs always send at least "{}", but hand-written clients post nothing for
        # operations without required input, and there is nothing to misread in that.
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        # Invalid JSON and invalid UTF-8 alike; AWS gives no message here.
        raise SerializationException() from None
    if type(value) is dict:
        return value
    if type(value) is list:
        raise SerializationException(UNEXPECTED_LIST)
    raise SerializationException()


def encode_body(obj: dict[str, Any]) -> bytes:
    """Serialise a response body (already in wire form: blobs base64, times epoch)."""
    return orjson.dumps(obj)


def encode_error(err: AwsError) -> bytes:
    """The JSON 1.1 error body: ``__type`` and, when there is one, ``message``.

    KMS writes ``message`` in lower case; botocore reads either spelling. An error without a
    message is sent without the member, as AWS does.
    """
    if not err.message:
        return orjson.dumps({"__type": err.code})
    try:
        return orjson.dumps({"__type": err.code, "message": err.message})
    except TypeError:
        # A message quoting header bytes that were not UTF-8 (aiohttp decodes them to lone
        # surrogates, which JSON cannot carry): quote them as U+FFFD instead.
        text = "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in err.message)
        return orjson.dumps({"__type": err.code, "message": text})
