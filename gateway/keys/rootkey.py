"""The root of trust: the 256-bit key that wraps every key's material and every secret."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_KEY = "GATEWAY_ROOT_KEY"
ENV_KEY_FILE = "GATEWAY_ROOT_KEY_FILE"
KEY_FILE_NAME = "root.key"
KEY_SIZE = 32

_FORMAT_V1 = 0x01
_IV_SIZE = 12
_TAG_SIZE = 16
_HEADER_SIZE = 1 + _IV_SIZE
# Wrap labels keep a material blob from ever unwrapping as a secret, and back.
_MATERIAL_LABEL = b"gateway/kms-material/v1"
_SECRET_LABEL = b"gateway/iam-secret/v1"


class RootKeyError(ValueError):
    """A wrapped blob could not be unwrapped; one message for every cause (no oracle)."""


class RootKey:
    """A 256-bit AES-GCM key; its bytes never appear in repr, logs or pickles."""

    __slots__ = ("_aead", "_key", "fingerprint", "source")

    def __init__(self, key: bytes, *, source: str = "bytes") -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
            raise ValueError(f"root key from {source}: expected {KEY_SIZE} bytes")
        self._key = bytes(key)
        self._aead = AESGCM(self._key)
        self.source = source  # where it came from, for logs; never the key itself
        # A one-way, keyed derivation: safe to log, identifies which root key is in use.
        mac = hmac.new(self._key, b"fingerprint", hashlib.sha256).digest()
        self.fingerprint = hashlib.sha256(mac).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"RootKey(fingerprint={self.fingerprint!r}, source={self.source!r})"

    def __reduce__(self) -> NoReturn:
        # Pickling would write the key bytes wherever the pickle goes.
        raise TypeError("RootKey cannot be pickled")

    @classmethod
    def load(cls, data_dir: Path, *, env: Mapping[str, str] = os.environ) -> RootKey:
        """The root key from GATEWAY_ROOT_KEY, else GATEWAY_ROOT_KEY_FILE, else
        <data_dir>/root.key (created with mode 0600 on first start)."""
        if ENV_KEY in env:
            return cls(_decode_env(env[ENV_KEY]), source=f"env {ENV_KEY}")
        if ENV_KEY_FILE in env:
            path = Path(env[ENV_KEY_FILE])
            source = f"{ENV_KEY_FILE}={path}"
            try:
                key = _read_key_file(path, source, check_mode=False)
            except OSError as exc:
                raise ValueError(f"{source} cannot be read: {exc.strerror}") from None
            return cls(key, source=source)
        path = Path(data_dir) / KEY_FILE_NAME
        try:
            return cls(_read_key_file(path, str(path), check_mode=True), source=str(path))
        except FileNotFoundError:
            pass
        return cls(_create_key_file(path), source=str(path))

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        """0x01 || IV(12) || AES-256-GCM(plaintext) || tag(16), bound to aad."""
        # Random 96-bit IVs are safe far beyond the number of wraps a gateway performs
        # (one per key version or secret, not per request).
        iv = os.urandom(_IV_SIZE)
        header = bytes([_FORMAT_V1]) + iv
        return header + self._aead.encrypt(iv, plaintext, _bind(aad))

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """The plaintext of a wrap() output; RootKeyError on any failure."""
        if len(blob) < _HEADER_SIZE + _TAG_SIZE or blob[0] != _FORMAT_V1:
            _fail()
        try:
            iv, sealed = bytes(blob[1:_HEADER_SIZE]), bytes(blob[_HEADER_SIZE:])
            return self._aead.decrypt(iv, sealed, _bind(aad))
        except InvalidTag:
            _fail()


def material_aad(key_arn: str, version: int) -> bytes:
    """AAD binding a wrapped material to its key ARN and material version."""
    if not 0 <= version < 2**32:
        raise ValueError(f"material version out of range: {version}")
    return _length_prefixed(_MATERIAL_LABEL, key_arn.encode(), struct.pack(">I", version))


def secret_aad(access_key_id: str) -> bytes:
    """AAD binding a wrapped access-key secret to its access key id."""
    return _length_prefixed(_SECRET_LABEL, access_key_id.encode())


def _length_prefixed(*fields: bytes) -> bytes:
    # Every field carries a 4-byte length, so no two field lists encode alike.
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def _bind(aad: bytes) -> bytes:
    # The format byte is authenticated too, so a blob cannot be relabelled as another format.
    return bytes([_FORMAT_V1]) + aad


def _fail() -> NoReturn:
    # `from None`: the traceback must not tell a short blob from a bad tag either.
    raise RootKeyError("wrapped blob could not be unwrapped with the root key") from None


def _decode_env(value: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            f"{ENV_KEY} is not valid base64; it must hold base64 of {KEY_SIZE} random bytes "
            "(e.g. `head -c 32 /dev/urandom | base64`)"
        ) from None
    if len(key) != KEY_SIZE:
        raise ValueError(
            f"{ENV_KEY} decodes to {len(key)} bytes; it must hold base64 of exactly "
            f"{KEY_SIZE} bytes (e.g. `head -c 32 /dev/urandom | base64`)"
        )
    return key


def _read_key_file(path: Path, source: str, *, check_mode: bool) -> bytes:
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"root key file {source} is not a regular file")
        if check_mode and st.st_mode & 0o077:
            raise ValueError(
                f"root key file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); run `chmod 600 {path}`"
            )
        # Read one byte more than needed so an oversized file is reported, not truncated.
        key = f.read(KEY_SIZE + 1)
    if len(key) != KEY_SIZE:
        size = f"{len(key)}" if len(key) <= KEY_SIZE else f"more than {KEY_SIZE}"
        raise ValueError(
            f"root key file {source} holds {size} bytes; it must hold exactly {KEY_SIZE} "
            "raw bytes (e.g. `head -c 32 /dev/urandom > root.key`)"
        )
    return key


def _create_key_file(path: Path) -> bytes:
    """Create root.key atomically; if another worker wins the race, use its key."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = os.urandom(KEY_SIZE)
    # Written under a private name, then hard-linked into place: another worker starting at
    # the same moment sees either no root.key or a complete one, never a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        try:
            written = 0
            while written < KEY_SIZE:
                written += os.write(fd, key[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read_key_file(path, str(path), check_mode=True)
    finally:
        os.unlink(tmp)
    _fsync_dir(path.parent)
    return key


def _fsync_dir(directory: Path) -> None:
    # Without this, the new directory entry (and so the key) can vanish on power loss.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
