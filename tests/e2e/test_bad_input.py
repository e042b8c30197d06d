"""Client mistakes get AWS's errors, never a 500, and the gateway keeps serving."""

from __future__ import annotations

import base64
import datetime
import json
import os
import socket
import time
import urllib.request

import pytest

from tests.e2e.rawclient import call, post, read_response, signed_headers

ENCRYPT = "TrentService.Encrypt"


@pytest.fixture
def url(gateway) -> str:
    return gateway.url


def body(obj: object) -> bytes:
    return json.dumps(obj).encode()


def expect(result: tuple[int, dict, dict[str, str]], status: int, error: str) -> str:
    code, payload, headers = result
    assert (code, payload.get("__type")) == (status, error), payload
    assert headers.get("x-amzn-requestid")
    return payload.get("message", "")


def test_random_bytes_are_a_serialization_error(url):
    for _ in range(20):
        junk = os.urandom(64)
        code, payload, _ = call(url, ENCRYPT, junk)
        assert code == 400 and payload["__type"] == "SerializationException"


@pytest.mark.parametrize("doc", ["[1, 2]", '"string"', "{", "null", '{"KeyId": }'])
def test_json_that_is_not_an_object(url, doc):
    expect(call(url, ENCRYPT, doc.encode()), 400, "SerializationException")


@pytest.mark.parametrize(
    "payload",
    [
        {"KeyId": 5, "Plaintext": "aGk="},
        {"KeyId": "k", "Plaintext": 17},
        {"KeyId": ["a"], "Plaintext": "aGk="},
        {"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": ["not", "a", "map"]},
        {"KeyId": "k", "Plaintext": "aGk=", "EncryptionContext": {"a": 1}},
    ],
)
def test_wrong_json_types(url, payload):
    expect(call(url, ENCRYPT, body(payload)), 400, "SerializationException")


def test_missing_required_fields_are_validation_errors(url):
    message = expect(call(url, ENCRYPT, body({})), 400, "ValidationException")
    assert message.startswith("2 validation errors detected: ")
    assert "Value null at 'keyId' failed to satisfy constraint: Member must not be null" in message


def test_bad_base64(url, key_id):
    expect(
        call(url, ENCRYPT, body({"KeyId": key_id, "Plaintext": "not base64!!"})),
        400,
        "SerializationException",
    )


def test_plaintext_never_echoed_in_errors(url, key_id):
    secret = b"TOP-SECRET-" * 400  # over 4096 bytes
    message = expect(
        call(url, ENCRYPT, body({"KeyId": key_id, "Plaintext": base64.b64encode(secret).decode()})),
        400,
        "ValidationException",
    )
    assert "TOP-SECRET" not in message and base64.b64encode(secret).decode()[:20] not in message


def test_oversized_body_is_refused_without_reading_it(url):
    big = b"{" + b" " * (2 << 20) + b"}"
    code, payload, _ = call(url, ENCRYPT, big)
    assert code == 413 and payload["__type"] == "RequestEntityTooLargeException"


def test_a_chunked_body_is_read_whole(url, key_id):
    payload = body({"KeyId": key_id, "Plaintext": base64.b64encode(b"in pieces").decode()})
    headers = signed_headers(url, ENCRYPT, payload)
    code, answer, _ = post(url, headers, [payload[:9], payload[9:40], payload[40:]])
    assert code == 200, answer
    assert answer["KeyId"].endswith(key_id) and answer["CiphertextBlob"]


def test_an_oversized_chunked_body_is_refused(url):
    big = b"{" + b" " * (1 << 20) + b"}"  # no Content-Length to refuse it by: it is counted
    code, payload, _ = post(url, signed_headers(url, ENCRYPT, big), [big])
    assert code == 413 and payload["__type"] == "RequestEntityTooLargeException"


def test_unknown_and_unsupported_operations(url):
    expect(call(url, "TrentService.NoSuchThing", b"{}"), 400, "UnknownOperationException")
    expect(call(url, "Other.Encrypt", b"{}"), 400, "UnknownOperationException")
    message = expect(
        call(url, "TrentService.CreateCustomKeyStore", b"{}"), 400, "UnsupportedOperationException"
    )
    assert "CreateCustomKeyStore" in message


