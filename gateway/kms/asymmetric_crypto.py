"""RSAES-OAEP encryption and decryption with RSA ENCRYPT_DECRYPT keys.

The ciphertext is a plain RSA-OAEP ciphertext (no KMS header), so data encrypted offline
with the public key from GetPublicKey decrypts here; OAEP uses the same hash for the digest
and MGF1 and an empty label. RSA private-key operations take milliseconds: they run on a
worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from gateway.errors import InvalidCiphertextException, ValidationException
from gateway.keys.model import Key
from gateway.kms.keyspecs import SPECS, rsa_oaep_max_plaintext
from gateway.kms.service import Kms

_OAEP_HASH: dict[str, type[hashes.HashAlgorithm]] = {
    "RSAES_OAEP_SHA_1": hashes.SHA1,
    "RSAES_OAEP_SHA_256": hashes.SHA256,
}


def _oaep(algorithm: str) -> padding.OAEP:
    digest = _OAEP_HASH[algorithm]()
    return padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)


def refuse_context(context: dict[str, str] | None) -> None:
    if context:
        raise ValidationException("EncryptionContext is not supported with asymmetric KMS keys.")


def check_plaintext(key: Key, plaintext: bytes, algorithm: str) -> None:
    """Refuse a plaintext longer than RSAES-OAEP can take with this key (before a dry run
    answers that the call would succeed)."""
    limit = rsa_oaep_max_plaintext(SPECS[key.key_spec].bits, algorithm)
    if len(plaintext) > limit:
        raise ValidationException(
            f"Plaintext is too long: {algorithm} with a {key.key_spec} key encrypts at most "
            f"{limit} bytes."
        )


async def encrypt(kms: Kms, key: Key, plaintext: bytes, algorithm: str) -> bytes:
    check_plaintext(key, plaintext, algorithm)
    loaded = await kms.handles.load(kms.keys, key)
    public: Any = loaded.public
    return bytes(public.encrypt(plaintext, _oaep(algorithm)))


async def decrypt(kms: Kms, key: Key, ciphertext: bytes, algorithm: str) -> bytes:
    loaded = await kms.handles.load(kms.keys, key)
    private: Any = loaded.private

    def run() -> bytes:
        return bytes(private.decrypt(ciphertext, _oaep(algorithm)))

    try:
        return await asyncio.to_thread(run)
    except ValueError:  # wrong length, bad padding, wrong algorithm: all one error
        raise InvalidCiphertextException("") from None
