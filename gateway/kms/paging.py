"""Opaque pagination markers for the List operations (Limit / Marker / Truncated)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from gateway.errors import InvalidMarkerException

DEFAULT_LIMIT = 100
_PREFIX = "gw1:"


def encode_marker(last: str) -> str:
    return base64.urlsafe_b64encode((_PREFIX + last).encode()).decode()


def decode_marker(marker: str | None) -> str | None:
    if marker is None:
        return None
    try:
        text = base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if not text.startswith(_PREFIX) or len(text) == len(_PREFIX):
        raise InvalidMarkerException("Invalid marker")
    return text[len(_PREFIX) :]


def page(items: list[Any], limit: int, name_of: Any) -> tuple[list[Any], dict[str, Any]]:
    """Split one extra fetched item off into Truncated/NextMarker, as AWS pages look."""
    if len(items) > limit:
        items = items[:limit]
        return items, {"Truncated": True, "NextMarker": encode_marker(name_of(items[-1]))}
    return items, {"Truncated": False}
