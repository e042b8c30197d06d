"""Input validation and output shaping from botocore's service models."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from typing import Any

import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import SerializationException, UnknownOperationException, ValidationException
from gateway.protocol.awsjson import decode_body
from gateway.protocol.shapes import ServiceShapes

KMS = ServiceShapes("kms")
KMS_MODEL = ServiceModel(Loader().load_service_model("kms", "service-2"), "kms")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def validation_message(operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(ValidationException) as exc:
        KMS.parse_input(operation, params)
    return exc.value.message


def serialization_message(operation: str, params: dict[str, Any]) -> str:
    with pytest.raises(SerializationException) as exc:
        KMS.parse_input(operation, params)
    return exc.value.message


# --- the service ------------------------------------------------------------------------


def test_kms_metadata() -> None:
    assert KMS.target_prefix == "TrentService"
    assert {"Encrypt", "Decrypt", "GenerateDataKey", "CreateKey"} <= KMS.operation_names


def test_acm_loads_too() -> None:
    acm = ServiceShapes("acm")
    assert acm.target_prefix == "CertificateManager"
    arn = "arn:aws:acm:us-east-1:111122223333:certificate/1234"
    assert acm.parse_input("DescribeCertificate", {"CertificateArn": arn}) == {
        "CertificateArn": arn
    }


@pytest.mark.parametrize("service", ["kms", "acm"])
def test_every_operation_compiles(service: str) -> None:
    ServiceShapes(service).compile_all()


def test_unknown_operation() -> None:
    with pytest.raises(UnknownOperationException):
        KMS.parse_input("Frobnicate", {})


# --- valid input --------------------------------------------------------------------------


def test_encrypt_decodes_blob_and_keeps_member_names() -> None:
    params = {
        "KeyId": "alias/app",
        "Plaintext": b64(b"hello"),
        "EncryptionContext": {"purpose": "test"},
        "GrantTokens": ["t1"],
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "DryRun": False,
    }
    parsed = KMS.parse_input("Encrypt", params)
    assert parsed == {**params, "Plaintext": b"hello"}
    assert parsed is not params


def test_unknown_members_and_nulls_are_ignored() -> None:
    parsed = KMS.parse_input(
        "Decrypt", {"CiphertextBlob": b64(b"\x01\x02"), "Bogus": 1, "KeyId": None}
    )
    assert parsed == {"CiphertextBlob": b"\x01\x02"}


def test_generate_data_key() -> None:
    assert KMS.parse_input(
        "GenerateDataKey", {"KeyId": "k", "KeySpec": "AES_256", "NumberOfBytes": 32}
    ) == {"KeyId": "k", "KeySpec": "AES_256", "NumberOfBytes": 32}


def test_create_key_with_tags() -> None:
    params = {
        "Description": "d",
        "KeySpec": "ECC_NIST_P256",
        "KeyUsage": "SIGN_VERIFY",
        "Tags": [{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": ""}],
        "MultiRegion": False,
    }
    assert KMS.parse_input("CreateKey", params) == params


def test_operations_with_no_required_input_accept_empty() -> None:
    assert KMS.parse_input("ListAliases", {}) == {}
    assert KMS.parse_input("CreateKey", {}) == {}


def test_list_aliases_and_schedule_key_deletion() -> None:
    assert KMS.parse_input("ListAliases", {"Limit": 50, "Marker": "abc"}) == {
        "Limit": 50,
        "Marker": "abc",
    }
    assert KMS.parse_input("ScheduleKeyDeletion", {"KeyId": "k", "PendingWindowInDays": 7}) == {
        "KeyId": "k",
        "PendingWindowInDays": 7,
    }


def test_create_alias_pattern_accepts_valid_name() -> None:
    params = {"AliasName": "alias/my-app_key:1", "TargetKeyId": "k"}
    assert KMS.parse_input("CreateAlias", params) == params


def test_timestamp_input_becomes_float() -> None:
    parsed = KMS.parse_input(
        "ImportKeyMaterial",
        {
            "KeyId": "k",
            "ImportToken": b64(b"t"),
            "EncryptedKeyMaterial": b64(b"m"),
            "ValidTo": 1735689600,
        },
    )
    assert parsed["ValidTo"] == 1735689600.0 and type(parsed["ValidTo"]) is float


# --- constraint failures: exact texts ----------------------------------------------------


def test_missing_required_member() -> None:
    assert validation_message("ScheduleKeyDeletion", {}) == (
        "1 validation error detected: Value null at 'keyId' failed to satisfy "
        "constraint: Member must not be null"
    )


def test_string_too_long_and_too_short() -> None:
    long_id = "k" * 2049
    assert validation_message("DescribeKey", {"KeyId": long_id}) == (
        f"1 validation error detected: Value '{long_id}' at 'keyId' failed to satisfy "
        "constraint: Member must have length less than or equal to 2048"
    )
    assert validation_message("DescribeKey", {"KeyId": ""}) == (
        "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_integer_range() -> None:
    assert validation_message("GenerateRandom", {"NumberOfBytes": 1025}) == (
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024"
    )
    assert validation_message("GenerateRandom", {"NumberOfBytes": 0}) == (
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1"
    )


def test_integer_beyond_int32_is_reported_without_its_value() -> None:
    assert validation_message("GenerateRandom", {"NumberOfBytes": 99999999999}) == (
        "1 validation error detected: Value at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024"
    )


def test_enum() -> None:
    assert validation_message("GenerateDataKey", {"KeyId": "k", "KeySpec": "AES_512"}) == (
        "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy "
        "constraint: Member must satisfy enum value set: [AES_256, AES_128]"
    )


def test_pattern() -> None:
    assert validation_message("CreateAlias", {"AliasName": "alias/a b", "TargetKeyId": "k"}) == (
        "1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_list_length_and_nested_paths() -> None:
    tokens = ["t"] * 11
    assert validation_message(
        "Encrypt", {"KeyId": "k", "Plaintext": "AA==", "GrantTokens": tokens}
    ) == (
        "1 validation error detected: Value '[t, t, t, t, t, t, t, t, t, t, t]' at "
        "'grantTokens' failed to satisfy constraint: Member must have length less than or "
        "equal to 10"
    )
    message = validation_message("CreateKey", {"Tags": [{"TagKey": "a"}, {"TagValue": "b"}]})
    assert message == (
        "2 validation errors detected: "
        "Value null at 'tags.1.member.tagValue' failed to satisfy constraint: Member must "
        "not be null; "
        "Value null at 'tags.2.member.tagKey' failed to satisfy constraint: Member must not "
        "be null"
    )


def test_several_errors_are_counted_and_joined() -> None:
    message = validation_message("GenerateDataKey", {"KeySpec": "AES_512", "NumberOfBytes": 2000})
    assert message == (
        "3 validation errors detected: "
        "Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
        "Value '2000' at 'numberOfBytes' failed to satisfy constraint: Member must have "
        "value less than or equal to 1024; "
        "Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy "
        "enum value set: [AES_256, AES_128]"
    )


# --- secrets are never echoed -----------------------------------------------------------


def test_sensitive_blob_value_is_never_echoed() -> None:
    secret = b"TOP-SECRET-PLAINTEXT" * 250  # 5000 bytes, over the 4096 limit
    message = validation_message("Encrypt", {"KeyId": "k", "Plaintext": b64(secret)})
    assert message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )
    assert "TOP-SECRET" not in message and b64(secret)[:20] not in message


def test_sensitive_string_value_is_never_echoed() -> None:
    password = "hunter2!"  # noqa: S105 - test value
    message = validation_message(
        "UpdateCustomKeyStore", {"CustomKeyStoreId": "cks-1", "KeyStorePassword": password * 5}
    )
    assert password not in message
    assert "Value at 'keyStorePassword' failed to satisfy constraint" in message


def test_non_sensitive_blob_bytes_are_not_echoed_either() -> None:
    message = validation_message("Decrypt", {"CiphertextBlob": b64(b"C" * 6200)})
    assert message == (
        "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy "
        "constraint: Member must have length less than or equal to 6144"
    )


# --- wrong JSON types and bad base64 ----------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"KeyId": 1}, "NUMBER_VALUE can not be converted to a String"),
        ({"KeyId": True}, "TRUE_VALUE can not be converted to a String"),
        ({"KeyId": False}, "FALSE_VALUE can not be converted to a String"),
        ({"KeyId": ["k"]}, "Start of list found where not expected"),
        ({"KeyId": {"a": 1}}, "Start of structure or map found where not expected."),
        ({"KeyId": "k", "NumberOfBytes": "32"}, "STRING_VALUE can not be converted to an Integer"),
        ({"KeyId": "k", "NumberOfBytes": True}, "TRUE_VALUE can not be converted to an Integer"),
        ({"KeyId": "k", "NumberOfBytes": [1]}, "Start of list found where not expected"),
        ({"KeyId": "k", "GrantTokens": "t"}, "Expected list or null"),
        ({"KeyId": "k", "GrantTokens": [1]}, "NUMBER_VALUE can not be converted to a String"),
        ({"KeyId": "k", "EncryptionContext": "x"}, "Expected map or null"),
        (
            {"KeyId": "k", "EncryptionContext": {"a": 1}},
            "NUMBER_VALUE can not be converted to a String",
        ),
        ({"KeyId": "k", "DryRun": "true"}, "STRING_VALUE can not be converted to a Boolean"),
    ],
)
def test_wrong_json_type_is_a_serialization_exception(params: dict[str, Any], message: str) -> None:
    assert serialization_message("GenerateDataKey", params) == message


def test_strings_are_not_coerced_into_integers() -> None:
    with pytest.raises(SerializationException):
        KMS.parse_input("GenerateRandom", {"NumberOfBytes": "32"})


def test_wrong_type_wins_over_missing_required() -> None:
    assert serialization_message("GenerateDataKey", {"NumberOfBytes": "1"}) == (
        "STRING_VALUE can not be converted to an Integer"
    )


def test_structure_given_a_scalar() -> None:
    assert serialization_message("CreateKey", {"Tags": ["x"]}) == "Expected null"


def test_blob_given_a_number() -> None:
    assert serialization_message("Decrypt", {"CiphertextBlob": 5}) == (
        "NUMBER_VALUE can not be converted to a Blob"
    )


@pytest.mark.parametrize("bad", ["!!!!", "aGVsbG8", "aGVs bG8=", "é===", "aGVsbG8=="])
def test_invalid_base64_is_a_bare_serialization_exception(bad: str) -> None:
    assert serialization_message("Encrypt", {"KeyId": "k", "Plaintext": bad}) == ""


# --- output ------------------------------------------------------------------------------


def test_serialize_output_encodes_blobs_and_drops_extras() -> None:
    out = KMS.serialize_output(
        "Encrypt",
        {
            "CiphertextBlob": b"\x00\x01\x02",
            "KeyId": "arn:aws:kms:us-east-1:111122223333:key/k",
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "Internal": "must not leak",
            "KeyMaterialId": None,
        },
    )
    assert out == {
        "CiphertextBlob": "AAEC",
        "KeyId": "arn:aws:kms:us-east-1:111122223333:key/k",
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }


def test_serialize_output_timestamps_and_nesting() -> None:
    created = dt.datetime(2025, 1, 1, 0, 0, 0, 500000, tzinfo=dt.UTC)
    out = KMS.serialize_output(
        "DescribeKey",
        {
            "KeyMetadata": {
                "KeyId": "k",
                "CreationDate": created,
                "DeletionDate": 1735689600,
                "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                "Secret": b"x",
            }
        },
    )
    assert out == {
        "KeyMetadata": {
            "KeyId": "k",
            "CreationDate": 1735689600.5,
            "DeletionDate": 1735689600.0,
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        }
    }


def test_serialize_output_round_trips_through_botocore_parser() -> None:
    import orjson
    from botocore.parsers import create_parser

    result = {
        "Plaintext": b"\x00" * 32,
        "CiphertextBlob": b"\xff" * 40,
        "KeyId": "k",
        "KeyMaterialId": "abc",
    }
    body = orjson.dumps(KMS.serialize_output("GenerateDataKey", result))
    parsed = create_parser("json").parse(
        {"status_code": 200, "headers": {}, "body": body},
        KMS_MODEL.operation_model("GenerateDataKey").output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    assert parsed == result


# --- properties --------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_member_names = st.sampled_from(
    [
        "KeyId",
        "Plaintext",
        "CiphertextBlob",
        "EncryptionContext",
        "GrantTokens",
        "Tags",
        "NumberOfBytes",
        "KeySpec",
        "DryRun",
        "Limit",
        "AliasName",
        "ValidTo",
        "Policy",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    operation=st.sampled_from(sorted(KMS.operation_names)),
    params=st.dictionaries(_member_names | st.text(max_size=8), _json, max_size=6),
)
def test_arbitrary_input_raises_only_aws_errors(operation: str, params: dict[str, Any]) -> None:
    with contextlib.suppress(SerializationException, ValidationException):
        KMS.parse_input(operation, params)


def _botocore_body(operation: str, params: dict[str, Any]) -> bytes:
    serializer = create_serializer("json")
    request = serializer.serialize_to_request(params, KMS_MODEL.operation_model(operation))
    body = request["body"]
    return body if isinstance(body, bytes) else body.encode()


REAL_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "Encrypt",
        {
            "KeyId": "alias/app",
            "Plaintext": b"\x00secret\xff",
            "EncryptionContext": {"a": "b"},
            "GrantTokens": ["g"],
        },
    ),
    ("Decrypt", {"CiphertextBlob": b"\x01" * 100, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    ("GenerateDataKey", {"KeyId": "k", "KeySpec": "AES_256"}),
    (
        "CreateKey",
        {
            "Description": "x",
            "Tags": [{"TagKey": "a", "TagValue": "b"}],
            "KeySpec": "HMAC_256",
            "KeyUsage": "GENERATE_VERIFY_MAC",
        },
    ),
    ("ListAliases", {"Limit": 10}),
    ("ListAliases", {}),
    ("ScheduleKeyDeletion", {"KeyId": "k", "PendingWindowInDays": 30}),
    ("CreateAlias", {"AliasName": "alias/x", "TargetKeyId": "k"}),
    (
        "Sign",
        {
            "KeyId": "k",
            "Message": b"m" * 4096,
            "MessageType": "RAW",
            "SigningAlgorithm": "ECDSA_SHA_256",
        },
    ),
]


@pytest.mark.parametrize(("operation", "params"), REAL_REQUESTS)
def test_botocore_serialised_requests_round_trip(operation: str, params: dict[str, Any]) -> None:
    body = _botocore_body(operation, params)
    assert KMS.parse_input(operation, decode_body(body)) == params


@settings(max_examples=150, deadline=None)
@given(
    plaintext=st.binary(min_size=1, max_size=4096),
    context=st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=4),
    tokens=st.lists(st.text(min_size=1, max_size=20), max_size=10),
    key_id=st.text(min_size=1, max_size=64),
)
def test_botocore_serialised_encrypt_round_trips(
    plaintext: bytes, context: dict[str, str], tokens: list[str], key_id: str
) -> None:
    params: dict[str, Any] = {"KeyId": key_id, "Plaintext": plaintext}
    if context:
        params["EncryptionContext"] = context
    if tokens:
        params["GrantTokens"] = tokens
    body = _botocore_body("Encrypt", params)
    assert KMS.parse_input("Encrypt", decode_body(body)) == params
