"""GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.

The private key (PKCS#8 DER) is encrypted under a symmetric encryption key exactly as
Encrypt does, so Decrypt of PrivateKeyCiphertextBlob returns it. Key-pair generation runs
on a worker thread (RSA_4096 takes about a second). API reference:
https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKeyPair.html
"""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.caller import Caller
from gateway.errors import UnsupportedOperationException
from gateway.keys.blob import material_id
from gateway.keys.model import Key
from gateway.kms import keymaterial
from gateway.kms.checks import dry_run, reject_recipient
from gateway.kms.dataplane import check_symmetric, seal
from gateway.kms.keyspecs import DATA_KEY_PAIR_SPECS
from gateway.kms.service import Kms


async def _generate(
    kms: Kms, caller: Caller, req: dict[str, Any], operation: str
) -> tuple[Key, bytes, bytes, bytes]:
    key = await kms.keys.resolve(caller, req["KeyId"])
    check_symmetric(key, operation)
    pair_spec = req["KeyPairSpec"]
    if pair_spec not in DATA_KEY_PAIR_SPECS:
        why = {
            "SM2": "SM2 is only available in the AWS China Regions",
            "ML_KEM_512": "its cryptography library provides ML-KEM-768 and ML-KEM-1024 only",
        }.get(pair_spec, "not supported yet")
        raise UnsupportedOperationException(
            f"KeyPairSpec {pair_spec} is not supported by this gateway ({why})."
        )
    dry_run(req)
    private, public = await asyncio.to_thread(keymaterial.generate_pair, pair_spec)
    ciphertext = await seal(kms, key, private, req.get("EncryptionContext"))
    return key, private, public, ciphertext


async def generate_data_key_pair(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKeyPair.html"""
    reject_recipient(req)
    key, private, public, ciphertext = await _generate(kms, caller, req, "GenerateDataKeyPair")
    return {
        "PrivateKeyCiphertextBlob": ciphertext,
        "PrivateKeyPlaintext": private,
        "PublicKey": public,
        "KeyId": key.arn,
        "KeyPairSpec": req["KeyPairSpec"],
        "KeyMaterialId": material_id(key),
    }


async def generate_data_key_pair_without_plaintext(
    kms: Kms, caller: Caller, req: dict[str, Any]
) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKeyPairWithoutPlaintext.html"""
    key, _, public, ciphertext = await _generate(
        kms, caller, req, "GenerateDataKeyPairWithoutPlaintext"
    )
    return {
        "PrivateKeyCiphertextBlob": ciphertext,
        "PublicKey": public,
        "KeyId": key.arn,
        "KeyPairSpec": req["KeyPairSpec"],
        "KeyMaterialId": material_id(key),
    }
