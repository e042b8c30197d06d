"""Key material for each key spec: generation (PKCS#8 DER or raw HMAC bytes) and loading.

Asymmetric material is stored as unencrypted PKCS#8 DER (wrapped under the root key like
every material version); HMAC material is the raw key. Generation of RSA keys is slow
(RSA_4096 takes about a second), so callers run ``generate`` off the event loop.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, rsa

from gateway.kms.keyspecs import Family, KeySpec, spec_of

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
    "ECC_SECG_P256K1": ec.SECP256K1,
}
_ML_DSA: dict[str, Any] = {
    "ML_DSA_44": mldsa.MLDSA44PrivateKey,
    "ML_DSA_65": mldsa.MLDSA65PrivateKey,
    "ML_DSA_87": mldsa.MLDSA87PrivateKey,
}
_ML_KEM: dict[str, Any] = {
    "ML_KEM_768": mlkem.MLKEM768PrivateKey,
    "ML_KEM_1024": mlkem.MLKEM1024PrivateKey,
}
SYMMETRIC_MATERIAL_BYTES = 32


def curve_for(spec_name: str) -> ec.EllipticCurve:
    return _CURVES[spec_name]()


def _private_key(spec: KeySpec) -> Any:
    if spec.family is Family.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=spec.bits)
    if spec.family is Family.ECC:
        return ec.generate_private_key(curve_for(spec.name))
    if spec.family is Family.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    if spec.family is Family.ML_DSA:
        return _ML_DSA[spec.name].generate()
    if spec.family is Family.ML_KEM:
        return _ML_KEM[spec.name].generate()
    raise ValueError(f"{spec.name} has no private key")


def pkcs8(private_key: Any) -> bytes:
    return bytes(
        private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def spki(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def generate(spec_name: str) -> bytes:
    """Fresh material for a key of this spec (CPU-heavy for RSA: run off the loop)."""
    spec = spec_of(spec_name)
    if spec.family is Family.SYMMETRIC:
        return os.urandom(SYMMETRIC_MATERIAL_BYTES)
    if spec.family is Family.HMAC:
        return os.urandom(spec.bits // 8)
    return pkcs8(_private_key(spec))


def generate_pair(spec_name: str) -> tuple[bytes, bytes]:
    """A data key pair: (PKCS#8 DER private key, SPKI DER public key)."""
    key = _private_key(spec_of(spec_name))
    return pkcs8(key), spki(key.public_key())


def load_private(material: bytes) -> Any:
    """A ``cryptography`` private key object from stored PKCS#8 DER."""
    return serialization.load_der_private_key(material, password=None)
