"""Opaque pagination markers for the List operations (Limit / Marker / Truncated)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from gateway.errors import InvalidMarkerException, ValidationException

_PREFIX = "gw1:"

# (default, largest) Limit per List operation, as each one's API reference states; the
# model's shared LimitType allows up to 1000 for all of them.
_LIMITS = {
    "ListKeys": (100, 1000),
    "ListKeyPolicies": (100, 1000),
    "ListAliases": (50, 100),
    "ListResourceTags": (50, 50),
    "ListKeyRotations": (100, 1000),
}


def limit_of(operation: str, req: dict[str, Any]) -> int:
    """The request's Limit, or the operation's default; ValidationException above its
    largest, in AWS's words for a constraint on a member."""
    default, largest = _LIMITS[operation]
    limit = req.get("Limit", default)
    if limit > largest:
        raise ValidationException(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
            f"constraint: Member must have value less than or equal to {largest}"
        )
    return int(limit)


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
