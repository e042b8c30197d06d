"""The symmetric ciphertext blob: self-describing and versioned.

Layout (big-endian)::

    format  1 byte   0x01
    flags   1 byte   bit 0: multi-Region key id ("mrk-" + 32 hex) instead of a UUID
    key id  16 bytes
    version 4 bytes  material version that sealed it
    iv      12 bytes
    ciphertext (len(plaintext) bytes) || tag 16 bytes

The header (format .. version) is part of the AAD, so a blob cannot be re-labelled with
another key id or material version. Decrypt needs nothing but the blob and the context.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import uuid
from typing import NamedTuple

from gateway.keys.model import Key, key_arn

FORMAT_V1 = 0x01
_FLAG_MRK = 0x01
_HEADER = struct.Struct(">BB16sI")
HEADER_SIZE = _HEADER.size  # 22
IV_SIZE = 12
TAG_SIZE = 16
OVERHEAD = HEADER_SIZE + IV_SIZE + TAG_SIZE


class MalformedBlob(ValueError):
    """The bytes are not a ciphertext blob this gateway wrote (the reason stays internal)."""


class Blob(NamedTuple):
    """A blob cut into its fields, for reading one whole. Decrypt does not build one: it
    reads the header alone (``read_header``) and the native core the rest."""

    key_id: str
    version: int
    header: bytes
    iv: bytes
    ciphertext: bytes
    tag: bytes


def _key_id_bytes(key_id: str) -> tuple[int, bytes]:
    if key_id.startswith("mrk-"):
        return _FLAG_MRK, bytes.fromhex(key_id[4:])
    return 0, uuid.UUID(key_id).bytes


@functools.lru_cache(maxsize=4096)  # the same few hot keys sign most blobs
def header_for(key_id: str, version: int) -> bytes:
    flags, raw = _key_id_bytes(key_id)
    return _HEADER.pack(FORMAT_V1, flags, raw, version)


def material_id(key: Key, version: int | None = None) -> str:
    """The KeyMaterialId AWS reports for a symmetric key's material ``version`` (default:
    its current one, which new ciphertexts are sealed under): 64 lowercase hex characters,
    the same in every worker and across restarts. Derived from the key's ARN and the
    version alone, so it says nothing about the material itself."""
    if version is None:
        version = key.current_version
    return _material_id(key.region, key.account, key.key_id, version)


# Keyed by the cached Key's own strings, whose hashes Python keeps: a hit costs a lookup,
# not an ARN built and hashed per request.
@functools.lru_cache(maxsize=4096)
def _material_id(region: str, account: str, key_id: str, version: int) -> str:
    arn = key_arn(region, account, key_id)
    return hashlib.sha256(f"{arn}#material-{version}".encode()).hexdigest()


def encode(header: bytes, iv: bytes, ciphertext: bytes, tag: bytes) -> bytes:
    return b"".join((header, iv, ciphertext, tag))


def _uuid_text(raw: bytes) -> str:
    """``str(uuid.UUID(bytes=raw))`` without building the UUID object (a third of the cost)."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def read_header(data: bytes) -> tuple[bytes, str, int]:
    """The header of a blob, and the key id and material version it names; MalformedBlob
    if the bytes are not a blob this gateway wrote. What Decrypt needs: the native core
    takes the iv, ciphertext and tag from the blob itself."""
    if len(data) < OVERHEAD:
        raise MalformedBlob("too short")
    header = data[:HEADER_SIZE]
    return (header, *_named_by(header))


# Keyed by the header's 22 bytes: the same few keys' headers come back on most Decrypts,
# and a lookup costs a fraction of unpacking and formatting the key id anew.
@functools.lru_cache(maxsize=4096)
def _named_by(header: bytes) -> tuple[str, int]:
    fmt, flags, raw, version = _HEADER.unpack(header)
    if fmt != FORMAT_V1 or flags & ~_FLAG_MRK:
        raise MalformedBlob("unknown format")
    key_id = "mrk-" + raw.hex() if flags & _FLAG_MRK else _uuid_text(raw)
    return key_id, version


def decode(data: bytes) -> Blob:
    header, key_id, version = read_header(data)
    body = data[HEADER_SIZE:]
    return Blob(
        key_id=key_id,
        version=version,
        header=header,
        iv=body[:IV_SIZE],
        ciphertext=body[IV_SIZE:-TAG_SIZE],
        tag=body[-TAG_SIZE:],
    )
