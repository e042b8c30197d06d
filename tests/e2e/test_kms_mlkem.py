"""ML-KEM keys through boto3: CreateKey, GetPublicKey, Encapsulate, Decapsulate, key pairs.

Secrets are checked against pyca/cryptography: a ciphertext made offline with the public
key GetPublicKey returns decapsulates through the gateway to the offline secret.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from tests.e2e.test_kms_keys import error_of

USAGE = "ENCAPSULATE_DECAPSULATE"
SPECS = {
    "ML_KEM_768": (mlkem.MLKEM768PublicKey, mlkem.MLKEM768PrivateKey, 1088),
    "ML_KEM_1024": (mlkem.MLKEM1024PublicKey, mlkem.MLKEM1024PrivateKey, 1568),
}


@pytest.fixture(scope="module")
def keys(gateway):
    """One ML-KEM key per spec, created once for the module."""
    kms = gateway.client("kms")
    made: dict[str, str] = {}

    def get(spec: str) -> str:
        if spec not in made:
            made[spec] = kms.create_key(KeySpec=spec, KeyUsage=USAGE)["KeyMetadata"]["KeyId"]
        return made[spec]

    return get


@pytest.mark.parametrize("spec", list(SPECS))
def test_create_and_describe_ml_kem_key(kms, keys, spec):
    meta = kms.describe_key(KeyId=keys(spec))["KeyMetadata"]
    assert meta["KeySpec"] == spec and meta["KeyUsage"] == USAGE
    assert meta["EncapsulationAlgorithms"] == ["ML_KEM"]
    assert "CustomerMasterKeySpec" not in meta
    for field in ("SigningAlgorithms", "EncryptionAlgorithms", "KeyAgreementAlgorithms"):
        assert field not in meta


@pytest.mark.parametrize("spec", list(SPECS))
def test_offline_encapsulation_decapsulates_in_the_gateway(kms, keys, spec):
    kind, _, length = SPECS[spec]
    key_id = keys(spec)
    out = kms.get_public_key(KeyId=key_id)
    assert out["KeySpec"] == spec and out["KeyUsage"] == USAGE
    assert out["EncapsulationAlgorithms"] == ["ML_KEM"]
    assert "CustomerMasterKeySpec" not in out
    public = serialization.load_der_public_key(out["PublicKey"])  # DER SPKI
    assert isinstance(public, kind)
    secret, ciphertext = public.encapsulate()
    assert len(ciphertext) == length
    back = kms.decapsulate(
        KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
    )
    assert back["SharedSecret"] == secret and len(secret) == 32
    assert back["EncapsulationAlgorithm"] == "ML_KEM" and back["KeyId"].endswith(key_id)


@pytest.mark.parametrize("spec", list(SPECS))
def test_gateway_encapsulation_round_trips(kms, keys, spec):
    key_id = keys(spec)
    out = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    assert out["KeyId"].endswith(key_id) and out["EncapsulationAlgorithm"] == "ML_KEM"
    assert len(out["SharedSecret"]) == 32
    assert len(out["SharedSecretCiphertextBlob"]) == SPECS[spec][2]
    again = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    assert again["SharedSecret"] != out["SharedSecret"]  # fresh every time
    back = kms.decapsulate(
        KeyId=key_id,
        SharedSecretCiphertextBlob=out["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    assert back["SharedSecret"] == out["SharedSecret"]


@pytest.mark.parametrize("spec", list(SPECS))
def test_tampered_ciphertext_is_implicitly_rejected(kms, keys, spec):
    key_id = keys(spec)
    out = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")
    bad = bytearray(out["SharedSecretCiphertextBlob"])
    bad[10] ^= 0x01
    back = kms.decapsulate(
        KeyId=key_id, SharedSecretCiphertextBlob=bytes(bad), EncapsulationAlgorithm="ML_KEM"
    )
    # Not an error: a different, pseudo-random 32-byte secret (FIPS 203 implicit rejection).
    assert len(back["SharedSecret"]) == 32 and back["SharedSecret"] != out["SharedSecret"]
    # The same tampered ciphertext always gives the same rejection secret.
    assert (
        kms.decapsulate(
            KeyId=key_id, SharedSecretCiphertextBlob=bytes(bad), EncapsulationAlgorithm="ML_KEM"
        )["SharedSecret"]
        == back["SharedSecret"]
    )


def test_ciphertext_for_another_key_gives_another_secret(kms, keys):
    other = kms.create_key(KeySpec="ML_KEM_768", KeyUsage=USAGE)["KeyMetadata"]["KeyId"]
    out = kms.encapsulate(KeyId=keys("ML_KEM_768"), EncapsulationAlgorithm="ML_KEM")
    back = kms.decapsulate(
        KeyId=other,
        SharedSecretCiphertextBlob=out["SharedSecretCiphertextBlob"],
        EncapsulationAlgorithm="ML_KEM",
    )
    assert back["SharedSecret"] != out["SharedSecret"]


@pytest.mark.parametrize("length", [1, 768, 1087, 1089, 1568])
def test_wrong_length_ciphertext_is_invalid_ciphertext(kms, keys, length):
    with pytest.raises(ClientError) as excinfo:
        kms.decapsulate(
            KeyId=keys("ML_KEM_768"),
            SharedSecretCiphertextBlob=b"\x01" * length,
            EncapsulationAlgorithm="ML_KEM",
        )
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_ml_kem_1024_ciphertext_length(kms, keys):
    with pytest.raises(ClientError) as excinfo:
        kms.decapsulate(
            KeyId=keys("ML_KEM_1024"),
            SharedSecretCiphertextBlob=b"\x01" * 1088,
            EncapsulationAlgorithm="ML_KEM",
        )
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_create_key_usage_rules(kms):
    for spec, usage in (
        ("ML_KEM_768", "ENCRYPT_DECRYPT"),
        ("ML_KEM_1024", "KEY_AGREEMENT"),
        ("ECC_NIST_P256", USAGE),
        ("ML_DSA_44", USAGE),
        ("RSA_2048", USAGE),
    ):
        with pytest.raises(ClientError) as excinfo:
            kms.create_key(KeySpec=spec, KeyUsage=usage)
        assert error_of(excinfo)[0] == "ValidationException", (spec, usage)
    with pytest.raises(ClientError) as excinfo:  # KeyUsage is required for ML-KEM keys
        kms.create_key(KeySpec="ML_KEM_768")
    assert error_of(excinfo)[0] == "ValidationException"


def test_ml_kem_512_is_refused_with_a_reason(kms, key_id):
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(KeySpec="ML_KEM_512", KeyUsage=USAGE)
    code, message = error_of(excinfo)
    assert code == "UnsupportedOperationException" and "ML_KEM_512" in message
    with pytest.raises(ClientError) as excinfo:
        kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ML_KEM_512")
    code, message = error_of(excinfo)
    assert code == "UnsupportedOperationException" and "ML_KEM_512" in message


def test_wrong_key_usage(kms, keys, key_id):
    ecc = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    for other in (key_id, ecc):
        with pytest.raises(ClientError) as excinfo:
            kms.encapsulate(KeyId=other, EncapsulationAlgorithm="ML_KEM")
        assert error_of(excinfo)[0] == "InvalidKeyUsageException"
        with pytest.raises(ClientError) as excinfo:
            kms.decapsulate(
                KeyId=other,
                SharedSecretCiphertextBlob=b"\x00" * 1088,
                EncapsulationAlgorithm="ML_KEM",
            )
        assert error_of(excinfo)[0] == "InvalidKeyUsageException"
    kem = keys("ML_KEM_768")
    for call in (
        lambda: kms.encrypt(KeyId=kem, Plaintext=b"x"),
        lambda: kms.sign(KeyId=kem, Message=b"m", SigningAlgorithm="ML_DSA_SHAKE_256"),
        lambda: kms.generate_data_key(KeyId=kem, KeySpec="AES_256"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[0] == "InvalidKeyUsageException"


def test_unknown_encapsulation_algorithm_is_a_validation_error(unchecked_kms, keys):
    with pytest.raises(ClientError) as excinfo:
        unchecked_kms.encapsulate(KeyId=keys("ML_KEM_768"), EncapsulationAlgorithm="ECDH")
    assert error_of(excinfo)[0] == "ValidationException"


def test_dry_run(kms, keys):
    key_id = keys("ML_KEM_768")
    with pytest.raises(ClientError) as excinfo:
        kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM", DryRun=True)
    assert error_of(excinfo)[0] == "DryRunOperationException"
    ciphertext = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")[
        "SharedSecretCiphertextBlob"
    ]
    with pytest.raises(ClientError) as excinfo:
        kms.decapsulate(
            KeyId=key_id,
            SharedSecretCiphertextBlob=ciphertext,
            EncapsulationAlgorithm="ML_KEM",
            DryRun=True,
        )
    assert error_of(excinfo)[0] == "DryRunOperationException"
    with pytest.raises(ClientError) as excinfo:  # other checks come before DryRun
        kms.decapsulate(
            KeyId=key_id,
            SharedSecretCiphertextBlob=ciphertext[:-1],
            EncapsulationAlgorithm="ML_KEM",
            DryRun=True,
        )
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_key_state_table(kms):
    key_id = kms.create_key(KeySpec="ML_KEM_768", KeyUsage=USAGE)["KeyMetadata"]["KeyId"]
    ciphertext = kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM")[
        "SharedSecretCiphertextBlob"
    ]
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    calls = (
        lambda: kms.encapsulate(KeyId=key_id, EncapsulationAlgorithm="ML_KEM"),
        lambda: kms.decapsulate(
            KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
        ),
    )
    kms.disable_key(KeyId=key_id)
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("DisabledException", f"{arn} is disabled.")
    kms.enable_key(KeyId=key_id)
    for call in calls:
        call()
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("KMSInvalidStateException", f"{arn} is pending deletion.")


@pytest.mark.parametrize("spec", list(SPECS))
def test_generate_data_key_pair(kms, key_id, spec):
    public_kind, private_kind, _ = SPECS[spec]
    context = {"purpose": "ml-kem pair"}
    out = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec=spec, EncryptionContext=context)
    assert out["KeyPairSpec"] == spec and out["KeyId"].endswith(key_id)
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(out["PublicKey"])
    assert isinstance(private, private_kind) and isinstance(public, public_kind)
    secret, ciphertext = public.encapsulate()
    assert private.decapsulate(ciphertext) == secret  # the two halves belong together
    back = kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext=context)
    assert back["Plaintext"] == out["PrivateKeyPlaintext"]

    bare = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec=spec)
    assert "PrivateKeyPlaintext" not in bare and bare["KeyPairSpec"] == spec
    der = kms.decrypt(CiphertextBlob=bare["PrivateKeyCiphertextBlob"])["Plaintext"]
    private = serialization.load_der_private_key(der, password=None)
    secret, ciphertext = serialization.load_der_public_key(bare["PublicKey"]).encapsulate()
    assert private.decapsulate(ciphertext) == secret
