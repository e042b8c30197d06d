"""The fast path of ServiceShapes against its reference path, and the generated output code.

parse_input first tries the fast converters and falls back to the reference converters on
anything unusual; the reference converters are the ones every error text comes from. These
tests check, on random and broken inputs derived from the models, that parse_input answers
exactly as the reference path alone does (same value, same types and order, or the same
error with the same text), and that serialize_output answers as a plain walk over the model
with ``base64.b64encode`` does (the code it replaced).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import re
import string
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from botocore.model import ServiceModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import (
    AwsError,
    SerializationException,
    UnknownOperationException,
    ValidationException,
)
from gateway.protocol.awsjson import encode_body
from gateway.protocol.shape_fastpath import FastInputs, Unusual
from gateway.protocol.shapes import ServiceShapes, _Compiler

KMS = ServiceShapes("kms")
ACM = ServiceShapes("acm")
HOT = ["Encrypt", "Decrypt", "GenerateDataKey", "Sign", "Verify", "ReEncrypt", "GenerateMac"]
ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def typed(value: Any) -> Any:
    """``value`` with every type and every dict's order made part of equality."""
    if type(value) is dict:
        return ("dict", tuple((typed(k), typed(v)) for k, v in value.items()))
    if type(value) is list:
        return ("list", tuple(typed(v) for v in value))
    return (type(value).__name__, value)


def outcome(call: Callable[[], Any]) -> Any:
    """What a call answers: its value, or its error's type and text."""
    try:
        return ("ok", typed(call()))
    except AwsError as err:
        return (err.code, err.message)
    except Exception as err:  # e.g. OverflowError from float(10**400): both paths alike
        return (type(err).__name__, str(err))


def assert_same_as_reference(shapes: ServiceShapes, operation: str, params: Any) -> None:
    assert outcome(lambda: shapes.parse_input(operation, params)) == outcome(
        lambda: shapes._parse_reference(operation, params)
    )


# --- values from the model -----------------------------------------------------------------
#
# A request is drawn valid member by member, and each value is replaced by a broken one (a
# near miss at a limit, bad base64, a wrong JSON type, a null) one time in eight, at any
# depth: most requests are valid or broken in one place, the cases the fast path must get
# exactly right.

# Values of every JSON type, for wrong types and unknown members; cheap to draw.
_ANY_JSON = st.sampled_from(
    [None, True, False, 0, -1, 2**31, 2**64, 1.5, -0.0, "", "x", "é", [], [None], ["x"], [1]]
    + [{}, {"a": None}, {"a": "b"}, {"KeyId": "k"}, [{"TagKey": "a", "TagValue": "b"}]]
)
# Characters that base64 and its near misses are made of.
_B64_CHARS = string.ascii_letters + string.digits + "+/=" + "-_ \n!é"
_LIMITS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


def _bounds(shape: Shape, lo: int = 0, hi: int = 2**63) -> tuple[int, int]:
    meta = shape.metadata
    return meta.get("min", lo), meta.get("max", hi)


