"""The native SigV4 hash-and-compare against the same steps written with hashlib and hmac."""

from __future__ import annotations

import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.crypto import sigv4_check


def reference_signature(key: bytes, canonical_head: bytes, body: bytes, sts_head: bytes) -> str:
    body_hash = hashlib.sha256(body).hexdigest().encode()
    request_hash = hashlib.sha256(canonical_head + body_hash).hexdigest().encode()
    return hmac.digest(key, sts_head + request_hash, "sha256").hex()


KEY = bytes(range(32))
HEAD = b"POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:h\n\ncontent-type;host\n"
STS = b"AWS4-HMAC-SHA256\n20250101T000000Z\n20250101/us-east-1/kms/aws4_request\n"
BODY = b'{"KeyId": "k"}'
GOOD = reference_signature(KEY, HEAD, BODY, STS).encode()


def test_the_right_signature_matches() -> None:
    assert sigv4_check(KEY, HEAD, BODY, None, STS, GOOD)


@pytest.mark.parametrize(
    "change",
    [
        {"signing_key": bytes(32)},
        {"canonical_head": HEAD.replace(b"host:h", b"host:i")},
        {"body": BODY + b" "},
        {"sts_head": STS.replace(b"kms", b"acm")},
        {"provided": GOOD.upper()},
        {"provided": GOOD[:-1]},
        {"provided": GOOD + b"0"},
        {"provided": b""},
    ],
)
def test_any_changed_input_does_not_match(change: dict[str, bytes]) -> None:
    args = {
        "signing_key": KEY,
        "canonical_head": HEAD,
        "body": BODY,
        "declared": None,
        "sts_head": STS,
        "provided": GOOD,
    }
    args.update(change)
    assert not sigv4_check(**args)  # type: ignore[arg-type]


def test_a_declared_body_hash_must_be_the_bodys_own() -> None:
    own = hashlib.sha256(BODY).hexdigest().encode()
    assert sigv4_check(KEY, HEAD, BODY, own, STS, GOOD)
    assert not sigv4_check(KEY, HEAD, BODY, own.upper(), STS, GOOD)
    assert not sigv4_check(KEY, HEAD, BODY, b"UNSIGNED-PAYLOAD", STS, GOOD)
    assert not sigv4_check(KEY, HEAD, BODY, b"", STS, GOOD)


def test_only_bytes_are_accepted() -> None:
    with pytest.raises(TypeError):
        sigv4_check(KEY, HEAD.decode(), BODY, None, STS, GOOD)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sigv4_check(KEY, HEAD, bytearray(BODY), None, STS, GOOD)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sigv4_check(KEY, HEAD, BODY, "x" * 64, STS, GOOD)  # type: ignore[arg-type]


@given(
    key=st.binary(min_size=1, max_size=64),
    head=st.binary(max_size=400),
    body=st.binary(max_size=300),
    sts=st.binary(max_size=200),
    declare=st.sampled_from(["none", "own", "other"]),
    tamper=st.booleans(),
)
def test_matches_the_hashlib_reference(
    key: bytes, head: bytes, body: bytes, sts: bytes, declare: str, tamper: bool
) -> None:
    expected = reference_signature(key, head, body, sts).encode()
    provided = expected if not tamper else bytes([expected[0] ^ 1]) + expected[1:]
    own = hashlib.sha256(body).hexdigest().encode()
    declared = {"none": None, "own": own, "other": hashlib.sha256(body + b"x").hexdigest().encode()}
    result = sigv4_check(key, head, body, declared[declare], sts, provided)
    assert result == (not tamper and declare != "other")


def test_threads_each_get_right_answers_at_once() -> None:
    # Every thread keeps its own hashing contexts: concurrent calls must not mix them.
    def check(i: int) -> bool:
        body = BODY + str(i).encode()
        good = reference_signature(KEY, HEAD, body, STS).encode()
        provided = good if i % 2 == 0 else bytes(64)
        return sigv4_check(KEY, HEAD, body, None, STS, provided)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(check, range(2000)))
    assert results == [i % 2 == 0 for i in range(2000)]