def test_missing_authentication(url):
    headers = {"X-Amz-Target": ENCRYPT, "Content-Type": "application/x-amz-json-1.1"}
    expect(post(url, headers, b"{}"), 400, "MissingAuthenticationTokenException")


def test_malformed_authorization_header(url):
    headers = signed_headers(url, ENCRYPT, b"{}")
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIA/20200101/us-east-1/kms"
    expect(post(url, headers, b"{}"), 400, "IncompleteSignatureException")


def test_unknown_access_key(url):
    expect(
        call(url, ENCRYPT, b"{}", access_key="AKIAUNKNOWNUNKNOWN00"),
        400,
        "UnrecognizedClientException",
    )


def test_wrong_secret_and_tampered_body(url):
    expect(call(url, ENCRYPT, b"{}", secret="wrong" * 8), 400, "InvalidSignatureException")
    headers = signed_headers(url, ENCRYPT, b'{"KeyId": "a"}')
    expect(post(url, headers, b'{"KeyId": "b"}'), 400, "InvalidSignatureException")


def test_expired_and_future_signatures(url):
    now = datetime.datetime.now(datetime.UTC)
    message = expect(
        call(url, ENCRYPT, b"{}", when=now - datetime.timedelta(minutes=20)),
        400,
        "InvalidSignatureException",
    )
    assert message.startswith("Signature expired")
    message = expect(
        call(url, ENCRYPT, b"{}", when=now + datetime.timedelta(minutes=20)),
        400,
        "InvalidSignatureException",
    )
    assert message.startswith("Signature not yet current")


def test_signature_for_another_service(url):
    expect(call(url, ENCRYPT, b"{}", service="s3"), 400, "InvalidSignatureException")


@pytest.mark.parametrize("region", ["mars-east-1", "local", "cn-north-1", "us-gov-west-1"])
def test_region_outside_the_aws_partition_is_refused(url, region):
    message = expect(call(url, ENCRYPT, b"{}", region=region), 400, "InvalidSignatureException")
    assert message == "Credential should be scoped to a valid region. "


def test_unknown_key_and_bad_key_ids(url):
    for key in (
        "11111111-2222-3333-4444-555555555555",
        "alias/none",
        "garbage",
        "arn:aws:kms:us-east-1:111122223333:key/nope",
        "arn:broken",
    ):
        code, payload, _ = call(url, ENCRYPT, body({"KeyId": key, "Plaintext": "aGk="}))
        assert code == 400 and payload["__type"] in ("NotFoundException", "InvalidArnException")


def test_gateway_keeps_serving_after_abuse(gateway, kms, key_id):
    for _ in range(50):
        call(gateway.url, ENCRYPT, os.urandom(200))
    assert gateway.healthy()
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"still fine")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still fine"
    assert gateway.process.poll() is None
    assert "Traceback" not in gateway.log_path.read_text()


# --- bytes that are not UTF-8, bodies that cannot be read, clients that leave ---


