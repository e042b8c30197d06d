"""GetPublicKey: the DER SubjectPublicKeyInfo of an asymmetric key, with its usage facts.

API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_GetPublicKey.html
"""

from __future__ import annotations

from typing import Any

from gateway.caller import Caller
from gateway.errors import UnsupportedOperationException
from gateway.kms.keyspecs import CUSTOMER_MASTER_KEY_SPECS, SPECS
from gateway.kms.service import Kms
from gateway.kms.states import check_state


async def get_public_key(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GetPublicKey.html"""
    key = await kms.keys.resolve(caller, req["KeyId"])
    check_state(key, "GetPublicKey")
    spec = SPECS[key.key_spec]
    if not spec.asymmetric:
        raise UnsupportedOperationException(
            f"{key.arn} key spec is {key.key_spec} which is not valid for GetPublicKey: "
            "only asymmetric KMS keys have a public key."
        )
    loaded = await kms.handles.load(kms.keys, key)
    out: dict[str, Any] = {
        "KeyId": key.arn,
        "PublicKey": loaded.spki,
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
        **spec.algorithms(key.key_usage),
    }
    if key.key_spec in CUSTOMER_MASTER_KEY_SPECS:
        out["CustomerMasterKeySpec"] = key.key_spec
    return out
