"""Request validation and response shaping driven by botocore's official service models.

The wire contract is data: every type, constraint and member name comes from the model
botocore ships (``kms/2014-11-01/service-2.json`` and friends). Each operation's input
shape is compiled once, on first use, into a tree of closures that type-checks, converts
(base64 blobs to bytes, epoch timestamps to float) and validates in one pass.

Each input shape also gets a fast converter for the common case, a value that passes every
check (``shape_fastpath``): it returns exactly what these reference converters would, or
gives up and the request takes the reference path, which finds and words the errors.
Responses are shaped by one generated function per structure.

Error behaviour follows AWS JSON 1.1 services (Coral): a value of the wrong JSON type is a
SerializationException raised at once (type errors win over constraint errors); constraint
violations are collected and reported together as one ValidationException:
``"2 validation errors detected: Value 'x' at 'keyId' failed to satisfy constraint: ...;
Value null at 'plaintext' failed to satisfy constraint: Member must not be null"``.
Values of sensitive shapes and blobs are never echoed.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.loaders import Loader
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from gateway.errors import SerializationException, UnknownOperationException, ValidationException
from gateway.protocol.shape_fastpath import FastConv, FastInputs, InConv, Unusual, generate
from gateway.protocol.shape_rules import INT32, INT64, built_once, string_rules

# value -> wire value; None means "pass the value through unchanged".
_OutConv = Callable[[Any], Any] | None

# Texts AWS JSON 1.1 services answer for values of the wrong JSON type.
_UNEXPECTED_MAP = "Start of structure or map found where not expected."
_UNEXPECTED_LIST = "Start of list found where not expected"


def _wrong_type(value: Any, target: str) -> SerializationException:
    """The SerializationException AWS gives for ``value`` where ``target`` is expected."""
    kind = type(value)
    if kind is dict:
        return SerializationException(_UNEXPECTED_MAP)
    if kind is list:
        return SerializationException(_UNEXPECTED_LIST)
    if kind is str:
        return SerializationException(f"STRING_VALUE can not be converted to {target}")
    if kind is bool:
        token = "TRUE_VALUE" if value else "FALSE_VALUE"
        return SerializationException(f"{token} can not be converted to {target}")
    return SerializationException(f"NUMBER_VALUE can not be converted to {target}")


def _failure(shown: str | None, path: str, constraint: str) -> str:
    if shown is None:
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    return f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"


def _check_bounds(
    measure: int,
    what: str,
    shown: str | None,
    path: str,
    lo: int | None,
    hi: int | None,
    errors: list[str],
) -> None:
    """A min/max constraint in AWS's words; ``what`` is "length" or "value"."""
    if hi is not None and measure > hi:
        errors.append(_failure(shown, path, f"Member must have {what} less than or equal to {hi}"))
    if lo is not None and measure < lo:
        errors.append(
            _failure(shown, path, f"Member must have {what} greater than or equal to {lo}")
        )


def _check_size(
    value: list[Any] | dict[str, Any],
    path: str,
    lo: int | None,
    hi: int | None,
    show: bool,
    errors: list[str],
) -> None:
    """A list's or map's min/max constraint (the value is rendered only when it fails)."""
    size = len(value)
    if (hi is not None and size > hi) or (lo is not None and size < lo):
        shown = _render(value) if show else None
        _check_bounds(size, "length", shown, path, lo, hi, errors)


def _null(path: str) -> str:
    return f"Value null at '{path}' failed to satisfy constraint: Member must not be null"


