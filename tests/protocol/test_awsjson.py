"""AWS JSON 1.1 body codec."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import KMSInvalidStateException, SerializationException
from gateway.protocol.awsjson import CONTENT_TYPE, decode_body, encode_body, encode_error


def test_content_type() -> None:
    assert CONTENT_TYPE == "application/x-amz-json-1.1"


def test_empty_body_is_empty_input() -> None:
    assert decode_body(b"") == {}


def test_object_body_decodes() -> None:
    assert decode_body(b'{"KeyId": "k", "N": 1, "L": [true, null]}') == {
        "KeyId": "k",
        "N": 1,
        "L": [True, None],
    }


@pytest.mark.parametrize(
    "body",
    [b"{", b"{'a': 1}", b'{"a": 1,}', b"null", b'"x"', b"1", b"\xff\xfe{}", b'{"a": "\xff"}'],
)
def test_unparseable_or_non_object_body_is_a_bare_serialization_exception(body: bytes) -> None:
    with pytest.raises(SerializationException) as exc:
        decode_body(body)
    # No parser text leaks to the client.
    assert exc.value.message == ""


def test_array_body_says_list_not_expected() -> None:
    with pytest.raises(SerializationException) as exc:
        decode_body(b"[]")
    assert exc.value.message == "Start of list found where not expected"


def test_encode_body_round_trips() -> None:
    obj = {"KeyId": "k", "CiphertextBlob": "AAEC", "CreationDate": 1735689600.5}
    assert orjson.loads(encode_body(obj)) == obj


def test_encode_error_uses_type_and_lower_case_message() -> None:
    body = encode_error(KMSInvalidStateException("key is pending deletion"))
    assert orjson.loads(body) == {
        "__type": "KMSInvalidStateException",
        "message": "key is pending deletion",
    }


def test_encode_error_without_message_omits_it() -> None:
    assert orjson.loads(encode_error(SerializationException())) == {
        "__type": "SerializationException"
    }


def test_botocore_parses_our_error_body() -> None:
    from botocore.loaders import Loader
    from botocore.model import ServiceModel
    from botocore.parsers import create_parser

    model = ServiceModel(Loader().load_service_model("kms", "service-2"), "kms")
    parser = create_parser("json")
    response = {
        "status_code": 400,
        "headers": {"content-type": CONTENT_TYPE},
        "body": encode_error(KMSInvalidStateException("nope")),
    }
    parsed = parser.parse(response, model.operation_model("Encrypt").output_shape)
    assert parsed["Error"] == {"Code": "KMSInvalidStateException", "Message": "nope"}