def _sizes(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Sizes within [lo, hi]: small ones, and the edges one time in eight."""
    edges = st.sampled_from([lo, hi] if hi <= 10_000 else [lo])
    return _one_in_eight(edges, st.integers(lo, min(hi, lo + 40)))


def _past(lo: int, hi: int) -> list[int]:
    """Sizes just outside [lo, hi]."""
    return [n for n in (lo - 1, hi + 1) if 0 <= n <= 10_001]


def _valid(shape: Any, depth: int) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, depth)
    if kind == "list":
        element = values(shape.member, depth + 1)
        return _sizes(*_bounds(shape, hi=5)).flatmap(
            lambda n: st.lists(element, min_size=n, max_size=n)
        )
    if kind == "map":
        lo, hi = _bounds(shape, hi=4)
        keys = _valid(shape.key, depth + 1)
        return st.dictionaries(keys, values(shape.value, depth + 1), min_size=lo, max_size=hi)
    if kind == "string":
        enum = getattr(shape, "enum", None)
        if enum:
            return st.sampled_from(enum)
        lo, hi = _bounds(shape)
        pattern = shape.metadata.get("pattern")
        if pattern:
            try:
                matching = st.from_regex(re.compile(pattern), fullmatch=True)
            except re.error:  # ACM's \p{L}: no generator here, text will do
                pass
            else:
                return matching.filter(lambda v: lo <= len(v) <= hi)
        return st.text(min_size=lo, max_size=min(hi, 20)) | _sizes(lo, hi).map("k".__mul__)
    if kind == "blob":
        sizes = _sizes(*_bounds(shape, hi=64))
        return sizes.flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(b64)
    if kind in ("integer", "long"):
        lo, hi = _bounds(shape, *_LIMITS[kind])
        return st.sampled_from([lo, hi]) | st.integers(lo, hi)
    if kind == "boolean":
        return st.booleans()
    if kind in ("timestamp", "float", "double"):
        return st.integers(0, 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    return _ANY_JSON


def _broken(shape: Any, depth: int) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    wrong = _ANY_JSON
    if kind == "string":
        lo, hi = _bounds(shape)
        wrong |= st.sampled_from(_past(lo, hi) or [0]).map("k".__mul__) | st.text(max_size=6)
    elif kind == "blob":
        lo, hi = _bounds(shape, hi=64)
        past = st.sampled_from(_past(lo, hi) or [0])
        text = _valid(shape, 0).flatmap(
            lambda s: st.tuples(
                st.integers(0, len(s)), st.text(_B64_CHARS, min_size=1, max_size=3)
            ).map(lambda cut: s[: cut[0]] + cut[1] + s[cut[0] :])
        )
        wrong |= past.flatmap(lambda n: st.binary(min_size=n, max_size=n)).map(b64) | text
        wrong |= st.text(_B64_CHARS, max_size=12)
    elif kind in ("integer", "long"):
        lo, hi = _bounds(shape, *_LIMITS[kind])
        edges = [lo, hi, *_LIMITS["integer"], *_LIMITS["long"]]
        wrong |= st.sampled_from([e + d for e in edges for d in (-1, 0, 1)]) | st.floats(-9, 9)
    elif kind in ("timestamp", "float", "double"):
        wrong |= st.just(10**400)  # float() overflows: both paths must fail alike
    elif kind == "list":
        lo, hi = _bounds(shape, hi=5)
        element = _valid(shape.member, depth + 1)
        past = st.sampled_from(_past(lo, hi) or [0])
        return past.flatmap(lambda n: st.lists(element, min_size=n, max_size=n)) | wrong
    elif kind == "map":
        # Keys JSON cannot have, but a caller in Python can.
        odd = st.dictionaries(
            st.sampled_from([1, None, True, b"k"]), st.text(max_size=3), min_size=1, max_size=2
        )
        return odd | wrong
    return wrong


def _structure(shape: Any, depth: int) -> st.SearchStrategy[Any]:
    members = list(shape.members.items())
    if depth > 3 or not members:
        return st.fixed_dictionaries({})
    required = set(shape.required_members)
    fields = {
        member.serialization.get("name", name): (
            _one_in_eight(st.just(_ABSENT), values(member, depth + 1))
            if name in required
            else st.one_of(values(member, depth + 1), st.just(_ABSENT), st.just(None))
        )
        for name, member in members
    }
    unknown = st.dictionaries(st.text(max_size=6), _ANY_JSON, max_size=1)
    return st.tuples(st.fixed_dictionaries(fields), unknown, st.randoms()).map(_assemble)


_ABSENT = object()


def _assemble(parts: tuple[dict[str, Any], dict[str, Any], Any]) -> dict[str, Any]:
    known, unknown, rng = parts
    items = [(k, v) for k, v in known.items() if v is not _ABSENT]
    items += [(k, v) for k, v in unknown.items() if k not in known]
    rng.shuffle(items)  # the order of the input must not matter
    return dict(items)


def _one_in_eight(rare: st.SearchStrategy[Any], usual: st.SearchStrategy[Any]) -> Any:
    return st.integers(0, 7).flatmap(lambda n: rare if n == 0 else usual)


@functools.cache
def values(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for ``shape``: valid ones, and broken ones one time in eight."""
    return _one_in_eight(_broken(shape, depth), _valid(shape, depth))


def requests(shapes: ServiceShapes, operations: list[str]) -> st.SearchStrategy[Any]:
    def for_operation(operation: str) -> st.SearchStrategy[Any]:
        shape = shapes.service_model.operation_model(operation).input_shape
        params = st.fixed_dictionaries({}) if shape is None else values(shape)
        return st.tuples(st.just(operation), params)

    return st.sampled_from(operations).flatmap(for_operation)


# --- parse_input: fast path against reference path ----------------------------------------


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests(KMS, HOT))
def test_hot_operations_answer_as_the_reference_path(request: tuple[str, Any]) -> None:
    assert_same_as_reference(KMS, *request)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests(KMS, sorted(KMS.operation_names)))
