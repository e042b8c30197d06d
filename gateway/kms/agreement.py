"""DeriveSharedSecret: ECDH between a KEY_AGREEMENT key and a peer's public key.

The shared secret is the raw ECDH output (the x coordinate), as KMS returns it; callers
run it through a KDF themselves. API reference:
https://docs.aws.amazon.com/kms/latest/APIReference/API_DeriveSharedSecret.html
"""

from __future__ import annotations

import asyncio
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.caller import Caller
from gateway.errors import ValidationException
from gateway.kms.checks import dry_run, incompatible, reject_recipient, usable_for
from gateway.kms.keymaterial import curve_for
from gateway.kms.keyspecs import KEY_AGREEMENT
from gateway.kms.service import Kms


def _peer(der: bytes, spec_name: str) -> ec.EllipticCurvePublicKey:
    expected = curve_for(spec_name)
    try:
        peer = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        peer = None
    if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != expected.name:
        raise ValidationException(
            f"PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo of a {spec_name} "
            "public key."
        )
    return peer


async def derive_shared_secret(kms: Kms, caller: Caller, req: dict[str, Any]) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_DeriveSharedSecret.html"""
    reject_recipient(req)
    key = await kms.keys.resolve(caller, req["KeyId"])
    kms.charge_crypto(caller, "DeriveSharedSecret", key.key_spec)
    usable_for(key, "DeriveSharedSecret", KEY_AGREEMENT)
    algorithm = req["KeyAgreementAlgorithm"]
    if algorithm != "ECDH":
        raise incompatible(algorithm, key)
    peer = _peer(req["PublicKey"], key.key_spec)
    dry_run(req)
    private: Any = (await kms.handles.load(kms.keys, key)).private
    secret = await asyncio.to_thread(private.exchange, ec.ECDH(), peer)
    return {
        "KeyId": key.arn,
        "SharedSecret": bytes(secret),
        "KeyAgreementAlgorithm": "ECDH",
        "KeyOrigin": key.origin,
    }
