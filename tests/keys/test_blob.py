import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.keys import blob


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=2**32 - 1))
def test_round_trip(ciphertext: bytes, version: int) -> None:
    key_id = str(uuid.uuid4())
    header = blob.header_for(key_id, version)
    data = blob.encode(header, b"i" * 12, ciphertext, b"t" * 16)
    parsed = blob.decode(data)
    assert (parsed.key_id, parsed.version, parsed.ciphertext) == (key_id, version, ciphertext)
    assert parsed.header == header and parsed.iv == b"i" * 12 and parsed.tag == b"t" * 16


def test_multi_region_key_ids_round_trip() -> None:
    key_id = "mrk-" + uuid.uuid4().hex
    data = blob.encode(blob.header_for(key_id, 1), b"i" * 12, b"c", b"t" * 16)
    assert blob.decode(data).key_id == key_id


def test_header_binds_key_id_and_version() -> None:
    key_id = str(uuid.uuid4())
    assert blob.header_for(key_id, 1) != blob.header_for(key_id, 2)
    assert blob.header_for(key_id, 1) != blob.header_for(str(uuid.uuid4()), 1)


@pytest.mark.parametrize(
    "data", [b"", b"\x01" * 10, b"\x02" + b"\x00" * 60, b"\x01\x80" + b"\x00" * 60]
)
def test_decode_rejects_foreign_bytes(data: bytes) -> None:
    with pytest.raises(blob.MalformedBlob):
        blob.decode(data)
    with pytest.raises(blob.MalformedBlob):
        blob.read_header(data)


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=2**32 - 1), st.booleans())
def test_read_header_names_what_decode_names(ciphertext: bytes, version: int, mrk: bool) -> None:
    key_id = "mrk-" + uuid.uuid4().hex if mrk else str(uuid.uuid4())
    header = blob.header_for(key_id, version)
    data = blob.encode(header, b"i" * 12, ciphertext, b"t" * 16)
    assert blob.read_header(data) == (header, key_id, version)
    parsed = blob.decode(data)
    assert (parsed.header, parsed.key_id, parsed.version) == (header, key_id, version)


def test_read_header_needs_room_for_the_iv_and_tag_after_a_valid_header() -> None:
    data = blob.encode(blob.header_for(str(uuid.uuid4()), 1), b"i" * 12, b"", b"t" * 16)
    assert len(blob.read_header(data)[0]) == blob.HEADER_SIZE
    with pytest.raises(blob.MalformedBlob):
        blob.read_header(data[:-1])


@given(st.binary(min_size=16, max_size=16))
def test_key_id_text_is_the_uuid_text(raw: bytes) -> None:
    data = blob.encode(
        struct.pack(">BB16sI", blob.FORMAT_V1, 0, raw, 1), b"i" * 12, b"c", b"t" * 16
    )
    assert blob.decode(data).key_id == str(uuid.UUID(bytes=raw))
