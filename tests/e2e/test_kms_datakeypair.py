"""GenerateDataKeyPair(+WithoutPlaintext) through boto3: every supported KeyPairSpec."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tests.e2e.test_kms_keys import error_of

CONTEXT = {"purpose": "data key pair"}
PAIR_SPECS = {
    "RSA_2048": (rsa.RSAPrivateKey, 2048),
    "RSA_3072": (rsa.RSAPrivateKey, 3072),
    "RSA_4096": (rsa.RSAPrivateKey, 4096),
    "ECC_NIST_P256": (ec.EllipticCurvePrivateKey, "secp256r1"),
    "ECC_NIST_P384": (ec.EllipticCurvePrivateKey, "secp384r1"),
    "ECC_NIST_P521": (ec.EllipticCurvePrivateKey, "secp521r1"),
    "ECC_SECG_P256K1": (ec.EllipticCurvePrivateKey, "secp256k1"),
}


def _check_pair(private_der: bytes, public_der: bytes, spec: str) -> None:
    private = serialization.load_der_private_key(private_der, password=None)
    kind, size = PAIR_SPECS[spec]
    assert isinstance(private, kind)
    if isinstance(private, rsa.RSAPrivateKey):
        assert private.key_size == size
        sig = private.sign(b"m", padding.PKCS1v15(), hashes.SHA256())
        serialization.load_der_public_key(public_der).verify(
            sig, b"m", padding.PKCS1v15(), hashes.SHA256()
        )
    else:
        assert private.curve.name == size
        sig = private.sign(b"m", ec.ECDSA(hashes.SHA256()))
        serialization.load_der_public_key(public_der).verify(sig, b"m", ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("spec", list(PAIR_SPECS))
def test_generate_data_key_pair(kms, key_id, spec):
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec=spec, EncryptionContext=CONTEXT)
    assert out["KeyPairSpec"] == spec and out["KeyId"].endswith(key_id)
    _check_pair(out["PrivateKeyPlaintext"], out["PublicKey"], spec)
    back = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext=CONTEXT)
    assert back["Plaintext"] == out["PrivateKeyPlaintext"]
    with pytest.raises(ClientError) as excinfo:  # bound to the encryption context
        kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "ECC_SECG_P256K1"])
def test_generate_data_key_pair_without_plaintext(kms, key_id, spec):
    out = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in out and out["KeyPairSpec"] == spec
    private = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])["Plaintext"]
    _check_pair(private, out["PublicKey"], spec)


def test_generate_ed25519_data_key_pair(kms, key_id):
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_EDWARDS25519")
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    serialization.load_der_public_key(out["PublicKey"]).verify(private.sign(b"m"), b"m")
    back = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"])["Plaintext"]
    assert back == out["PrivateKeyPlaintext"]


def test_data_key_pair_errors(kms, key_id):
    with pytest.raises(ClientError) as excinfo:
        kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="SM2")
    assert error_of(excinfo)[0] == "UnsupportedOperationException"
    signing_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    for call in (kms.generate_data_key_pair, kms.generate_data_key_pair_without_plaintext):
        with pytest.raises(ClientError) as excinfo:
            call(KeyId=signing_key["KeyId"], KeyPairSpec="ECC_NIST_P256")
        assert error_of(excinfo)[0] == "InvalidKeyUsageException"
        with pytest.raises(ClientError) as excinfo:
            call(KeyId=key_id, KeyPairSpec="ECC_NIST_P256", DryRun=True)
        assert error_of(excinfo)[0] == "DryRunOperationException"