def _exchange(url: str, data: bytes, then: bytes = b"") -> tuple[int, dict, bytes]:
    """Write ``data`` (and ``then`` a moment later, as another TCP segment); one answer."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if then:
            time.sleep(0.1)
            sock.sendall(then)
        head, _, rest = read_response(sock).partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(rest), head


def _now() -> tuple[bytes, bytes]:
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y%m%dT%H%M%SZ").encode(), now.strftime("%Y%m%d").encode()


def test_an_access_key_id_that_is_not_utf8_is_unrecognized(url):
    amz_date, day = _now()
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"
        b"X-Amz-Date: "
        + amz_date
        + b"\r\nAuthorization: AWS4-HMAC-SHA256 Credential=\xffKIA/"
        + day
        + b"/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n"
        b"Content-Length: 2\r\n\r\n{}"
    )
    status, payload, head = _exchange(url, request)
    assert (status, payload["__type"]) == (400, "UnrecognizedClientException")
    assert b"x-amzn-RequestId" in head


@pytest.mark.parametrize(
    "auth",
    [b"AWS4-HMAC-SHA256 Credential=\xff", b"AWS4-HMAC-SHA256 Credential=a\xc4/b, Sig"],
)
def test_header_bytes_that_are_not_utf8_are_quoted_safely(url, auth):
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"
        b"Authorization: " + auth + b"\r\nContent-Length: 0\r\n\r\n"
    )
    status, payload, head = _exchange(url, request)
    assert (status, payload["__type"]) == (400, "IncompleteSignatureException")
    assert "\ufffd" in payload["message"] and b"x-amzn-RequestId" in head


def test_a_body_whose_content_encoding_does_not_decode_is_a_serialization_error(gateway, url):
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"
        b"Content-Encoding: gzip\r\nContent-Length: 10\r\n\r\n"
    )
    status, payload, _ = _exchange(url, head, then=b"notgzip!!!")
    assert (status, payload["__type"]) == (400, "SerializationException")
    # aiohttp meets the same error again when it drains the unread body: logged as the
    # client's mistake, without a traceback (whose text could quote the body).
    deadline = time.monotonic() + 10
    while '"error": "RequestPayloadError"' not in gateway.log_path.read_text():
        assert time.monotonic() < deadline, "the drained body's error was never logged"
        time.sleep(0.05)
    assert "Traceback" not in gateway.log_path.read_text()


def _internal_errors(url: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("gateway_errors_total") and "KMSInternalException" in line
    )


def test_a_client_that_leaves_mid_body_is_no_internal_error(gateway, url):
    before = _internal_errors(url)
    port = int(url.rsplit(":", 1)[1])
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
        time.sleep(0.1)
        sock.close()
    time.sleep(0.3)
    assert _internal_errors(url) == before
    assert "request failed" not in gateway.log_path.read_text()


def test_a_malformed_body_is_logged_without_its_bytes(gateway, url, key_id):
    secret_text = base64.b64encode(b"PLAINTEXT that must stay out of the log").decode()
    body = json.dumps({"KeyId": key_id, "Plaintext": secret_text}).encode()
    # One write, the chunk size five short: aiohttp's parser refuses it and logs why.
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.Encrypt\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(body) - 5:x}".encode()
        + b"\r\n"
        + body
        + b"\r\n0\r\n\r\n"
    )
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        assert sock.recv(65536).split(b" ")[1] == b"400"  # aiohttp's own answer
    time.sleep(0.3)
    log = gateway.log_path.read_text()
    assert "malformed HTTP request refused" in log
    assert secret_text[:24] not in log


@pytest.mark.parametrize("method", [b"GET", b"POST"])
def test_a_target_whose_host_is_not_valid_is_refused_and_closed(gateway, url, method):
    # yarl cannot decode this international host name, and aiohttp then neither answered
    # nor closed the connection: one such line per connection could hold every descriptor.
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(method + b" http://xn--/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        reply = read_response(sock)
        assert reply.startswith(b"HTTP/1.1 400") and b"Connection: close" in reply, reply
        assert sock.recv(65536) == b""  # closed by the server
    assert "Traceback" not in gateway.log_path.read_text()
    # The same host name, valid: the request is routed as any other.
    valid = b"POST http://xn--bcher-kva.example/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    status, payload, _ = _exchange(url, valid)
    assert (status, payload["__type"]) == (400, "MissingAuthenticationTokenException")


def test_a_target_the_parser_fails_on_is_closed_and_logged_without_a_traceback(gateway, url):
    # yarl raises IndexError on this target inside aiohttp's parser, which lets it through
    # to the event loop: the connection is closed unanswered, and the loop logs it.
    port = int(url.rsplit(":", 1)[1])
    logged_before = len(gateway.log_path.read_text())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET http://[::1]@ HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(65536)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer
    deadline = time.monotonic() + 10
    while answer == b"" and '"error": "IndexError"' not in (
        gateway.log_path.read_text()[logged_before:]
    ):
        assert time.monotonic() < deadline, "the refusal was never logged"
        time.sleep(0.05)
    assert "Traceback" not in gateway.log_path.read_text()
