"""The KMS operation registry, keyed by the full X-Amz-Target (``TrentService.Encrypt``).

An entry carries the handler, the operation name the request shape and metrics use, and
the quota charges made before the body is parsed.
Dispatch never looks a handler up by attribute name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.caller import Caller
from gateway.kms import (
    agreement,
    aliases,
    datakeypairs,
    dataplane,
    encapsulation,
    keypolicy,
    keys,
    mac,
    publickey,
    rotation,
    signing,
    tags,
)
from gateway.kms.service import Kms
from gateway.quotas.enforcer import Charge
from gateway.quotas.kms import charges_for, needs_params

Handler = Callable[[Kms, Caller, dict[str, Any]], Awaitable[dict[str, Any]]]

TARGET_PREFIX = "TrentService"


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    handler: Handler
    # Charged before parsing; empty when the handler charges (key-typed operations).
    charges: tuple[Charge, ...]
    # True when the charges depend on the request body (charged right after parsing).
    charges_need_params: bool = False


_HANDLERS: dict[str, Handler] = {
    "CreateKey": keys.create_key,
    "DescribeKey": keys.describe_key,
    "ListKeys": keys.list_keys,
    "EnableKey": keys.enable_key,
    "DisableKey": keys.disable_key,
    "UpdateKeyDescription": keys.update_key_description,
    "ScheduleKeyDeletion": keys.schedule_key_deletion,
    "CancelKeyDeletion": keys.cancel_key_deletion,
    "GetKeyPolicy": keypolicy.get_key_policy,
    "PutKeyPolicy": keypolicy.put_key_policy,
    "ListKeyPolicies": keypolicy.list_key_policies,
    "EnableKeyRotation": rotation.enable_key_rotation,
    "DisableKeyRotation": rotation.disable_key_rotation,
    "GetKeyRotationStatus": rotation.get_key_rotation_status,
    "RotateKeyOnDemand": rotation.rotate_key_on_demand,
    "ListKeyRotations": rotation.list_key_rotations,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListResourceTags": tags.list_resource_tags,
    "CreateAlias": aliases.create_alias,
    "UpdateAlias": aliases.update_alias,
    "DeleteAlias": aliases.delete_alias,
    "ListAliases": aliases.list_aliases,
    "Encrypt": dataplane.encrypt,
    "Decrypt": dataplane.decrypt,
    "ReEncrypt": dataplane.re_encrypt,
    "GenerateDataKey": dataplane.generate_data_key,
    "GenerateDataKeyWithoutPlaintext": dataplane.generate_data_key_without_plaintext,
    "GenerateRandom": dataplane.generate_random,
    "Sign": signing.sign,
    "Verify": signing.verify,
    "GetPublicKey": publickey.get_public_key,
    "GenerateMac": mac.generate_mac,
    "VerifyMac": mac.verify_mac,
    "GenerateDataKeyPair": datakeypairs.generate_data_key_pair,
    "GenerateDataKeyPairWithoutPlaintext": datakeypairs.generate_data_key_pair_without_plaintext,
    "DeriveSharedSecret": agreement.derive_shared_secret,
    "Encapsulate": encapsulation.encapsulate,
    "Decapsulate": encapsulation.decapsulate,
}

OPERATIONS: dict[str, Operation] = {
    f"{TARGET_PREFIX}.{name}": Operation(name, handler, charges_for(name), needs_params(name))
    for name, handler in _HANDLERS.items()
}
