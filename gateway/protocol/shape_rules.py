"""The constraints of a botocore model shape, read once for the converters that check them."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from botocore.model import Shape

# The ranges of the model's integer and long types.
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def compile_pattern(pattern: str) -> Callable[[str], Any] | None:
    """A full-match function for a model pattern (Java regex syntax), or None.

    Python's ``re`` covers the KMS patterns; ACM's tag patterns use ``\\p{L}`` classes,
    which need the ``regex`` package. Without it that one check is skipped rather than
    applied wrongly.
    """
    try:
        return re.compile(pattern).fullmatch
    except re.error:
        pass
    try:
        import regex  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:
        return regex.compile(pattern).fullmatch
    except regex.error:
        return None


def string_rules(
    shape: Shape,
) -> tuple[int | None, int | None, str | None, Callable[[str], Any] | None, list[str]]:
    """A string shape's min, max, pattern, compiled pattern and enum values."""
    meta = shape.metadata
    pattern: str | None = meta.get("pattern")
    match = compile_pattern(pattern) if pattern else None
    return meta.get("min"), meta.get("max"), pattern, match, getattr(shape, "enum", None) or []


def is_plain_string(shape: Shape) -> bool:
    """True for a string shape without constraints: any string passes as it is."""
    if shape.type_name != "string":
        return False
    lo, hi, _, match, enum = string_rules(shape)
    return lo is None and hi is None and match is None and not enum


def size_range(shape: Shape) -> tuple[int, int]:
    """A list's or map's min/max with the absent ones made harmless."""
    lo: int | None = shape.metadata.get("min")
    hi: int | None = shape.metadata.get("max")
    return (0 if lo is None else lo), (sys.maxsize if hi is None else hi)
