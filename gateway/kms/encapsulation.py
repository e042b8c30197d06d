"""Encapsulate and Decapsulate: ML-KEM (FIPS 203) with an ENCAPSULATE_DECAPSULATE key.

Encapsulate makes a fresh 32-byte shared secret and its encapsulation under the key's
public key; Decapsulate recovers the secret with the private key, which never leaves the
gateway. ML-KEM has implicit rejection: a ciphertext of the right length that was altered
or made for another key decapsulates to an unrelated pseudo-random secret, not an error;
only a wrong length is InvalidCiphertextException. API references:
https://docs.aws.amazon.com/kms/latest/APIReference/API_Encapsulate.html
https://docs.aws.amazon.com/kms/latest/APIReference/API_Decapsulate.html
"""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.caller import Caller
from gateway.errors import InvalidCiphertextException
from gateway.keys.model import Key
from gateway.kms.checks import dry_run, incompatible, usable_for
from gateway.kms.keyspecs import ENCAPSULATE_DECAPSULATE, KEM_CIPHERTEXT_BYTES
from gateway.kms.service import Kms

ML_KEM = "ML_KEM"


async def _key(kms: Kms, caller: Caller, req: dict[str, Any], operation: str) -> Key:
    key = await kms.keys.resolve(caller, req["KeyId"])
    kms.charge_crypto(caller, operation, key.key_spec)
    usable_for(key, operation, ENCAPSULATE_DECAPSULATE)
    algorithm = req["EncapsulationAlgorithm"]
    if algorithm != ML_KEM:  # the model's only value; shape validation normally catches it
        raise incompatible(algorithm, key)
    return key


async def encapsulate(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Encapsulate.html"""
    key = await _key(kms, caller, req, "Encapsulate")
    dry_run(req)
    public: Any = (await kms.handles.load(kms.keys, key)).public
    secret, ciphertext = await asyncio.to_thread(public.encapsulate)
    return {
        "KeyId": key.arn,
        "SharedSecret": bytes(secret),
        "SharedSecretCiphertextBlob": bytes(ciphertext),
        "EncapsulationAlgorithm": ML_KEM,
    }


async def decapsulate(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Decapsulate.html"""
    key = await _key(kms, caller, req, "Decapsulate")
    ciphertext = req["SharedSecretCiphertextBlob"]
    expected = KEM_CIPHERTEXT_BYTES[key.key_spec]
    if len(ciphertext) != expected:
        raise InvalidCiphertextException(
            f"The SharedSecretCiphertextBlob is {len(ciphertext)} bytes; a {key.key_spec} "
            f"ciphertext is {expected} bytes."
        )
    dry_run(req)
    private: Any = (await kms.handles.load(kms.keys, key)).private
    try:
        secret = await asyncio.to_thread(private.decapsulate, ciphertext)
    except ValueError:  # only a malformed length; checked above
        raise InvalidCiphertextException(
            "The SharedSecretCiphertextBlob is not a valid ML-KEM ciphertext."
        ) from None
    return {"KeyId": key.arn, "SharedSecret": bytes(secret), "EncapsulationAlgorithm": ML_KEM}
