"""KeyMetadata as DescribeKey, CreateKey and friends return it."""

from __future__ import annotations

from typing import Any

from gateway.keys.model import Key, KeyState

# Algorithms each key spec supports, as DescribeKey lists them.
ENCRYPTION_ALGORITHMS = {"SYMMETRIC_DEFAULT": ["SYMMETRIC_DEFAULT"]}


def key_metadata(key: Key) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "AWSAccountId": key.account,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.created,
        "Enabled": key.state is KeyState.ENABLED,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state.value,
        "Origin": key.origin,
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "MultiRegion": key.multi_region,
    }
    if key.key_spec in ENCRYPTION_ALGORITHMS:
        meta["EncryptionAlgorithms"] = ENCRYPTION_ALGORITHMS[key.key_spec]
    if key.state is KeyState.PENDING_DELETION:
        meta["DeletionDate"] = key.deletion_date
    if key.multi_region:
        meta["MultiRegionConfiguration"] = {
            "MultiRegionKeyType": "PRIMARY",
            "PrimaryKey": {"Arn": key.arn, "Region": key.region},
            "ReplicaKeys": [],
        }
    return meta
