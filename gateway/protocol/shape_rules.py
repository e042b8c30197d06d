"""The constraints of a botocore model shape, read once for the converters that check them,
and ``built_once``, the per-shape cache both converter families (reference and fast) use."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.model import Shape, StructureShape

C = TypeVar("C")

# The ranges of the model's integer and long types.
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def built_once(cache: dict[str, C], shape: Shape, build: Callable[[Shape], C]) -> C:
    """``build(shape)`` once per shape name, kept in ``cache``.

    While a structure's members are built, its name maps to a stub that forwards to the
    finished converter, so a recursive shape can refer to itself.
    """
    if shape.name in cache:  # a cached None means "nothing to convert"
        return cache[shape.name]
    if isinstance(shape, StructureShape):
        cell: list[Any] = []
        cache[shape.name] = lambda *args: cell[0](*args)  # type: ignore[assignment]
        cell.append(build(shape))
        built: C = cell[0]
    else:
        built = build(shape)
    cache[shape.name] = built
    return built


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
