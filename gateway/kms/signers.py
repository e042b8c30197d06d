"""Signature primitives per key family: the C core's batches for P-256/P-384, ``cryptography``
(on a worker thread, it releases the GIL) for every other spec.

Inputs arrive checked by the Sign/Verify handlers: ``data`` is the digest for algorithms
that hash (ECDSA, RSASSA) and the message itself for pure EdDSA and ML-DSA.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from gateway.crypto.batcher import CryptoBatcher
from gateway.kms.handles import LoadedKey
from gateway.kms.keyspecs import SIGNING_HASH, Family, KeySpec

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _prehashed(algorithm: str) -> utils.Prehashed:
    name = SIGNING_HASH[algorithm]
    assert name is not None
    return utils.Prehashed(_HASHES[name]())


def _rsa_padding(algorithm: str) -> padding.AsymmetricPadding:
    if algorithm.startswith("RSASSA_PSS_"):
        name = SIGNING_HASH[algorithm]
        assert name is not None
        digest = _HASHES[name]()
        # KMS's PSS salt is as long as the digest (256/384/512 bits).
        return padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
    return padding.PKCS1v15()


def _sign_sync(spec: KeySpec, private: Any, algorithm: str, data: bytes) -> bytes:
    if spec.family is Family.ECC:
        return bytes(private.sign(data, ec.ECDSA(_prehashed(algorithm))))
    if spec.family is Family.RSA:
        return bytes(private.sign(data, _rsa_padding(algorithm), _prehashed(algorithm)))
    # Pure Ed25519 and ML-DSA (empty context) sign the message itself.
    return bytes(private.sign(data))


def _verify_sync(spec: KeySpec, public: Any, algorithm: str, data: bytes, sig: bytes) -> bool:
    try:
        if spec.family is Family.ECC:
            public.verify(sig, data, ec.ECDSA(_prehashed(algorithm)))
        elif spec.family is Family.RSA:
            public.verify(sig, data, _rsa_padding(algorithm), _prehashed(algorithm))
        else:
            public.verify(sig, data)
    except (InvalidSignature, ValueError):
        return False
    return True


# sign and verify hand back the batcher's future or the thread's coroutine for the caller
# to await: no coroutine of their own on the request path.


def sign(
    batcher: CryptoBatcher, spec: KeySpec, key: LoadedKey, algorithm: str, data: bytes
) -> Awaitable[bytes]:
    if key.native:
        return batcher.sign(key.private, data)
    return asyncio.to_thread(_sign_sync, spec, key.private, algorithm, data)


def verify(
    batcher: CryptoBatcher,
    spec: KeySpec,
    key: LoadedKey,
    algorithm: str,
    data: bytes,
    signature: bytes,
) -> Awaitable[bool]:
    if key.native:
        return batcher.verify(key.public, data, signature)
    return asyncio.to_thread(_verify_sync, spec, key.public, algorithm, data, signature)