def test_every_kms_operation_answers_as_the_reference_path(request: tuple[str, Any]) -> None:
    assert_same_as_reference(KMS, *request)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests(ACM, sorted(ACM.operation_names)))
def test_every_acm_operation_answers_as_the_reference_path(request: tuple[str, Any]) -> None:
    assert_same_as_reference(ACM, *request)


# Kinds and corners the KMS and ACM inputs do not have (yet): unbounded and one-sided
# integers, numbers and timestamps in lists, maps with constrained keys, a recursive
# structure, wire names that differ from member names, two members on one wire name.
SYNTHETIC = ServiceModel(
    {
        "metadata": {"protocol": "json", "targetPrefix": "Test", "apiVersion": "2020-01-01"},
        "operations": {},
        "shapes": {
            "Input": {
                "type": "structure",
                "required": ["Int", "Node"],
                "members": {
                    "Int": {"shape": "Int"},
                    "Long": {"shape": "Long"},
                    "Floor": {"shape": "Floor"},
                    "Ceiling": {"shape": "Ceiling"},
                    "Doubles": {"shape": "Doubles"},
                    "Times": {"shape": "Times"},
                    "ByEnum": {"shape": "ByEnum"},
                    "Renamed": {"shape": "Bool", "locationName": "wire"},
                    "Node": {"shape": "Node"},
                    "Blobs": {"shape": "Blobs"},
                },
            },
            "Twins": {
                "type": "structure",
                "required": ["B"],
                "members": {
                    "A": {"shape": "Int", "locationName": "Same"},
                    "B": {"shape": "Int", "locationName": "Same"},
                    "C": {"shape": "Bool"},
                },
            },
            "Node": {
                "type": "structure",
                "members": {"Next": {"shape": "Node"}, "Value": {"shape": "Enum"}},
            },
            "Int": {"type": "integer"},
            "Long": {"type": "long"},
            "Floor": {"type": "integer", "min": 5},
            "Ceiling": {"type": "long", "max": -5},
            "Bool": {"type": "boolean"},
            "Double": {"type": "double"},
            "Doubles": {"type": "list", "member": {"shape": "Double"}, "max": 3},
            "Time": {"type": "timestamp"},
            "Times": {"type": "list", "member": {"shape": "Time"}, "min": 1},
            "Enum": {"type": "string", "enum": ["A", "B"]},
            "Blob": {"type": "blob"},
            "Blobs": {"type": "list", "member": {"shape": "Blob"}},
            "ByEnum": {"type": "map", "key": {"shape": "Enum"}, "value": {"shape": "Long"}},
        },
    },
    "test",
)
SYNTHETIC_SHAPES = {name: SYNTHETIC.shape_for(name) for name in ("Input", "Twins")}
SYNTHETIC_COMPILER = _Compiler()
SYNTHETIC_FAST = FastInputs(SYNTHETIC_COMPILER.input)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(sorted(SYNTHETIC_SHAPES)).flatmap(
        lambda name: st.tuples(st.just(name), values(SYNTHETIC_SHAPES[name]))
    )
)
def test_uncommon_kinds_answer_as_the_reference_converters(case: tuple[str, Any]) -> None:
    name, params = case
    shape = SYNTHETIC_SHAPES[name]
    reference = SYNTHETIC_COMPILER.input(shape)
    fast = SYNTHETIC_FAST.fast_input(shape)

    def by_reference() -> Any:
        errors: list[str] = []
        out = reference(params, "", errors)
        if errors:
            raise ValidationException("; ".join(errors))
        return out

    got = outcome(lambda: fast(params))
    if got[0] != "Unusual":  # else the reference path takes it
        assert got == outcome(by_reference)