def _render(value: Any) -> str | None:
    """Java-style rendering of a value for a message, or None when it must not be shown."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    if kind is list:
        parts = [_render(v) for v in value]
        if any(p is None for p in parts):
            return None
        return "[" + ", ".join(p for p in parts if p is not None) + "]"
    if kind is dict:
        items = [(_render(k), _render(v)) for k, v in value.items()]
        if any(k is None or v is None for k, v in items):
            return None
        return "{" + ", ".join(f"{k}={v}" for k, v in items) + "}"
    return None


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


class _Compiler:
    """Builds converters per shape name, sharing them across operations."""

    def __init__(self) -> None:
        self._inputs: dict[str, InConv] = {}
        self._outputs: dict[str, _OutConv] = {}
        self._secret: dict[str, bool] = {}

    # --- sensitivity -------------------------------------------------------------------

    def is_secret(self, shape: Shape) -> bool:
        """True if a value of this shape may hold secret bytes: never show it."""
        known = self._secret.get(shape.name)
        if known is not None:
            return known
        self._secret[shape.name] = True  # cycles: assume the worst while computing
        kind = shape.type_name
        if shape.metadata.get("sensitive") or kind in ("blob", "structure"):
            result = True
        elif isinstance(shape, ListShape):
            result = self.is_secret(shape.member)
        elif isinstance(shape, MapShape):
            result = self.is_secret(shape.key) or self.is_secret(shape.value)
        else:
            result = False
        self._secret[shape.name] = result
        return result

    # --- input -------------------------------------------------------------------------

    def input(self, shape: Shape) -> InConv:
        return built_once(self._inputs, shape, self._build)

    def _build(self, shape: Shape) -> InConv:
        if isinstance(shape, StructureShape):
            return self._structure(shape)
        kind = shape.type_name
        if kind == "string":
            return self._string(shape)
        if kind == "blob":
            return self._blob(shape)
        if kind in ("integer", "long"):
            return self._integer(shape)
        if kind == "boolean":
            return _boolean
        if kind == "timestamp":
            return _timestamp
        if kind in ("float", "double"):
            return _number
        if isinstance(shape, ListShape):
            return self._list(shape)
        if isinstance(shape, MapShape):
            return self._map(shape)
        # Document and other free-form types: accepted as parsed.
        return lambda v, p, e: v

    def _structure(self, shape: StructureShape) -> InConv:
        required = set(shape.required_members)
        members = tuple(
            (
                member.serialization.get("name", name),
                name,
                _lower_first(name),
                self.input(member),
                name in required,
            )
            for name, member in shape.members.items()
        )

        def structure(value: Any, path: str, errors: list[str]) -> dict[str, Any]:
            if type(value) is not dict:
                if type(value) is list:
                    raise SerializationException(_UNEXPECTED_LIST)
                raise SerializationException("Expected null")
            out: dict[str, Any] = {}
            for wire, name, segment, conv, is_required in members:
                item = value.get(wire)
                if item is None:
                    # JSON null is the same as absent, as in AWS.
                    if is_required:
                        errors.append(_null(f"{path}.{segment}" if path else segment))
                    continue
                out[name] = conv(item, f"{path}.{segment}" if path else segment, errors)
            return out

        return structure

    def _string(self, shape: Shape) -> InConv:
        lo, hi, pattern, match, enum = string_rules(shape)
        allowed = frozenset(enum)
        enum_text = "[" + ", ".join(enum) + "]"
        show = not self.is_secret(shape)
        if lo is None and hi is None and match is None and not allowed:

            def plain_string(value: Any, path: str, errors: list[str]) -> str:
                if type(value) is not str:
                    raise _wrong_type(value, "a String")
                return value

            return plain_string

        def string(value: Any, path: str, errors: list[str]) -> str:
            if type(value) is not str:
                raise _wrong_type(value, "a String")
            shown = value if show else None
            _check_bounds(len(value), "length", shown, path, lo, hi, errors)
            if match is not None and match(value) is None:
                errors.append(
                    _failure(
                        shown, path, f"Member must satisfy regular expression pattern: {pattern}"
                    )
                )
            if allowed and value not in allowed:
                errors.append(
                    _failure(shown, path, f"Member must satisfy enum value set: {enum_text}")
                )
            return value

        return string

    def _blob(self, shape: Shape) -> InConv:
        lo: int | None = shape.metadata.get("min")
        hi: int | None = shape.metadata.get("max")

        def blob(value: Any, path: str, errors: list[str]) -> bytes:
            if type(value) is not str:
                raise _wrong_type(value, "a Blob")
            try:
                # What base64.b64decode(value, validate=True) does, without its wrapper.
                data = binascii.a2b_base64(value, strict_mode=True)
            except ValueError:  # binascii.Error included
                # Not base64 (or not ASCII); AWS answers with a bare SerializationException.
                raise SerializationException() from None
            # Blob bytes are never echoed, sensitive or not.
            _check_bounds(len(data), "length", None, path, lo, hi, errors)
            return data

        return blob

    def _integer(self, shape: Shape) -> InConv:
        lo: int | None = shape.metadata.get("min")
        hi: int | None = shape.metadata.get("max")
        target = "an Integer" if shape.type_name == "integer" else "a Long"
        floor, ceiling = INT32 if shape.type_name == "integer" else INT64
        show = not shape.metadata.get("sensitive")

        def integer(value: Any, path: str, errors: list[str]) -> int:
            if type(value) is not int:
                if type(value) is float:
                    # A fractional number for an integer member: no documented text.
                    raise SerializationException()
                raise _wrong_type(value, target)
            in_range = floor <= value <= ceiling
            if not in_range and lo is None and hi is None:
                raise SerializationException()
            # Out-of-range numbers are reported without their value, as AWS does.
            shown = str(value) if show and in_range else None
            _check_bounds(value, "value", shown, path, lo, hi, errors)
            return value

        return integer

    def _list(self, shape: ListShape) -> InConv:
        lo: int | None = shape.metadata.get("min")
        hi: int | None = shape.metadata.get("max")
        element = self.input(shape.member)
        show = not self.is_secret(shape)

        def list_(value: Any, path: str, errors: list[str]) -> list[Any]:
            if type(value) is not list:
                if type(value) is dict:
                    raise SerializationException(_UNEXPECTED_MAP)
                raise SerializationException("Expected list or null")
            out = []
            for index, item in enumerate(value, 1):
                where = f"{path}.{index}.member"
                if item is None:
                    errors.append(_null(where))
                    continue
                out.append(element(item, where, errors))
            _check_size(value, path, lo, hi, show, errors)
            return out

        return list_

    def _map(self, shape: MapShape) -> InConv:
        lo: int | None = shape.metadata.get("min")
        hi: int | None = shape.metadata.get("max")
        key_conv = self.input(shape.key)
        value_conv = self.input(shape.value)
        show = not self.is_secret(shape)

        def map_(value: Any, path: str, errors: list[str]) -> dict[str, Any]:
            if type(value) is not dict:
                if type(value) is list:
                    raise SerializationException(_UNEXPECTED_LIST)
                raise SerializationException("Expected map or null")
            out = {}
            for index, (key, item) in enumerate(value.items(), 1):
                key = key_conv(key, f"{path}.{index}.key", errors)
                if item is None:
                    errors.append(_null(f"{path}.{index}.value"))
                    continue
                out[key] = value_conv(item, f"{path}.{index}.value", errors)
            _check_size(value, path, lo, hi, show, errors)
            return out

        return map_

    # --- output ------------------------------------------------------------------------

    def output(self, shape: Shape) -> _OutConv:
        return built_once(self._outputs, shape, self._build_output)

    def _build_output(self, shape: Shape) -> _OutConv:
        conv: _OutConv
        if isinstance(shape, StructureShape):
            conv = self._out_structure(shape)
        elif isinstance(shape, ListShape):
            element = self.output(shape.member)
            conv = None if element is None else _out_list(element)
        elif isinstance(shape, MapShape):
            item = self.output(shape.value)
            conv = None if item is None else _out_map(item)
        elif shape.type_name == "blob":
            conv = _out_blob
        elif shape.type_name == "timestamp":
            conv = _out_timestamp
        else:
            conv = None
        return conv

    def _out_structure(self, shape: StructureShape) -> Callable[[Any], dict[str, Any]]:
        """One generated function: the result's members in its order, None and extras dropped.

        A name that is not a member matches no branch: it never leaks to the wire.
        """
        env: dict[str, Any] = {"_b2a": binascii.b2a_base64, "_out_blob": _out_blob}
        lines = [
            "def structure(value):",
            "    out = {}",
            "    for name, item in value.items():",
            "        if item is None:",
            "            continue",
        ]
        keyword = "if"
        for index, (name, member) in enumerate(shape.members.items()):
            wire = member.serialization.get("name", name)
            conv = self.output(member)
            if conv is None:
                converted = "item"
            elif conv is _out_blob:
                # The usual blob, bytes, without the call; _out_blob does the same.
                converted = (
                    "_b2a(item, newline=False).decode('ascii') "
                    "if type(item) is bytes else _out_blob(item)"
                )
            else:
                env[f"c{index}"] = conv
                converted = f"c{index}(item)"
            lines += [
                f"        {keyword} name == {name!r}:",
                f"            out[{wire!r}] = {converted}",
            ]
            keyword = "elif"
        lines.append("    return out")
        return generate("structure", lines, env, f"output {shape.name}")


def _boolean(value: Any, path: str, errors: list[str]) -> bool:
    if type(value) is not bool:
        raise _wrong_type(value, "a Boolean")
    return value


def _timestamp(value: Any, path: str, errors: list[str]) -> float:
    # JSON 1.1 sends timestamps as epoch seconds, possibly fractional.
    if type(value) is not int and type(value) is not float:
        raise _wrong_type(value, "a Date")
    return float(value)


def _number(value: Any, path: str, errors: list[str]) -> float:
    if type(value) is not int and type(value) is not float:
        raise _wrong_type(value, "a Double")
    return float(value)


def _out_blob(value: Any) -> Any:
    # A tuple, not a union: half the cost of the check.
    if isinstance(value, (bytes, bytearray, memoryview)):
        # What base64.b64encode does, without its wrapper.
        return binascii.b2a_base64(value, newline=False).decode("ascii")
    return value


def _out_timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        # Naive datetimes are taken as UTC, the only zone the services use.
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _out_list(element: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def list_(value: Any) -> list[Any]:
        return [element(v) for v in value if v is not None]

    return list_


def _out_map(item: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    def map_(value: Any) -> dict[str, Any]:
        return {k: item(v) for k, v in value.items() if v is not None}

    return map_


class ServiceShapes:
    """The input/output contract of one AWS JSON service, from botocore's model."""

    def __init__(self, service_name: str) -> None:
        model = Loader().load_service_model(service_name, "service-2")
        self.service_model = ServiceModel(model, service_name)
        self.target_prefix: str = self.service_model.metadata["targetPrefix"]
        self.operation_names: frozenset[str] = frozenset(self.service_model.operation_names)
        self._compiler = _Compiler()
        self._fast = FastInputs(self._compiler.input)
        self._inputs: dict[str, InConv | None] = {}
        self._fast_inputs: dict[str, FastConv] = {}
        self._outputs: dict[str, _OutConv] = {}

    def compile_all(self) -> None:
        """Compile every operation's converters now (e.g. at startup) instead of on first use."""
        for operation in self.operation_names:
            self._compile_input(operation)
            self._compile_output(operation)

    def _compile_input(self, operation: str) -> FastConv:
        if operation not in self.operation_names:
            raise UnknownOperationException()
        shape = self.service_model.operation_model(operation).input_shape
        fast: FastConv
        if shape is None:
            self._inputs[operation], fast = None, _empty
        else:
            self._inputs[operation] = self._compiler.input(shape)
            fast = self._fast.fast_input(shape)
        self._fast_inputs[operation] = fast
        return fast

    def parse_input(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Type-check, decode and validate ``params`` (a decoded JSON body).

        Returns a new dict with the model's PascalCase member names, blobs as ``bytes`` and
        timestamps as epoch floats; unknown members are dropped. Raises
        SerializationException (wrong JSON type, bad base64) or ValidationException (model
        constraints, all of them in one message).
        """
        fast = self._fast_inputs.get(operation)
        if fast is None:
            fast = self._compile_input(operation)
        try:
            return fast(params)
        except Unusual:
            pass  # leave the except block: errors raised below are not chained to it
        return self._parse_reference(operation, params)

    def _parse_reference(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """parse_input without the fast path: the one that finds and words every error."""
        if operation not in self._inputs:
            self._compile_input(operation)
        conv = self._inputs[operation]
        if conv is None:
            return {}
        errors: list[str] = []
        result: dict[str, Any] = conv(params, "", errors)
        if errors:
            count = len(errors)
            noun = "error" if count == 1 else "errors"
            raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(errors))
        return result

    def serialize_output(self, operation: str, result: dict[str, Any]) -> dict[str, Any]:
        """Shape a handler's result for the wire.

        Keeps only members of the output shape, drops None, base64-encodes bytes and turns
        datetimes into epoch seconds. Strings, numbers and enums pass through.
        """
        try:
            conv = self._outputs[operation]
        except KeyError:
            conv = self._compile_output(operation)
        if conv is None:
            return dict(result)
        out: dict[str, Any] = conv(result)
        return out

    def _compile_output(self, operation: str) -> _OutConv:
        if operation not in self.operation_names:
            raise UnknownOperationException() from None
        shape = self.service_model.operation_model(operation).output_shape
        conv = self._compiler.output(shape) if shape is not None else _empty
        self._outputs[operation] = conv
        return conv


def _empty(value: Any) -> dict[str, Any]:
    return {}
