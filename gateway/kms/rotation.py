"""Key rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
RotateKeyOnDemand, ListKeyRotations, and the sweep that rotates keys when they are due.

A rotation adds a fresh material version to a symmetric encryption key and makes it the
current one, in one store transaction: new ciphertexts are sealed under it, and every
older version stays to decrypt what was sealed under it (the blob names its version).
Automatic rotation happens ``RotationPeriodInDays`` after it was enabled, then every period
after the last automatic rotation; on-demand rotations leave that schedule as it is. A key
that is disabled when its rotation falls due is rotated once it is enabled again.

API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gateway.caller import Caller
from gateway.errors import (
    InvalidMarkerException,
    LimitExceededException,
    NotFoundException,
    UnsupportedOperationException,
)
from gateway.keys.blob import material_id
from gateway.keys.model import Key, KeyState, WrappedMaterial
from gateway.keys.rootkey import material_aad
from gateway.kms import keymaterial
from gateway.kms.dataplane import SYMMETRIC
from gateway.kms.paging import decode_marker, limit_of, page
from gateway.kms.service import Kms
from gateway.kms.states import check_state
from gateway.kms.sweeping import sweep_forever
from gateway.store.base import LimitReachedError, MissingError

log = logging.getLogger("gateway.kms.rotation")

DEFAULT_PERIOD_DAYS = 365
AUTOMATIC, ON_DEMAND = "AUTOMATIC", "ON_DEMAND"


def _rotatable(key: Key, operation: str) -> None:
    """Only symmetric encryption keys of AWS_KMS origin rotate (the API reference)."""
    check_state(key, operation)
    _check_symmetric(key, operation)


def _check_symmetric(key: Key, operation: str) -> None:
    if key.key_spec != SYMMETRIC or key.origin != "AWS_KMS":
        raise UnsupportedOperationException(
            f"{key.arn} key spec is {key.key_spec} which is not valid for {operation}: "
            "only symmetric encryption KMS keys rotate."
        )


async def enable_key_rotation(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html"""
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)
    period = req.get("RotationPeriodInDays", DEFAULT_PERIOD_DAYS)  # 90-2560, by the model
    now = kms.clock()

    def enable(current: Key) -> Key:
        _rotatable(current, "EnableKeyRotation")
        start = now  # the schedule counts from the enable that turned rotation on
        if current.rotation_period_days is not None and current.next_rotation is not None:
            # Already on: keep its start, so a repeated call moves nothing and a new
            # period applies from the same start (a date already past rotates at once).
            start = current.next_rotation - current.rotation_period_days * kms.day_seconds
        return current.copy(
            rotation_period_days=period, next_rotation=start + period * kms.day_seconds
        )

    await kms.keys.modify(key, enable)
    return {}


async def disable_key_rotation(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_DisableKeyRotation.html"""
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)

    def disable(current: Key) -> Key:
        _rotatable(current, "DisableKeyRotation")
        return current.copy(rotation_period_days=None, next_rotation=None)

    await kms.keys.modify(key, disable)
    return {}


async def get_key_rotation_status(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyRotationStatus.html"""
    # A key ID or key ARN (no alias). HMAC and asymmetric keys read false, as in AWS; so
    # does a key pending deletion, whose rotation is suspended (the Developer Guide).
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)
    answer: dict[str, Any] = {"KeyRotationEnabled": False, "KeyId": key.arn}
    pending = key.state in (KeyState.PENDING_DELETION, KeyState.PENDING_REPLICA_DELETION)
    if key.rotation_period_days is not None and not pending:
        answer["KeyRotationEnabled"] = True
        answer["RotationPeriodInDays"] = key.rotation_period_days
        answer["NextRotationDate"] = key.next_rotation
    return answer


