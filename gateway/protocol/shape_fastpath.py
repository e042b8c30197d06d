"""Generated converters: the request fast path, and the helpers that generate code.

A fast converter returns exactly what the reference converter (``shapes._Compiler.input``)
would return for a value when that one would return without a complaint; otherwise it
raises ``Unusual`` and the caller takes the reference path, which finds and words the
errors. Structures get one generated function each that tests and converts every member in
line: one ``value.get`` per member and the reference converter's checks as plain
conditions, without a call, loop step or path string per member. Names from the model only
ever appear as ``repr`` literals; bounds, enums and patterns are bound in the function's
namespace.
"""

from __future__ import annotations

import binascii
import functools
from collections.abc import Callable
from types import CodeType
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from gateway.protocol.shape_rules import (
    INT32,
    INT64,
    built_once,
    is_plain_string,
    size_range,
    string_rules,
)

# (value, path, errors) -> converted value, constraint failures appended to errors: the
# reference converters of shapes.py.
InConv = Callable[[Any, str, list[str]], Any]
# value -> converted value, or raises Unusual.
FastConv = Callable[[Any], Any]


class Unusual(Exception):
    """A fast converter met a value it cannot accept at once: take the reference path."""


def generate(name: str, lines: list[str], env: dict[str, Any], label: str) -> Any:
    """Define the function ``name`` from ``lines`` in the namespace ``env``."""
    env["Unusual"] = Unusual
    exec(_compiled("\n".join(lines), label), env)
    return env[name]


@functools.cache
def _compiled(source: str, label: str) -> CodeType:
    # Compiling is most of the cost of compile_all; the same model gives the same source
    # for every ServiceShapes in the process (one per app, and tests build many apps).
    return compile(source, f"<shapes {label}>", "exec")


def _indent(lines: list[str], spaces: int) -> list[str]:
    return [" " * spaces + line for line in lines]


def _bound_tests(
    measure: str, lo: int | None, hi: int | None, tag: str, env: dict[str, Any]
) -> list[str]:
    """The conditions under which ``measure`` breaks a min/max constraint, as source."""
    if lo is not None:
        env[f"{tag}_lo"] = lo
    if hi is not None:
        env[f"{tag}_hi"] = hi
    if lo is not None and hi is not None:
        return [f"not {tag}_lo <= {measure} <= {tag}_hi"]
    if lo is not None:
        return [f"{measure} < {tag}_lo"]
    if hi is not None:
        return [f"{measure} > {tag}_hi"]
    return []


def _raise_if(tests: list[str]) -> list[str]:
    return [f"if {' or '.join(tests)}:", "    raise Unusual"] if tests else []


