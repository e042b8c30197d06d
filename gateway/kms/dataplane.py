"""The data path: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(+WithoutPlaintext),
GenerateRandom. AES-256-GCM goes through the crypto batcher; RSA ENCRYPT_DECRYPT keys
through asymmetric_crypto.

API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from typing import Any

from gateway.caller import Caller
from gateway.crypto import AuthenticationError
from gateway.errors import (
    CustomKeyStoreNotFoundException,
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    ValidationException,
)
from gateway.keys import blob
from gateway.keys.blob import material_id
from gateway.keys.context import encode_context
from gateway.keys.model import Key
from gateway.kms import asymmetric_crypto
from gateway.kms.checks import dry_run, incompatible, reject_recipient, wrong_usage
from gateway.kms.keyspecs import SPECS
from gateway.kms.service import Kms
from gateway.kms.states import check_state

SYMMETRIC = "SYMMETRIC_DEFAULT"
DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}


def _check_usable(key: Key, operation: str, algorithm: str | None) -> str:
    """Check state, usage and algorithm; returns the algorithm the operation uses."""
    check_state(key, operation)
    if key.key_usage != "ENCRYPT_DECRYPT":
        raise wrong_usage(key, operation)
    effective = algorithm or SYMMETRIC
    if effective not in SPECS[key.key_spec].encryption_algorithms:
        raise incompatible(effective, key)
    return effective


def check_symmetric(key: Key, operation: str) -> None:
    """Data keys and data key pairs are only made under symmetric encryption keys."""
    _check_usable(key, operation, None)


def _is_rsa(key: Key) -> bool:
    return key.key_spec.startswith("RSA_")


# seal and _encrypt_with run once per Encrypt and GenerateDataKey: they are plain functions
# returning what the caller awaits (with cached material, the batcher's future itself),
# not coroutines wrapping it.


def seal(kms: Kms, key: Key, plaintext: bytes, context: dict[str, str] | None) -> Awaitable[bytes]:
    """A KMS ciphertext blob of ``plaintext`` under a symmetric key's current material."""
    version = key.current_version
    material = kms.keys.cached_material(key, version)
    if material is None:
        return _seal_loading(kms, key, version, plaintext, context)
    return _seal_with(kms, key, version, material, plaintext, context)


async def _seal_loading(
    kms: Kms, key: Key, version: int, plaintext: bytes, context: dict[str, str] | None
) -> bytes:
    material = await kms.keys.material(key, version)
    if material is None:
        raise InvalidKeyUsageException(f"{key.arn} has no key material.")
    return await _seal_with(kms, key, version, material, plaintext, context)


def _seal_with(
    kms: Kms,
    key: Key,
    version: int,
    material: bytes,
    plaintext: bytes,
    context: dict[str, str] | None,
) -> Awaitable[bytes]:
    header = blob.header_for(key.key_id, version)
    # The native core writes the whole blob (header || iv || ciphertext || tag) at once;
    # the header is authenticated as part of the AAD.
    return kms.crypto.seal_blob(material, header, plaintext, header + encode_context(context))


