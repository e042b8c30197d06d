"""Sign and Verify with asymmetric SIGN_VERIFY keys.

API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html
"""

from __future__ import annotations

import hashlib
from typing import Any

from gateway.caller import Caller
from gateway.errors import (
    KMSInvalidSignatureException,
    UnsupportedOperationException,
    ValidationException,
)
from gateway.keys.model import Key
from gateway.kms import signers
from gateway.kms.checks import dry_run, incompatible, usable_for
from gateway.kms.keyspecs import SIGN_VERIFY, SIGNING_HASH, Family, KeySpec
from gateway.kms.service import Kms

_DIGEST_BYTES = {"sha256": 32, "sha384": 48, "sha512": 64}


def _signing_input(spec: KeySpec, algorithm: str, message: bytes, message_type: str) -> bytes:
    """What the primitive signs: the digest for hashing algorithms, else the message."""
    hash_name = SIGNING_HASH[algorithm]
    if message_type == "EXTERNAL_MU":
        if spec.family is not Family.ML_DSA:
            raise ValidationException(
                f"MessageType EXTERNAL_MU is not valid for signing algorithm {algorithm}."
            )
        raise UnsupportedOperationException(
            "MessageType EXTERNAL_MU is not supported by this gateway; use RAW."
        )
    if hash_name is None:  # pure Ed25519 and ML-DSA sign the message itself
        if message_type != "RAW":
            raise ValidationException(
                f"MessageType {message_type} is not valid for signing algorithm {algorithm}."
            )
        return message
    if algorithm == "ED25519_PH_SHA_512":
        # pyca/cryptography has no HashEdDSA (RFC 8032 Ed25519ph), and we do no curve math.
        raise UnsupportedOperationException(
            "Signing algorithm ED25519_PH_SHA_512 is not supported by this gateway; "
            "use ED25519_SHA_512."
        )
    if message_type == "DIGEST":
        if len(message) != _DIGEST_BYTES[hash_name]:
            raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
        return message
    return hashlib.new(hash_name, message).digest()


def _prepare(
    kms: Kms, caller: Caller, key: Key, req: dict[str, Any], operation: str
) -> tuple[KeySpec, bytes]:
    kms.charge_crypto(caller, operation, key.key_spec)
    spec = usable_for(key, operation, SIGN_VERIFY)
    algorithm = req["SigningAlgorithm"]
    if algorithm not in spec.signing:
        raise incompatible(algorithm, key)
    data = _signing_input(spec, algorithm, req["Message"], req.get("MessageType", "RAW"))
    dry_run(req)
    return spec, data


async def sign(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html"""
    key = kms.keys.cached(caller, req["KeyId"]) or await kms.keys.resolve(caller, req["KeyId"])
    spec, data = _prepare(kms, caller, key, req, "Sign")
    loaded = kms.handles.cached(key) or await kms.handles.load(kms.keys, key)
    algorithm = req["SigningAlgorithm"]
    signature = await signers.sign(kms.crypto, spec, loaded, algorithm, data)
    return {"KeyId": key.arn, "Signature": signature, "SigningAlgorithm": algorithm}


async def verify(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Verify.html"""
    key = kms.keys.cached(caller, req["KeyId"]) or await kms.keys.resolve(caller, req["KeyId"])
    spec, data = _prepare(kms, caller, key, req, "Verify")
    loaded = kms.handles.cached(key) or await kms.handles.load(kms.keys, key)
    algorithm = req["SigningAlgorithm"]
    if not await signers.verify(kms.crypto, spec, loaded, algorithm, data, req["Signature"]):
        raise KMSInvalidSignatureException("")
    return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}
