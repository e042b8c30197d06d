"""GenerateMac and VerifyMac with HMAC keys (HMAC_224/256/384/512, RFC 2104).

HMAC over at most 4096 bytes costs microseconds, so it runs on the loop thread.
API reference: https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateMac.html
"""

from __future__ import annotations

import hmac
from typing import Any

from gateway.caller import Caller
from gateway.errors import KMSInternalException, KMSInvalidMacException
from gateway.keys.model import Key
from gateway.kms.checks import dry_run, incompatible, usable_for
from gateway.kms.keyspecs import GENERATE_VERIFY_MAC, MAC_HASH
from gateway.kms.service import Kms


async def _mac(kms: Kms, caller: Caller, req: dict[str, Any], operation: str) -> tuple[Key, bytes]:
    key = await kms.keys.resolve(caller, req["KeyId"])
    spec = usable_for(key, operation, GENERATE_VERIFY_MAC)
    algorithm = req["MacAlgorithm"]
    if algorithm not in spec.mac:
        raise incompatible(algorithm, key)
    dry_run(req)
    material = await kms.keys.material(key, key.current_version)
    if material is None:
        raise KMSInternalException("The key has no key material.")
    return key, hmac.digest(material, req["Message"], MAC_HASH[algorithm])


async def generate_mac(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateMac.html"""
    key, tag = await _mac(kms, caller, req, "GenerateMac")
    return {"Mac": tag, "MacAlgorithm": req["MacAlgorithm"], "KeyId": key.arn}


async def verify_mac(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_VerifyMac.html"""
    key, tag = await _mac(kms, caller, req, "VerifyMac")
    if not hmac.compare_digest(tag, req["Mac"]):
        raise KMSInvalidMacException("")
    return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": req["MacAlgorithm"]}