async def rotate_key_on_demand(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_RotateKeyOnDemand.html"""
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)

    def rotate(current: Key) -> Key:
        _rotatable(current, "RotateKeyOnDemand")
        return current  # the automatic schedule stays as it is

    limit = kms.limit(caller, "kms:OnDemandRotationsPerKey")
    try:
        await rotate_key(kms, key, ON_DEMAND, rotate, max_of_type=limit)
    except LimitReachedError:
        raise LimitExceededException(
            f"{key.arn} has been rotated on demand {limit} times, the most a key can be."
        ) from None
    return {"KeyId": key.arn}


async def list_key_rotations(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeyRotations.html"""
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)
    _check_symmetric(key, "ListKeyRotations")
    limit = limit_of("ListKeyRotations", req)
    first = _first_version(decode_marker(req.get("Marker")))
    materials = await kms.store.get_materials(key.account, key.region, key.key_id)
    # The newest stored version is the current one (a rotation commits both together);
    # this worker's cached key may be a rotation behind for a moment.
    current = max(material.version for material in materials)
    everything = req.get("IncludeKeyMaterial") == "ALL_KEY_MATERIAL"
    entries = []
    for material in materials:
        if material.version < first:
            continue
        if material.rotation_type is None and not everything:
            continue  # the first material is no rotation
        entry: dict[str, Any] = {
            "KeyId": key.arn,
            "KeyMaterialId": material_id(key, material.version),
            "KeyMaterialState": "CURRENT" if material.version == current else "NON_CURRENT",
        }
        if material.rotation_type is not None:
            entry["RotationDate"] = material.created
            entry["RotationType"] = material.rotation_type
        entries.append((material.version, entry))
        if len(entries) > limit:
            break
    items, paging = page(entries, limit, lambda item: str(item[0]))
    return {"Rotations": [entry for _, entry in items], **paging}


def _first_version(after: str | None) -> int:
    """The version a page starts at: 1, or the one after the marker's (a version number)."""
    if after is None:
        return 1
    if not (after.isascii() and after.isdigit()) or int(after) < 1:
        raise InvalidMarkerException("Invalid marker")
    return int(after) + 1


async def rotate_key(
    kms: Kms,
    key: Key,
    rotation_type: str,
    change: Callable[[Key], Key | None],
    *,
    max_of_type: int | None = None,
) -> Key | None:
    """Add fresh material to ``key`` as its next version and make it current, if ``change``
    (applied to the stored key, in the same transaction) does not decline with None."""

    def material_for(version: int) -> WrappedMaterial:
        # Wrapped inside the transaction: the version it is bound to is exactly the next.
        material = keymaterial.generate(key.key_spec)
        wrapped = kms.root_key.wrap(material, material_aad(key.arn, version))
        return WrappedMaterial(key.key_id, version, wrapped, kms.clock(), rotation_type)

    try:
        rotated = await kms.store.rotate_key(
            key.account, key.region, key.key_id, material_for, change, max_of_type=max_of_type
        )
    except MissingError:
        raise NotFoundException(f"Key '{key.arn}' does not exist") from None
    if rotated is not None:
        # The next seal uses the new version; this worker's material cache reloads.
        kms.keys.forget(key.account, key.region, key.key_id)
        kms.keys.remember(rotated)
        log.info(
            "key rotated",
            extra={"event": "RotateKey", "key_arn": key.arn, "rotation_type": rotation_type},
        )
    return rotated


async def rotate_due_keys(kms: Kms) -> int:
    """Rotate every enabled key whose automatic rotation is due; returns how many."""
    rotated = 0
    now = kms.clock()

    def due(current: Key) -> Key | None:
        return still_due(current, now, kms.day_seconds)

    for key in await kms.store.keys_due_for_rotation(now):
        try:
            if await rotate_key(kms, key, AUTOMATIC, due) is not None:
                rotated += 1
        except NotFoundException:
            continue  # deleted meanwhile
    return rotated


def still_due(current: Key, now: float, day_seconds: float) -> Key | None:
    """The key with its next rotation scheduled, if its automatic rotation is due at ``now``;
    else None. Checked inside the rotation's transaction: another worker may have rotated
    the key, or rotation or the key been disabled, since the sweep listed it."""
    if (
        current.state is not KeyState.ENABLED
        or current.rotation_period_days is None
        or current.next_rotation is None
        or current.next_rotation > now
    ):
        return None
    return current.copy(next_rotation=now + current.rotation_period_days * day_seconds)


async def run_rotation_sweeper(kms: Kms, interval: float) -> None:
    await sweep_forever(rotate_due_keys, kms, interval, log)
