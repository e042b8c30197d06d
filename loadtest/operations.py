"""Request parameters of the KMS operations under test, and the key each one needs."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field

# CreateKey parameters of the key an operation runs against.
SYMMETRIC_KEY: dict[str, object] = {}
SIGN_KEY: dict[str, object] = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}
MAC_KEY: dict[str, object] = {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}

KEY_KIND = {
    "Encrypt": "symmetric",
    "GenerateDataKey": "symmetric",
    "Decrypt": "symmetric",
    "ReEncrypt": "symmetric",
    "Sign": "sign",
    "Verify": "sign",
    "GenerateMac": "mac",
}
CREATE_KEY = {"symmetric": SYMMETRIC_KEY, "sign": SIGN_KEY, "mac": MAC_KEY}
OPERATIONS = tuple(KEY_KIND)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True, slots=True)
class Shape:
    """Sizes and context of the requests: the knobs of a run."""

    plaintext_bytes: int = 32
    data_key_spec: str = "AES_256"  # or "" to ask NumberOfBytes=data_key_bytes
    data_key_bytes: int = 32
    message_bytes: int = 64
    encryption_context: dict[str, str] = field(default_factory=dict)


def _with_context(params: dict[str, object], shape: Shape, name: str) -> dict[str, object]:
    if shape.encryption_context:
        params[name] = shape.encryption_context
    return params


def encrypt(key_id: str, shape: Shape) -> dict[str, object]:
    params: dict[str, object] = {
        "KeyId": key_id,
        "Plaintext": b64(os.urandom(shape.plaintext_bytes)),
    }
    return _with_context(params, shape, "EncryptionContext")


def generate_data_key(key_id: str, shape: Shape) -> dict[str, object]:
    params: dict[str, object] = {"KeyId": key_id}
    if shape.data_key_spec:
        params["KeySpec"] = shape.data_key_spec
    else:
        params["NumberOfBytes"] = shape.data_key_bytes
    return _with_context(params, shape, "EncryptionContext")


def decrypt(ciphertext: bytes, shape: Shape) -> dict[str, object]:
    return _with_context({"CiphertextBlob": b64(ciphertext)}, shape, "EncryptionContext")


def re_encrypt(ciphertext: bytes, destination_key_id: str, shape: Shape) -> dict[str, object]:
    params: dict[str, object] = {
        "CiphertextBlob": b64(ciphertext),
        "DestinationKeyId": destination_key_id,
    }
    _with_context(params, shape, "SourceEncryptionContext")
    return _with_context(params, shape, "DestinationEncryptionContext")


def sign(key_id: str, shape: Shape) -> dict[str, object]:
    return {
        "KeyId": key_id,
        "Message": b64(os.urandom(shape.message_bytes)),
        "MessageType": "RAW",
        "SigningAlgorithm": "ECDSA_SHA_256",
    }


def verify(key_id: str, message: bytes, signature: bytes) -> dict[str, object]:
    return {
        "KeyId": key_id,
        "Message": b64(message),
        "MessageType": "RAW",
        "Signature": b64(signature),
        "SigningAlgorithm": "ECDSA_SHA_256",
    }


def generate_mac(key_id: str, shape: Shape) -> dict[str, object]:
    return {
        "KeyId": key_id,
        "Message": b64(os.urandom(shape.message_bytes)),
        "MacAlgorithm": "HMAC_SHA_256",
    }
