"""The symmetric data path: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(+WithoutPlaintext),
GenerateRandom. AES-256-GCM goes through the crypto batcher.

API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html
"""

from __future__ import annotations

import os
from typing import Any

from gateway.caller import Caller
from gateway.crypto import AuthenticationError
from gateway.errors import (
    CustomKeyStoreNotFoundException,
    DryRunOperationException,
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    UnsupportedOperationException,
    ValidationException,
)
from gateway.keys import blob
from gateway.keys.context import encode_context
from gateway.keys.model import Key
from gateway.kms.service import Kms
from gateway.kms.states import check_state

SYMMETRIC = "SYMMETRIC_DEFAULT"
DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}


def _dry_run(req: dict[str, Any]) -> None:
    if req.get("DryRun"):
        raise DryRunOperationException(
            "The request would have succeeded, but the DryRun option is set."
        )


def _check_usable(key: Key, operation: str, algorithm: str | None) -> None:
    check_state(key, operation)
    if key.key_usage != "ENCRYPT_DECRYPT":
        raise InvalidKeyUsageException(
            f"{key.arn} key usage is {key.key_usage} which is not valid for {operation}."
        )
    if algorithm not in (None, SYMMETRIC):
        raise InvalidKeyUsageException(
            f"The encryption algorithm {algorithm} is not valid for {key.arn}."
        )


def _reject_recipient(req: dict[str, Any]) -> None:
    if "Recipient" in req:
        raise UnsupportedOperationException(
            "Recipient (Nitro Enclaves attestation) is not supported by this gateway."
        )


async def _seal(kms: Kms, key: Key, plaintext: bytes, context: dict[str, str] | None) -> bytes:
    material = await kms.keys.material(key, key.current_version)
    if material is None:
        raise InvalidKeyUsageException(f"{key.arn} has no key material.")
    header = blob.header_for(key.key_id, key.current_version)
    sealed = await kms.crypto.seal(material, plaintext, header + encode_context(context))
    return blob.encode(header, sealed.iv, sealed.ciphertext, sealed.tag)


async def _open(
    kms: Kms,
    caller: Caller,
    operation: str,
    data: bytes,
    context: dict[str, str] | None,
    key_ref: str | None,
    algorithm: str | None,
    *,
    charge: bool,
) -> tuple[Key, bytes]:
    """Decrypt a blob; every failure that is not about the named key is one error."""
    requested = await kms.keys.resolve(caller, key_ref) if key_ref is not None else None
    try:
        parsed = blob.decode(data)
    except ValueError:
        if charge:
            kms.charge_crypto(caller, operation, requested.key_spec if requested else SYMMETRIC)
        raise InvalidCiphertextException("") from None
    if requested is not None and requested.key_id != parsed.key_id:
        raise IncorrectKeyException(
            "The key ID in the request does not identify a CMK that can perform this operation."
        )
    key = requested or await kms.keys.get(caller.account, caller.region, parsed.key_id)
    if charge:
        kms.charge_crypto(caller, operation, key.key_spec if key else SYMMETRIC)
    if key is None:
        raise InvalidCiphertextException("")
    _check_usable(key, operation, algorithm)
    material = await kms.keys.material(key, parsed.version)
    if material is None:
        raise InvalidCiphertextException("")
    try:
        plaintext = await kms.crypto.open(
            material,
            parsed.iv,
            parsed.ciphertext,
            parsed.tag,
            parsed.header + encode_context(context),
        )
    except AuthenticationError:
        raise InvalidCiphertextException("") from None
    return key, plaintext


async def encrypt(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html"""
    key = await kms.keys.resolve(caller, req["KeyId"])
    kms.charge_crypto(caller, "Encrypt", key.key_spec)
    _check_usable(key, "Encrypt", req.get("EncryptionAlgorithm"))
    _dry_run(req)
    ciphertext = await _seal(kms, key, req["Plaintext"], req.get("EncryptionContext"))
    return {"CiphertextBlob": ciphertext, "KeyId": key.arn, "EncryptionAlgorithm": SYMMETRIC}


async def decrypt(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html"""
    _reject_recipient(req)
    if "CiphertextBlob" not in req:
        raise ValidationException(
            "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
            "constraint: Member must not be null"
        )
    key, plaintext = await _open(
        kms,
        caller,
        "Decrypt",
        req["CiphertextBlob"],
        req.get("EncryptionContext"),
        req.get("KeyId"),
        req.get("EncryptionAlgorithm"),
        charge=True,
    )
    _dry_run(req)
    return {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": SYMMETRIC}


async def re_encrypt(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ReEncrypt.html"""
    destination = await kms.keys.resolve(caller, req["DestinationKeyId"])
    # One ReEncrypt is one request: it counts against the destination key's type.
    kms.charge_crypto(caller, "ReEncrypt", destination.key_spec)
    _check_usable(destination, "ReEncrypt", req.get("DestinationEncryptionAlgorithm"))
    source, plaintext = await _open(
        kms,
        caller,
        "ReEncrypt",
        req["CiphertextBlob"],
        req.get("SourceEncryptionContext"),
        req.get("SourceKeyId"),
        req.get("SourceEncryptionAlgorithm"),
        charge=False,
    )
    _dry_run(req)
    ciphertext = await _seal(kms, destination, plaintext, req.get("DestinationEncryptionContext"))
    return {
        "CiphertextBlob": ciphertext,
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": SYMMETRIC,
        "DestinationEncryptionAlgorithm": SYMMETRIC,
    }


def _data_key_size(req: dict[str, Any]) -> int:
    spec, count = req.get("KeySpec"), req.get("NumberOfBytes")
    if (spec is None) == (count is None):
        raise ValidationException("Please specify either number of bytes or key spec.")
    return DATA_KEY_BYTES[spec] if spec is not None else count


async def _generate_data_key(
    kms: Kms, caller: Caller, req: dict[str, Any], operation: str
) -> tuple[Key, bytes, bytes]:
    size = _data_key_size(req)
    key = await kms.keys.resolve(caller, req["KeyId"])
    _check_usable(key, operation, None)
    _dry_run(req)
    plaintext = os.urandom(size)
    ciphertext = await _seal(kms, key, plaintext, req.get("EncryptionContext"))
    return key, plaintext, ciphertext


async def generate_data_key(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKey.html"""
    _reject_recipient(req)
    key, plaintext, ciphertext = await _generate_data_key(kms, caller, req, "GenerateDataKey")
    return {"CiphertextBlob": ciphertext, "Plaintext": plaintext, "KeyId": key.arn}


async def generate_data_key_without_plaintext(
    kms: Kms, caller: Caller, req: dict[str, Any]
) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKeyWithoutPlaintext.html"""
    key, _, ciphertext = await _generate_data_key(
        kms, caller, req, "GenerateDataKeyWithoutPlaintext"
    )
    return {"CiphertextBlob": ciphertext, "KeyId": key.arn}


async def generate_random(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateRandom.html"""
    _reject_recipient(req)
    if "CustomKeyStoreId" in req:
        raise CustomKeyStoreNotFoundException(
            "Custom key stores are not supported by this gateway."
        )
    if "NumberOfBytes" not in req:
        raise ValidationException(
            "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy "
            "constraint: Member must not be null"
        )
    return {"Plaintext": os.urandom(req["NumberOfBytes"])}
