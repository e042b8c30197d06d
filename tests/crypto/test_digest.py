"""SHA-256/SHA-384 batches equal hashlib."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.crypto.digest import sha256_batch, sha384_batch


@settings(max_examples=200, deadline=None)
@given(msgs=st.lists(st.binary(max_size=3000), max_size=30))
def test_digest_batches_equal_hashlib(msgs: list[bytes]) -> None:
    assert sha256_batch(msgs) == [hashlib.sha256(m).digest() for m in msgs]
    assert sha384_batch(msgs) == [hashlib.sha384(m).digest() for m in msgs]


def test_batch_equals_map_of_single_item_batches() -> None:
    msgs = [b"", b"abc", b"x" * 100_000, bytes(range(256))]
    assert sha256_batch(msgs) == [sha256_batch([m])[0] for m in msgs]
    assert sha384_batch(msgs) == [sha384_batch([m])[0] for m in msgs]


def test_known_answers() -> None:
    assert sha256_batch([b"abc"])[0].hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert sha384_batch([b"abc"])[0].hex().startswith("cb00753f45a35e8bb5a03d699ac65007")


def test_empty_batch_and_bytes_like_inputs() -> None:
    assert sha256_batch([]) == []
    assert (
        sha256_batch([bytearray(b"abc"), memoryview(b"abc")])
        == [hashlib.sha256(b"abc").digest()] * 2
    )


def test_rejects_non_bytes() -> None:
    with pytest.raises(TypeError, match="message"):
        sha256_batch(["abc"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        sha256_batch(b"abc")