def _encrypt_with(
    kms: Kms, key: Key, plaintext: bytes, context: dict[str, str] | None, algorithm: str
) -> Awaitable[bytes]:
    if _is_rsa(key):
        asymmetric_crypto.refuse_context(context)
        return asymmetric_crypto.encrypt(kms, key, plaintext, algorithm)
    return seal(kms, key, plaintext, context)


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
) -> tuple[Key, bytes, str, int | None]:
    """Decrypt a blob; every failure that is not about the named key is one error.

    Returns the key, the plaintext, the algorithm and the material version a symmetric
    blob named (None for an asymmetric ciphertext)."""
    requested = (
        (kms.keys.cached(caller, key_ref) or await kms.keys.resolve(caller, key_ref))
        if key_ref is not None
        else None
    )
    if requested is not None:
        # A named key is checked before the blob is read: one that cannot decrypt (a
        # signing, MAC or disabled key) is refused for what it is, whatever the blob holds.
        if charge:
            kms.charge_crypto(caller, operation, requested.key_spec)
        used = _check_usable(requested, operation, algorithm)
        if _is_rsa(requested):
            # Asymmetric ciphertexts carry no key id: Decrypt needs the KeyId to get here.
            asymmetric_crypto.refuse_context(context)
            plaintext = await asymmetric_crypto.decrypt(kms, requested, data, used)
            return requested, plaintext, used, None
    try:
        header, key_id, version = blob.read_header(data)
    except ValueError:
        if charge and requested is None:
            kms.charge_crypto(caller, operation, SYMMETRIC)
        raise InvalidCiphertextException("") from None
    if requested is not None and requested.key_id != key_id:
        raise IncorrectKeyException(
            "The key ID in the request does not identify a CMK that can perform this operation."
        )
    key = (
        requested
        or kms.keys.cached(caller, key_id)
        or await kms.keys.get(caller.account, caller.region, key_id)
    )
    if charge and requested is None:
        kms.charge_crypto(caller, operation, key.key_spec if key else SYMMETRIC)
    if key is None:
        raise InvalidCiphertextException("")
    if key is not requested:
        used = _check_usable(key, operation, algorithm)
    material = kms.keys.cached_material(key, version) or await kms.keys.material(key, version)
    if material is None:
        raise InvalidCiphertextException("")
    try:
        # The native core reads the iv, ciphertext and tag out of the blob itself; the
        # header is authenticated as part of the AAD.
        plaintext = await kms.crypto.open_blob(
            material, data, header + encode_context(context), skip=blob.HEADER_SIZE
        )
    except AuthenticationError:
        raise InvalidCiphertextException("") from None
    return key, plaintext, used, version