VALID: list[tuple[str, dict[str, Any]]] = [
    ("Encrypt", {"KeyId": ARN, "Plaintext": b64(b"p" * 32)}),
    (
        "Encrypt",
        {
            "KeyId": "alias/app",
            "Plaintext": b64(b"p" * 4096),
            "EncryptionContext": {"purpose": "test", "": ""},
            "GrantTokens": ["g" * 8192],
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "DryRun": False,
        },
    ),
    ("Decrypt", {"CiphertextBlob": b64(b"c" * 82), "EncryptionContext": {"a": "b"}}),
    ("Decrypt", {"CiphertextBlob": b64(b"c" * 6144), "KeyId": ARN, "DryRun": True}),
    ("GenerateDataKey", {"KeyId": ARN, "KeySpec": "AES_256"}),
    ("GenerateDataKey", {"KeyId": "k", "NumberOfBytes": 1024, "EncryptionContext": {}}),
    (
        "Sign",
        {
            "KeyId": ARN,
            "Message": b64(b"m" * 32),
            "MessageType": "DIGEST",
            "SigningAlgorithm": "ECDSA_SHA_256",
        },
    ),
    (
        "Verify",
        {
            "KeyId": ARN,
            "Message": b64(b"m"),
            "Signature": b64(b"s" * 71),
            "SigningAlgorithm": "ECDSA_SHA_256",
        },
    ),
    (
        "ReEncrypt",
        {
            "CiphertextBlob": b64(b"c" * 82),
            "DestinationKeyId": ARN,
            "SourceEncryptionContext": {"a": "b"},
            "DestinationEncryptionContext": {"a": "c"},
        },
    ),
    ("GenerateMac", {"KeyId": ARN, "Message": b64(b"m" * 64), "MacAlgorithm": "HMAC_SHA_256"}),
    ("CreateKey", {"Tags": [{"TagKey": "a", "TagValue": "b"}], "KeySpec": "HMAC_256"}),
    ("CreateAlias", {"AliasName": "alias/my-app_key:1", "TargetKeyId": "k"}),
    ("ListAliases", {"Limit": 1000, "Marker": "m"}),
    ("ListAliases", {}),
    ("ImportKeyMaterial", {"KeyId": "k", "ImportToken": "AA==", "EncryptedKeyMaterial": "AQ=="}),
]


@pytest.mark.parametrize(("operation", "params"), VALID)
def test_valid_requests_take_the_fast_path(operation: str, params: dict[str, Any]) -> None:
    shape = KMS.service_model.operation_model(operation).input_shape
    fast = KMS._fast.fast_input(shape)
    parsed = fast(params)  # raises Unusual if it would fall back
    assert typed(parsed) == typed(KMS._parse_reference(operation, params))
    assert list(parsed) == [name for name in shape.members if name in parsed]


