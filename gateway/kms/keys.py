"""Key lifecycle: CreateKey, DescribeKey, ListKeys, Enable/Disable, description, deletion.

API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from gateway.caller import Caller
from gateway.errors import (
    CustomKeyStoreNotFoundException,
    LimitExceededException,
    UnsupportedOperationException,
    ValidationException,
)
from gateway.keys.model import Key, KeyState, WrappedMaterial
from gateway.keys.rootkey import material_aad
from gateway.kms import keymaterial
from gateway.kms.keypolicy import default_policy, validate_policy
from gateway.kms.keyspecs import REFUSED, SPECS, Family
from gateway.kms.metadata import key_metadata
from gateway.kms.paging import decode_marker, limit_of, page
from gateway.kms.service import Kms
from gateway.kms.states import check_state
from gateway.kms.tags import tags_from_wire
from gateway.store.base import LimitReachedError


def _validation(value: object, member: str, constraint: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{member}' "
        f"failed to satisfy constraint: {constraint}"
    )


async def create_key(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html"""
    spec = req.get("KeySpec") or req.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if "KeySpec" in req and "CustomerMasterKeySpec" in req:
        raise ValidationException(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
            "CustomerMasterKeySpec is deprecated."
        )
    usage = req.get("KeyUsage", "ENCRYPT_DECRYPT")
    origin = req.get("Origin", "AWS_KMS")
    if "CustomKeyStoreId" in req or origin in ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"):
        raise CustomKeyStoreNotFoundException(
            "Custom key stores are not supported by this gateway."
        )
    if "XksKeyId" in req:
        # The API reference: "not valid for KMS keys with any other Origin value" than
        # EXTERNAL_KEY_STORE (refused above).
        raise ValidationException(
            "XksKeyId is valid only for a KMS key whose Origin is EXTERNAL_KEY_STORE."
        )
    if origin != "AWS_KMS":
        raise UnsupportedOperationException(
            f"Origin {origin} is not supported by this gateway yet."
        )
    if spec in REFUSED:
        raise UnsupportedOperationException(REFUSED[spec])
    if spec not in SPECS:
        raise UnsupportedOperationException(f"KeySpec {spec} is not supported by this gateway.")
    if usage not in SPECS[spec].usages:
        raise ValidationException(f"KeyUsage {usage} is not compatible with KeySpec {spec}")
    policy = req.get("Policy")
    if policy is None:
        policy = default_policy(caller.account)
    else:
        validate_policy(policy, kms.limit(caller, "kms:KeyPolicySize"))
    tags = tags_from_wire(req.get("Tags", []), {}, kms.limit(caller, "kms:TagsPerKey"))
    max_keys = kms.limit(caller, "kms:KeysPerRegion")

    multi_region = bool(req.get("MultiRegion", False))
    key_id = "mrk-" + uuid.uuid4().hex if multi_region else str(uuid.uuid4())
    now = kms.clock()
    key = Key(
        account=caller.account,
        region=caller.region,
        key_id=key_id,
        created=now,
        key_spec=spec,
        key_usage=usage,
        origin=origin,
        description=req.get("Description", ""),
        policy=policy,
        tags=tags,
        multi_region=multi_region,
    )
    if SPECS[spec].family in (Family.SYMMETRIC, Family.HMAC):
        material = keymaterial.generate(spec)
    else:  # key-pair generation is CPU-heavy (RSA_4096: about a second): off the loop
        material = await asyncio.to_thread(keymaterial.generate, spec)
    wrapped = kms.root_key.wrap(material, material_aad(key.arn, 1))
    try:
        await kms.store.create_key(key, WrappedMaterial(key_id, 1, wrapped, now), max_keys=max_keys)
    except LimitReachedError:
        raise LimitExceededException(
            f"The request would exceed the limit of {max_keys} KMS keys in this account and Region."
        ) from None
    kms.keys.remember(key)
    return {"KeyMetadata": key_metadata(key)}


async def describe_key(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html"""
    key = await kms.keys.resolve(caller, req["KeyId"])
    return {"KeyMetadata": key_metadata(key)}


async def list_keys(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeys.html"""
    limit = limit_of("ListKeys", req)
    after = decode_marker(req.get("Marker"))
    if "SELF" not in req.get("ResourceOwners", ("SELF",)):
        # Only keys shared through AWS RAM asked for: none are, here.
        return {"Keys": [], "Truncated": False}
    found = await kms.store.list_keys(caller.account, caller.region, after, limit + 1)
    keys, paging = page(found, limit, lambda k: k.key_id)
    return {"Keys": [{"KeyId": k.key_id, "KeyArn": k.arn} for k in keys], **paging}


async def _change(kms: Kms, caller: Caller, ref: str, operation: str, **changes: Any) -> Key:
    """Apply a metadata change to a key named by id or ARN (no aliases), durably."""
    key = await kms.keys.resolve(caller, ref, aliases=False)
    if "state" in changes:
        kms.quotas.charge_key_state_change(caller.account, caller.region, key.key_id)

    def change(current: Key) -> Key:
        check_state(current, operation)
        return current.copy(**changes)

    return await kms.keys.modify(key, change)


async def enable_key(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKey.html"""
    await _change(kms, caller, req["KeyId"], "EnableKey", state=KeyState.ENABLED)
    return {}


async def disable_key(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_DisableKey.html"""
    await _change(kms, caller, req["KeyId"], "DisableKey", state=KeyState.DISABLED)
    return {}


async def update_key_description(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_UpdateKeyDescription.html"""
    await _change(kms, caller, req["KeyId"], "UpdateKeyDescription", description=req["Description"])
    return {}


async def schedule_key_deletion(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html"""
    days = req.get("PendingWindowInDays", 30)
    if days < 7:
        raise _validation(
            days, "pendingWindowInDays", "Member must have value greater than or equal to 7"
        )
    if days > 30:
        raise _validation(
            days, "pendingWindowInDays", "Member must have value less than or equal to 30"
        )
    deletion_date = kms.clock() + days * kms.day_seconds
    key = await _change(
        kms,
        caller,
        req["KeyId"],
        "ScheduleKeyDeletion",
        state=KeyState.PENDING_DELETION,
        deletion_date=deletion_date,
        pending_window_days=days,
    )
    return {
        "KeyId": key.arn,
        "DeletionDate": key.deletion_date,
        "KeyState": key.state.value,
        "PendingWindowInDays": days,
    }


async def cancel_key_deletion(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_CancelKeyDeletion.html"""
    key = await _change(
        kms,
        caller,
        req["KeyId"],
        "CancelKeyDeletion",
        state=KeyState.DISABLED,  # the guide: cancelling always leaves the key Disabled
        deletion_date=None,
        pending_window_days=None,
    )
    return {"KeyId": key.arn}
