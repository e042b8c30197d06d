"""Request checks shared by the cryptographic operations, with AWS's errors and messages."""

from __future__ import annotations

from typing import Any

from gateway.errors import (
    DryRunOperationException,
    InvalidKeyUsageException,
    UnsupportedOperationException,
)
from gateway.keys.model import Key
from gateway.kms.keyspecs import SPECS, KeySpec
from gateway.kms.states import check_state


def dry_run(req: dict[str, Any]) -> None:
    """Raise DryRunOperationException once every other check has passed."""
    if req.get("DryRun"):
        raise DryRunOperationException(
            "The request would have succeeded, but the DryRun option is set."
        )


def reject_recipient(req: dict[str, Any]) -> None:
    if "Recipient" in req:
        raise UnsupportedOperationException(
            "Recipient (Nitro Enclaves attestation) is not supported by this gateway."
        )


def wrong_usage(key: Key, operation: str) -> InvalidKeyUsageException:
    return InvalidKeyUsageException(
        f"{key.arn} key usage is {key.key_usage} which is not valid for {operation}."
    )


def incompatible(algorithm: str, key: Key) -> InvalidKeyUsageException:
    return InvalidKeyUsageException(
        f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}."
    )


def usable_for(key: Key, operation: str, usage: str) -> KeySpec:
    """Check state and key usage for ``operation``; returns the key's spec."""
    check_state(key, operation)
    if key.key_usage != usage:
        raise wrong_usage(key, operation)
    return SPECS[key.key_spec]
