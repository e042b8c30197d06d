"""KeyMetadata as DescribeKey, CreateKey and friends return it."""

from __future__ import annotations

from typing import Any

from gateway.keys.blob import material_id
from gateway.keys.model import Key, KeyState
from gateway.kms.keyspecs import CUSTOMER_MASTER_KEY_SPECS, SPECS


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
        "KeySpec": key.key_spec,
        "MultiRegion": key.multi_region,
    }
    if key.key_spec in CUSTOMER_MASTER_KEY_SPECS:  # the deprecated field lacks newer specs
        meta["CustomerMasterKeySpec"] = key.key_spec
    spec = SPECS.get(key.key_spec)
    if spec is not None:
        meta.update(spec.algorithms(key.key_usage))
    if key.key_spec == "SYMMETRIC_DEFAULT" and key.origin == "AWS_KMS":
        meta["CurrentKeyMaterialId"] = material_id(key)
    if key.state is KeyState.PENDING_DELETION:
        meta["DeletionDate"] = key.deletion_date
    if key.multi_region:
        meta["MultiRegionConfiguration"] = {
            "MultiRegionKeyType": "PRIMARY",
            "PrimaryKey": {"Arn": key.arn, "Region": key.region},
            "ReplicaKeys": [],
        }
    return meta
