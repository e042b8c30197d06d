"""HMAC keys through boto3: GenerateMac and VerifyMac, checked against Python's hmac."""

from __future__ import annotations

import hmac

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_kms_keys import error_of

SPECS = {"HMAC_224": "sha224", "HMAC_256": "sha256", "HMAC_384": "sha384", "HMAC_512": "sha512"}


@pytest.fixture(scope="module")
def hmac_keys(gateway):
    kms = gateway.client("kms")
    return {
        spec: kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
        for spec in SPECS
    }


@pytest.mark.parametrize("spec", list(SPECS))
def test_generate_and_verify_mac(kms, hmac_keys, spec):
    meta = hmac_keys[spec]
    algorithm = "HMAC_SHA_" + spec[5:]
    assert meta["MacAlgorithms"] == [algorithm] and meta["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert "EncryptionAlgorithms" not in meta and "SigningAlgorithms" not in meta
    out = kms.generate_mac(KeyId=meta["KeyId"], Message=b"message", MacAlgorithm=algorithm)
    assert out["MacAlgorithm"] == algorithm and out["KeyId"] == meta["Arn"]
    assert len(out["Mac"]) == int(spec[5:]) // 8
    # Deterministic: the same message gives the same tag; another message another tag.
    again = kms.generate_mac(KeyId=meta["KeyId"], Message=b"message", MacAlgorithm=algorithm)
    assert again["Mac"] == out["Mac"]
    other = kms.generate_mac(KeyId=meta["KeyId"], Message=b"messagf", MacAlgorithm=algorithm)
    assert other["Mac"] != out["Mac"]
    ok = kms.verify_mac(
        KeyId=meta["KeyId"], Message=b"message", Mac=out["Mac"], MacAlgorithm=algorithm
    )
    assert ok["MacValid"] is True and ok["MacAlgorithm"] == algorithm
    for bad in (other["Mac"], out["Mac"][:-1], bytes([out["Mac"][0] ^ 1]) + out["Mac"][1:]):
        with pytest.raises(ClientError) as excinfo:
            kms.verify_mac(KeyId=meta["KeyId"], Message=b"message", Mac=bad, MacAlgorithm=algorithm)
        assert error_of(excinfo)[0] == "KMSInvalidMacException"


def test_a_mac_from_another_key_does_not_verify(kms, hmac_keys):
    other = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    mac = kms.generate_mac(KeyId=other["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert len(mac) == hmac.new(b"k", b"m", "sha256").digest_size
    with pytest.raises(ClientError) as excinfo:
        kms.verify_mac(
            KeyId=hmac_keys["HMAC_256"]["KeyId"], Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256"
        )
    assert error_of(excinfo)[0] == "KMSInvalidMacException"


def test_mac_errors(kms, hmac_keys, key_id):
    meta = hmac_keys["HMAC_256"]
    with pytest.raises(ClientError) as excinfo:
        kms.generate_mac(KeyId=meta["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_384")
    assert error_of(excinfo) == (
        "InvalidKeyUsageException",
        "Algorithm HMAC_SHA_384 is incompatible with key spec HMAC_256.",
    )
    with pytest.raises(ClientError) as excinfo:
        kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    code, message = error_of(excinfo)
    assert code == "InvalidKeyUsageException" and "not valid for GenerateMac" in message
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=meta["KeyId"], Plaintext=b"m")
    assert error_of(excinfo)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as excinfo:
        kms.generate_mac(
            KeyId=meta["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256", DryRun=True
        )
    assert error_of(excinfo)[0] == "DryRunOperationException"
    mac = kms.generate_mac(KeyId=meta["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    with pytest.raises(ClientError) as excinfo:
        kms.verify_mac(
            KeyId=meta["KeyId"], Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256", DryRun=True
        )
    assert error_of(excinfo)[0] == "DryRunOperationException"


def test_disabled_hmac_key_refuses_macs(kms):
    key_id = kms.create_key(KeySpec="HMAC_512", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"][
        "KeyId"
    ]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as excinfo:
        kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_512")
    assert error_of(excinfo)[0] == "DisabledException"
