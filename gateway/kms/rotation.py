"""Key rotation: GetKeyRotationStatus.

Rotation cannot be turned on here yet (EnableKeyRotation, DisableKeyRotation,
RotateKeyOnDemand and ListKeyRotations answer UnsupportedOperationException), so every key's
status is rotation disabled, which is also what AWS reports for HMAC and asymmetric keys.
Tools read it for every key they manage (Terraform's aws_kms_key does on each refresh).

API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyRotationStatus.html
"""

from __future__ import annotations

from typing import Any

from gateway.caller import Caller
from gateway.kms.service import Kms


async def get_key_rotation_status(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyRotationStatus.html"""
    # A key ID or key ARN (no alias); every key state this gateway has allows it.
    key = await kms.keys.resolve(caller, req["KeyId"], aliases=False)
    return {"KeyRotationEnabled": False, "KeyId": key.arn}