async def encrypt(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html"""
    key = kms.keys.cached(caller, req["KeyId"]) or await kms.keys.resolve(caller, req["KeyId"])
    kms.charge_crypto(caller, "Encrypt", key.key_spec)
    algorithm = _check_usable(key, "Encrypt", req.get("EncryptionAlgorithm"))
    context = req.get("EncryptionContext")
    if _is_rsa(key):
        asymmetric_crypto.refuse_context(context)
        asymmetric_crypto.check_plaintext(key, req["Plaintext"], algorithm)
    dry_run(req)
    ciphertext = await _encrypt_with(kms, key, req["Plaintext"], context, algorithm)
    return {"CiphertextBlob": ciphertext, "KeyId": key.arn, "EncryptionAlgorithm": algorithm}


def _ignores_ciphertext(req: dict[str, Any]) -> bool:
    """A dry run that checks the key and leaves the ciphertext alone (DryRunModifiers
    IGNORE_CIPHERTEXT, which applies only when DryRun is true)."""
    return bool(req.get("DryRun")) and "IGNORE_CIPHERTEXT" in (req.get("DryRunModifiers") or ())


def _require_ciphertext(req: dict[str, Any]) -> None:
    # Optional in the model only for IGNORE_CIPHERTEXT dry runs; required in every other case.
    if "CiphertextBlob" not in req:
        raise ValidationException(
            "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
            "constraint: Member must not be null"
        )


async def _dry_run_without_ciphertext(
    kms: Kms,
    caller: Caller,
    operation: str,
    req: dict[str, Any],
    key_member: str,
    algorithm: str | None,
    context: dict[str, str] | None,
    *,
    charge: bool,
) -> None:
    """Every check a ciphertext's key would pass, on the key named in ``key_member``; then
    DryRunOperationException. Without a ciphertext that key can only come from the request."""
    key_ref = req.get(key_member)
    if key_ref is None:
        raise ValidationException(
            f"{key_member} is required when DryRun is true and DryRunModifiers includes "
            "IGNORE_CIPHERTEXT."
        )
    key = kms.keys.cached(caller, key_ref) or await kms.keys.resolve(caller, key_ref)
    if charge:
        kms.charge_crypto(caller, operation, key.key_spec)
    _check_usable(key, operation, algorithm)
    if _is_rsa(key):
        asymmetric_crypto.refuse_context(context)
    dry_run(req)


async def decrypt(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html"""
    reject_recipient(req)
    if _ignores_ciphertext(req):
        await _dry_run_without_ciphertext(
            kms,
            caller,
            "Decrypt",
            req,
            "KeyId",
            req.get("EncryptionAlgorithm"),
            req.get("EncryptionContext"),
            charge=True,
        )
    _require_ciphertext(req)
    key, plaintext, algorithm, version = await _open(
        kms,
        caller,
        "Decrypt",
        req["CiphertextBlob"],
        req.get("EncryptionContext"),
        req.get("KeyId"),
        req.get("EncryptionAlgorithm"),
        charge=True,
    )
    dry_run(req)
    answer = {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": algorithm}
    if version is not None:
        answer["KeyMaterialId"] = material_id(key, version)
    return answer


async def re_encrypt(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ReEncrypt.html"""
    ignores_ciphertext = _ignores_ciphertext(req)
    if not ignores_ciphertext:
        _require_ciphertext(req)
    destination = await kms.keys.resolve(caller, req["DestinationKeyId"])
    # One ReEncrypt is one request: it counts against the destination key's type.
    kms.charge_crypto(caller, "ReEncrypt", destination.key_spec)
    target_algorithm = _check_usable(
        destination, "ReEncrypt", req.get("DestinationEncryptionAlgorithm")
    )
    target_context = req.get("DestinationEncryptionContext")
    if _is_rsa(destination):
        asymmetric_crypto.refuse_context(target_context)
    if ignores_ciphertext:
        await _dry_run_without_ciphertext(
            kms,
            caller,
            "ReEncrypt",
            req,
            "SourceKeyId",
            req.get("SourceEncryptionAlgorithm"),
            req.get("SourceEncryptionContext"),
            charge=False,
        )
    source, plaintext, source_algorithm, source_version = await _open(
        kms,
        caller,
        "ReEncrypt",
        req["CiphertextBlob"],
        req.get("SourceEncryptionContext"),
        req.get("SourceKeyId"),
        req.get("SourceEncryptionAlgorithm"),
        charge=False,
    )
    if _is_rsa(destination):
        asymmetric_crypto.check_plaintext(destination, plaintext, target_algorithm)
    dry_run(req)
    ciphertext = await _encrypt_with(kms, destination, plaintext, target_context, target_algorithm)
    answer = {
        "CiphertextBlob": ciphertext,
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": source_algorithm,
        "DestinationEncryptionAlgorithm": target_algorithm,
    }
    if source_version is not None:
        answer["SourceKeyMaterialId"] = material_id(source, source_version)
    if not _is_rsa(destination):  # sealed under its current material (``seal``)
        answer["DestinationKeyMaterialId"] = material_id(destination)
    return answer


def _data_key_size(req: dict[str, Any]) -> int:
    spec, count = req.get("KeySpec"), req.get("NumberOfBytes")
    if (spec is None) == (count is None):
        raise ValidationException("Please specify either number of bytes or key spec.")
    if spec is not None:
        return DATA_KEY_BYTES[spec]
    return int(count)  # type: ignore[arg-type]  # not None: exactly one of the two is set


async def _generate_data_key(
    kms: Kms, caller: Caller, req: dict[str, Any], operation: str
) -> tuple[Key, bytes, bytes]:
    size = _data_key_size(req)
    key = kms.keys.cached(caller, req["KeyId"]) or await kms.keys.resolve(caller, req["KeyId"])
    check_symmetric(key, operation)
    dry_run(req)
    plaintext = os.urandom(size)
    ciphertext = await seal(kms, key, plaintext, req.get("EncryptionContext"))
    return key, plaintext, ciphertext


async def generate_data_key(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKey.html"""
    reject_recipient(req)
    key, plaintext, ciphertext = await _generate_data_key(kms, caller, req, "GenerateDataKey")
    return {
        "CiphertextBlob": ciphertext,
        "Plaintext": plaintext,
        "KeyId": key.arn,
        "KeyMaterialId": material_id(key),
    }


async def generate_data_key_without_plaintext(
    kms: Kms, caller: Caller, req: dict[str, Any]
) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateDataKeyWithoutPlaintext.html"""
    key, _, ciphertext = await _generate_data_key(
        kms, caller, req, "GenerateDataKeyWithoutPlaintext"
    )
    return {
        "CiphertextBlob": ciphertext,
        "KeyId": key.arn,
        "KeyMaterialId": material_id(key),
    }


async def generate_random(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateRandom.html"""
    reject_recipient(req)
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
