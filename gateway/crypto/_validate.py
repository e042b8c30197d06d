"""Type and length checks shared by the crypto wrappers, run before anything reaches C."""

from __future__ import annotations

from collections.abc import Iterable


def as_bytes(value: object, what: str) -> bytes:
    """Return ``value`` as ``bytes``; accepts any bytes-like object, rejects str and others."""
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        raise TypeError(f"{what} must be bytes-like, not str")
    try:
        return memoryview(value).tobytes()  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be bytes-like, not {type(value).__name__}") from None


def as_bytes_list(values: Iterable[object], what: str) -> list[bytes]:
    if isinstance(values, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"{what} must be a sequence of bytes-like items, not a single value")
    return [v if type(v) is bytes else as_bytes(v, what) for v in values]


def sized(value: object, size: int, what: str) -> bytes:
    """bytes of exactly ``size`` bytes; the message never includes the value."""
    data = as_bytes(value, what)
    if len(data) != size:
        raise ValueError(f"{what} must be {size} bytes, got {len(data)}")
    return data
