"""Which KMS quota each operation counts against (kms-digest §7.2-7.3).

Most operations have a fixed quota; Encrypt, Decrypt, ReEncrypt, Sign and Verify count
against the quota of the key's type, known once the key is resolved; GenerateDataKeyPair
counts against its KeyPairSpec's row; ReplicateKey and UpdatePrimaryRegion count in two
regions.
"""

from __future__ import annotations

from typing import Any

from gateway.quotas.enforcer import Charge
from gateway.quotas.table import (
    DEFAULT_QUOTAS,
    ECC,
    ML_DSA,
    ML_KEM,
    RSA,
    SM,
    SYMMETRIC,
    key_pair_quota,
)

# Operations whose quota depends on the key: their handlers charge after resolving it.
# DeriveSharedSecret (ECDH, newer than the guide) counts like the other ECC operations;
# Encapsulate/Decapsulate (ML-KEM keys only) count against the ML-KEM row.
KEY_TYPED = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
        "Encapsulate",
        "Decapsulate",
    }
)

_ALWAYS_SYMMETRIC = frozenset(
    {
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "VerifyMac",
        "GenerateRandom",
    }
)


def crypto_quota(key_spec: str) -> str:
    """The shared cryptographic quota a key of this spec counts against."""
    if key_spec.startswith("RSA_"):
        return RSA
    if key_spec.startswith("ECC_"):
        return ECC
    if key_spec == "SM2":
        return SM
    if key_spec.startswith("ML_DSA_"):
        return ML_DSA
    if key_spec.startswith("ML_KEM_"):
        return ML_KEM
    return SYMMETRIC  # SYMMETRIC_DEFAULT and HMAC keys share it (§7.3)


def charges_for(operation: str, params: dict[str, Any] | None = None) -> tuple[Charge, ...]:
    """The charges an operation makes before any work; empty for KEY_TYPED operations.

    ``params`` is needed only by the operations whose charges depend on the request.
    """
    if operation in KEY_TYPED:
        return ()
    if operation in _ALWAYS_SYMMETRIC:
        return (Charge(SYMMETRIC),)
    if operation in ("GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"):
        quota = key_pair_quota((params or {}).get("KeyPairSpec", ""))
        # A spec without a quota row is one the handler refuses (SM2, newer model specs).
        return (Charge(quota),) if quota in DEFAULT_QUOTAS else ()
    if operation == "ReplicateKey":
        # One ReplicateKey here, and two CreateKey in the replica's region (one a dry run).
        replica = (params or {}).get("ReplicaRegion")
        return (Charge("kms:ReplicateKey"), Charge("kms:CreateKey", 2, replica))
    if operation == "UpdatePrimaryRegion":
        # Counts once in each affected region.
        primary = (params or {}).get("PrimaryRegion")
        return (Charge("kms:UpdatePrimaryRegion"), Charge("kms:UpdatePrimaryRegion", 1, primary))
    return (Charge(f"kms:{operation}"),)


def needs_params(operation: str) -> bool:
    return operation in (
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReplicateKey",
        "UpdatePrimaryRegion",
    )