class FastInputs:
    """Builds fast converters per shape name over the reference converters of ``reference``."""

    def __init__(self, reference: Callable[[Shape], InConv]) -> None:
        self._reference = reference
        self._fast_inputs: dict[str, FastConv] = {}

    def fast_input(self, shape: Shape) -> FastConv:
        return built_once(self._fast_inputs, shape, self._build)

    def _build(self, shape: Shape) -> FastConv:
        if isinstance(shape, StructureShape):
            return self._fast_structure(shape)
        env: dict[str, Any] = {}
        lines = self._inline(shape, "s", env)
        if lines is not None:
            source = ["def fast(item):", *_indent(lines, 4), "    return item"]
            return generate("fast", source, env, shape.name)
        if isinstance(shape, ListShape):
            return self._fast_list(shape)
        if isinstance(shape, MapShape):
            return self._fast_map(shape)
        return _via_reference(self._reference(shape))

    def _inline(self, shape: Shape, tag: str, env: dict[str, Any]) -> list[str] | None:
        """Source that accepts ``item`` of this shape or raises Unusual, converting in place.

        Each condition is one check of the reference converter, so ``item`` gets through
        exactly when that converter would neither raise nor record an error. None for the
        kinds that are not written in line.
        """
        kind = shape.type_name
        meta = shape.metadata
        if kind == "string":
            lo, hi, _, match, enum = string_rules(shape)
            tests = ["type(item) is not str"]
            if enum:
                env[f"{tag}_enum"] = frozenset(enum)
                tests.append(f"item not in {tag}_enum")
            tests += _bound_tests("len(item)", lo, hi, tag, env)
            if match is not None:
                env[f"{tag}_match"] = match
                tests.append(f"{tag}_match(item) is None")
            return _raise_if(tests)
        if kind == "blob":
            env["_a2b"] = binascii.a2b_base64
            return [
                *_raise_if(["type(item) is not str"]),
                "try:",
                "    item = _a2b(item, strict_mode=True)",
                "except ValueError:",
                "    raise Unusual from None",
                *_raise_if(_bound_tests("len(item)", meta.get("min"), meta.get("max"), tag, env)),
            ]
        if kind in ("integer", "long"):
            lo, hi = meta.get("min"), meta.get("max")
            if lo is None and hi is None:
                # Out of the type's range without a constraint: a SerializationException.
                lo, hi = INT32 if kind == "integer" else INT64
            return _raise_if(["type(item) is not int", *_bound_tests("item", lo, hi, tag, env)])
        if kind == "boolean":
            return _raise_if(["type(item) is not bool"])
        if (
            isinstance(shape, MapShape)
            and is_plain_string(shape.key)
            and is_plain_string(shape.value)
        ):
            # EncryptionContext: string to string, no call per entry.
            size = _bound_tests("len(item)", meta.get("min"), meta.get("max"), tag, env)
            return [
                *_raise_if(["type(item) is not dict", *size]),
                "for key, entry in item.items():",
                "    if type(key) is not str or type(entry) is not str:",
                "        raise Unusual",
                "item = item.copy()",
            ]
        return None

    def _fast_structure(self, shape: StructureShape) -> FastConv:
        members = shape.members
        required = set(shape.required_members)
        last_required = max((i for i, name in enumerate(members) if name in required), default=-1)
        wires = [member.serialization.get("name", name) for name, member in members.items()]
        # Once every key of the input is taken, the members left are all absent; that needs
        # one member per wire name.
        stop_early = len(set(wires)) == len(wires)
        env: dict[str, Any] = {}
        lines = [
            "def structure(value):",
            "    if type(value) is not dict:",
            "        raise Unusual",
            "    out = {}",
            "    size = len(value)",
        ]
        for index, ((name, member), wire) in enumerate(zip(members.items(), wires, strict=True)):
            tag = f"m{index}"
            body = self._inline(member, tag, env)
            if body is None:
                env[f"{tag}_fast"] = self.fast_input(member)
                body = [f"item = {tag}_fast(item)"]
            body.append(f"out[{name!r}] = item")
            if stop_early and last_required <= index < len(members) - 1:
                body += ["if len(out) == size:", "    return out"]
            lines.append(f"    item = value.get({wire!r})")
            if name in required:
                lines += ["    if item is None:", "        raise Unusual", *_indent(body, 4)]
            else:
                lines += ["    if item is not None:", *_indent(body, 8)]
        lines.append("    return out")
        return generate("structure", lines, env, shape.name)

    def _fast_list(self, shape: ListShape) -> FastConv:
        element = self.fast_input(shape.member)
        lo, hi = size_range(shape)

        def list_(value: Any) -> list[Any]:
            if type(value) is not list or not lo <= len(value) <= hi:
                raise Unusual
            return [element(item) for item in value]

        return list_

    def _fast_map(self, shape: MapShape) -> FastConv:
        lo, hi = size_range(shape)
        key_conv = self.fast_input(shape.key)
        value_conv = self.fast_input(shape.value)

        def map_(value: Any) -> dict[Any, Any]:
            if type(value) is not dict or not lo <= len(value) <= hi:
                raise Unusual
            return {key_conv(key): value_conv(item) for key, item in value.items()}

        return map_


def _via_reference(conv: InConv) -> FastConv:
    """A fast converter for the rare kinds: the reference one, any complaint means Unusual."""

    def fast(value: Any) -> Any:
        if value is None:
            raise Unusual
        errors: list[str] = []
        try:
            out = conv(value, "", errors)
        except Exception:
            raise Unusual from None  # the reference path raises it again, in its place
        if errors:
            raise Unusual
        return out

    return fast