def test_fast_path_copies_maps_and_lists() -> None:
    params = {"KeyId": "k", "Plaintext": "AA==", "EncryptionContext": {"a": "b"}}
    params["GrantTokens"] = ["t"]
    parsed = KMS.parse_input("Encrypt", params)
    assert parsed["EncryptionContext"] == {"a": "b"}
    assert parsed["EncryptionContext"] is not params["EncryptionContext"]
    assert parsed["GrantTokens"] is not params["GrantTokens"]


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        # Every key of the input is taken before the last required member is reached.
        ("Sign", {"KeyId": "k", "Message": "AA=="}),
        ("Verify", {"KeyId": "k", "Message": "AA==", "SigningAlgorithm": "ECDSA_SHA_256"}),
        ("Encrypt", {"KeyId": "k"}),
    ],
)
def test_missing_required_member_after_all_given_ones(
    operation: str, params: dict[str, Any]
) -> None:
    with pytest.raises(ValidationException) as exc:
        KMS.parse_input(operation, params)
    assert "Member must not be null" in exc.value.message
    assert_same_as_reference(KMS, operation, params)


@pytest.mark.parametrize(
    "params",
    [
        {"KeyId": "k", "Plaintext": "AA==", "EncryptionContext": {1: "a"}},
        {"KeyId": "k", "Plaintext": "AA==", "EncryptionContext": {"a": b"b"}},
        {"KeyId": "k", "Plaintext": b"AA=="},
        {"KeyId": "k", "Plaintext": "AA==", "GrantTokens": ("t",)},
        {"KeyId": "k", "Plaintext": "AA==", "DryRun": 1},
        {"KeyId": "k", "Plaintext": "AA==", "NumberOfBytes": True},
        {"KeyId": "k", "NumberOfBytes": 32.0},
        {"KeyId": "k", "NumberOfBytes": 2**31},
        {"KeyId": "k", "NumberOfBytes": 2**64},
    ],
)
def test_values_only_python_callers_send_answer_as_the_reference_path(
    params: dict[str, Any],
) -> None:
    for operation in ("Encrypt", "GenerateDataKey"):
        assert_same_as_reference(KMS, operation, params)


def _chain(err: BaseException | None) -> list[BaseException]:
    found = []
    while err is not None:
        found.append(err)
        err = err.__context__
    return found


def test_errors_from_the_reference_path_are_not_chained_to_the_fast_path() -> None:
    with pytest.raises(SerializationException) as exc:
        KMS.parse_input("Encrypt", {"KeyId": "k", "Plaintext": "!!!!"})
    assert exc.value.__suppress_context__  # the binascii.Error stays out of the logs
    assert not any(isinstance(err, Unusual) for err in _chain(exc.value))
    with pytest.raises(ValidationException) as exc2:
        KMS.parse_input("Encrypt", {"KeyId": ""})
    assert exc2.value.__context__ is None


def test_unknown_operation_either_way_before_anything_is_compiled() -> None:
    shapes = ServiceShapes("kms")
    with pytest.raises(UnknownOperationException) as exc:
        shapes.parse_input("Frobnicate", {})
    assert exc.value.__context__ is None
    with pytest.raises(UnknownOperationException):
        shapes.serialize_output("Frobnicate", {})


def test_fast_converters_refuse_null() -> None:
    for name in ("KeyIdType", "PlaintextType", "EncryptionContextType", "GrantTokenList"):
        with pytest.raises(Unusual):
            KMS._fast.fast_input(KMS.service_model.shape_for(name))(None)


# --- blobs: binascii in strict mode is base64.b64decode(validate=True) ---------------------


def _b64decode_outcome(text: str) -> Any:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "refused"


@settings(max_examples=1000, deadline=None)
@given(text=st.text(_B64_CHARS, max_size=14) | st.binary(max_size=12).map(b64))
def test_blob_accepts_exactly_what_b64decode_validate_accepts(text: str) -> None:
    expected = _b64decode_outcome(text)
    for operation, member in (("Decrypt", "CiphertextBlob"), ("Encrypt", "Plaintext")):
        params = {"KeyId": "k", member: text}
        got = outcome(functools.partial(KMS.parse_input, operation, params))
        if expected == "refused":
            assert got == ("SerializationException", "")
        elif expected:
            assert got[0] == "ok"
            assert dict(got[1][1])[("str", member)] == ("bytes", expected)
        else:  # b"" is below the minimum length of 1
            assert got[0] == "ValidationException"
        assert_same_as_reference(KMS, operation, params)


# --- serialize_output against the code it replaced ------------------------------------------


def _converts(shape: Any) -> bool:
    """False where the old compiled converter was None: the value passed through as it was."""
    kind = shape.type_name
    if kind in ("structure", "blob", "timestamp"):
        return True
    if kind == "list":
        return _converts(shape.member)
    if kind == "map":
        return _converts(shape.value)
    return False


def old_output(shape: Any, value: Any) -> Any:
    """The old output converters, as one walk over the model."""
    if not _converts(shape):
        return value
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, item in value.items():
            if item is None or name not in shape.members:
                continue
            member = shape.members[name]
            out[member.serialization.get("name", name)] = old_output(member, item)
        return out
    if kind == "list":
        return [old_output(shape.member, v) for v in value if v is not None]
    if kind == "map":
        return {k: old_output(shape.value, v) for k, v in value.items() if v is not None}
    if kind == "blob":
        if isinstance(value, bytes | bytearray | memoryview):
            return base64.b64encode(value).decode("ascii")
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


_OUTPUT_VALUES = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=20).map(bytearray),
    st.binary(max_size=20).map(lambda b: memoryview(b)),
    st.text(max_size=20),
    st.none(),
    st.integers(-5, 2**40),
    st.booleans(),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
)


def results(shapes: ServiceShapes, operations: list[str]) -> st.SearchStrategy[Any]:
    def for_operation(operation: str) -> st.SearchStrategy[Any]:
        shape = shapes.service_model.operation_model(operation).output_shape
        names = [] if shape is None else list(shape.members)
        keys = st.sampled_from(names + ["Internal"]) if names else st.just("Internal")
        result = st.dictionaries(keys, _OUTPUT_VALUES, max_size=len(names) + 1)
        return st.tuples(st.just(operation), result)

    return st.sampled_from(operations).flatmap(for_operation)


def _old_serialize(shapes: ServiceShapes, operation: str, result: dict[str, Any]) -> Any:
    shape = shapes.service_model.operation_model(operation).output_shape
    return {} if shape is None else old_output(shape, result)


@settings(max_examples=600, deadline=None)
@given(case=results(KMS, HOT) | results(KMS, sorted(KMS.operation_names)))
def test_serialize_output_answers_as_the_old_code(case: tuple[str, dict[str, Any]]) -> None:
    operation, result = case
    expected = outcome(lambda: _old_serialize(KMS, operation, result))
    assert outcome(lambda: KMS.serialize_output(operation, result)) == expected
    # Bytes where the model has no blob stay bytes, as before, and orjson refuses both alike.
    assert outcome(lambda: encode_body(KMS.serialize_output(operation, result))) == outcome(
        lambda: orjson.dumps(_old_serialize(KMS, operation, result))
    )


def test_serialize_output_nested_structures_lists_and_timestamps() -> None:
    created = dt.datetime(2025, 1, 1, 0, 0, 0, 500000)
    result = {
        "KeyMetadata": {
            "KeyId": "k",
            "CreationDate": created,
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT", None],
            "MultiRegionConfiguration": {
                "PrimaryKey": {"Arn": ARN, "Region": "eu-west-1", "Extra": 1},
                "ReplicaKeys": [{"Arn": ARN, "Region": "us-east-1"}, None],
            },
            "Secret": b"x",
        },
        "Extra": b"y",
    }
    assert typed(KMS.serialize_output("DescribeKey", result)) == typed(
        _old_serialize(KMS, "DescribeKey", result)
    )


@pytest.mark.parametrize("value", [b"\x00\xff" * 50, bytearray(b"ab"), memoryview(b"abc"), "AA=="])
def test_blob_output_is_b64encode(value: Any) -> None:
    out = KMS.serialize_output("Encrypt", {"CiphertextBlob": value})
    expected = value if isinstance(value, str) else base64.b64encode(value).decode()
    assert out == {"CiphertextBlob": expected}
