"""Asymmetric keys through boto3: CreateKey specs, Sign/Verify, GetPublicKey, RSA encryption.

Every signature is checked offline with pyca/cryptography using the key GetPublicKey
returns, and one ECC and one RSA signature with the ``openssl`` command line.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa, utils

from tests.e2e.test_kms_keys import error_of

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
ECC_SPECS = {
    "ECC_NIST_P256": ("ECDSA_SHA_256", ec.SECP256R1),
    "ECC_NIST_P384": ("ECDSA_SHA_384", ec.SECP384R1),
    "ECC_NIST_P521": ("ECDSA_SHA_512", ec.SECP521R1),
    "ECC_SECG_P256K1": ("ECDSA_SHA_256", ec.SECP256K1),
}
RSA_SIGNING = [
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
]
MESSAGE = b"the quick brown fox jumps over the lazy dog"


@pytest.fixture(scope="module")
def keys(gateway):
    """One key per (spec, usage), created once for the module (RSA generation is slow)."""
    kms = gateway.client("kms")
    made: dict[tuple[str, str], str] = {}

    def get(spec: str, usage: str = "SIGN_VERIFY") -> str:
        if (spec, usage) not in made:
            meta = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
            made[(spec, usage)] = meta["KeyId"]
        return made[(spec, usage)]

    return get


def public_key(kms, key_id: str):
    der = kms.get_public_key(KeyId=key_id)["PublicKey"]
    return serialization.load_der_public_key(der)


def hash_of(algorithm: str) -> hashes.HashAlgorithm:
    return HASHES[algorithm[-3:]]()


# --- ECC -------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", list(ECC_SPECS))
def test_ecc_signatures_verify_offline_and_in_the_gateway(kms, keys, spec):
    algorithm, curve = ECC_SPECS[spec]
    key_id = keys(spec)
    pub = public_key(kms, key_id)
    assert isinstance(pub, ec.EllipticCurvePublicKey) and isinstance(pub.curve, curve)
    digest = hashlib.new(hash_of(algorithm).name, MESSAGE).digest()
    for message, message_type in ((MESSAGE, "RAW"), (digest, "DIGEST")):
        out = kms.sign(
            KeyId=key_id, Message=message, MessageType=message_type, SigningAlgorithm=algorithm
        )
        assert out["SigningAlgorithm"] == algorithm and out["KeyId"].endswith(key_id)
        sig = out["Signature"]
        assert sig[0] == 0x30  # DER SEQUENCE (RFC 3279 Ecdsa-Sig-Value)
        pub.verify(sig, MESSAGE, ec.ECDSA(hash_of(algorithm)))
        for verify_message, verify_type in ((MESSAGE, "RAW"), (digest, "DIGEST")):
            ok = kms.verify(
                KeyId=key_id,
                Message=verify_message,
                MessageType=verify_type,
                Signature=sig,
                SigningAlgorithm=algorithm,
            )
            assert ok["SignatureValid"] is True and ok["SigningAlgorithm"] == algorithm


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "ECC_NIST_P521"])
def test_offline_ecc_signature_verifies_in_the_gateway(kms, keys, spec):
    """A signature the gateway did not make (over a message it never saw) still verifies."""
    algorithm, _ = ECC_SPECS[spec]
    key_id = keys(spec)
    sig = kms.sign(KeyId=key_id, Message=b"other", SigningAlgorithm=algorithm)["Signature"]
    with pytest.raises(ClientError) as excinfo:
        kms.verify(KeyId=key_id, Message=MESSAGE, Signature=sig, SigningAlgorithm=algorithm)
    assert error_of(excinfo)[0] == "KMSInvalidSignatureException"


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_SECG_P256K1"])
def test_tampered_ecc_signature_is_invalid_signature(kms, keys, spec):
    algorithm, _ = ECC_SPECS[spec]
    key_id = keys(spec)
    sig = bytearray(
        kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm=algorithm)["Signature"]
    )
    for index in (0, 5, len(sig) // 2, len(sig) - 1):
        bad = bytearray(sig)
        bad[index] ^= 0x01
        with pytest.raises(ClientError) as excinfo:
            kms.verify(
                KeyId=key_id, Message=MESSAGE, Signature=bytes(bad), SigningAlgorithm=algorithm
            )
        assert error_of(excinfo)[0] == "KMSInvalidSignatureException", index
    with pytest.raises(ClientError) as excinfo:
        kms.verify(
            KeyId=key_id, Message=MESSAGE + b"!", Signature=bytes(sig), SigningAlgorithm=algorithm
        )
    assert error_of(excinfo)[0] == "KMSInvalidSignatureException"


def test_get_public_key_reports_spec_usage_and_algorithms(kms, keys):
    key_id = keys("ECC_NIST_P256")
    out = kms.get_public_key(KeyId=key_id)
    assert out["KeySpec"] == out["CustomerMasterKeySpec"] == "ECC_NIST_P256"
    assert out["KeyUsage"] == "SIGN_VERIFY"
    assert out["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    assert "EncryptionAlgorithms" not in out and "KeyAgreementAlgorithms" not in out
    der = out["PublicKey"]
    assert (
        serialization.load_der_public_key(der).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == der
    )
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["SigningAlgorithms"] == ["ECDSA_SHA_256"] and "EncryptionAlgorithms" not in meta


def test_get_public_key_refuses_symmetric_and_hmac_keys(kms, key_id):
    with pytest.raises(ClientError) as excinfo:
        kms.get_public_key(KeyId=key_id)
    assert error_of(excinfo)[0] == "UnsupportedOperationException"
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    with pytest.raises(ClientError) as excinfo:
        kms.get_public_key(KeyId=hmac_key["KeyMetadata"]["KeyId"])
    assert error_of(excinfo)[0] == "UnsupportedOperationException"


def test_sign_refuses_wrong_key_usage(kms, keys, key_id):
    for ref in (key_id, keys("RSA_2048", "ENCRYPT_DECRYPT")):
        with pytest.raises(ClientError) as excinfo:
            kms.sign(KeyId=ref, Message=MESSAGE, SigningAlgorithm="RSASSA_PSS_SHA_256")
        code, message = error_of(excinfo)
        assert code == "InvalidKeyUsageException"
        assert "ENCRYPT_DECRYPT which is not valid for Sign" in message


def test_sign_refuses_algorithm_of_another_spec(kms, keys):
    key_id = keys("ECC_NIST_P256")
    for algorithm in ("ECDSA_SHA_384", "RSASSA_PSS_SHA_256", "ED25519_SHA_512"):
        with pytest.raises(ClientError) as excinfo:
            kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm=algorithm)
        assert error_of(excinfo) == (
            "InvalidKeyUsageException",
            f"Algorithm {algorithm} is incompatible with key spec ECC_NIST_P256.",
        )


@pytest.mark.parametrize("length", [0, 20, 31, 33, 48, 64])
def test_digest_of_wrong_length_is_refused(kms, keys, length):
    key_id = keys("ECC_NIST_P256")
    with pytest.raises(ClientError) as excinfo:
        kms.sign(
            KeyId=key_id,
            Message=b"\x01" * length if length else b"",
            MessageType="DIGEST",
            SigningAlgorithm="ECDSA_SHA_256",
        )
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    if length:
        assert message == "Digest is invalid length for algorithm ECDSA_SHA_256."


def test_message_over_4096_bytes_is_refused(kms, unchecked_kms, keys):
    key_id = keys("ECC_NIST_P256")
    kms.sign(KeyId=key_id, Message=b"m" * 4096, SigningAlgorithm="ECDSA_SHA_256")
    with pytest.raises(ClientError) as excinfo:
        unchecked_kms.sign(KeyId=key_id, Message=b"m" * 4097, SigningAlgorithm="ECDSA_SHA_256")
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "4096" in message


def test_sign_and_verify_dry_run(kms, keys):
    key_id = keys("ECC_NIST_P256")
    with pytest.raises(ClientError) as excinfo:
        kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256", DryRun=True)
    assert error_of(excinfo)[0] == "DryRunOperationException"
    sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    with pytest.raises(ClientError) as excinfo:
        kms.verify(
            KeyId=key_id,
            Message=MESSAGE,
            Signature=sig,
            SigningAlgorithm="ECDSA_SHA_256",
            DryRun=True,
        )
    assert error_of(excinfo)[0] == "DryRunOperationException"
    # A dry run still checks the request: a wrong algorithm is not a dry-run success.
    with pytest.raises(ClientError) as excinfo:
        kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_384", DryRun=True)
    assert error_of(excinfo)[0] == "InvalidKeyUsageException"


def test_sign_follows_the_key_state_table(kms):
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    for call in (
        lambda: kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256"),
        lambda: kms.get_public_key(KeyId=key_id),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("DisabledException", f"{_arn(kms, key_id)} is disabled.")
    kms.enable_key(KeyId=key_id)
    kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")


def _arn(kms, key_id: str) -> str:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def test_create_key_refuses_usages_a_spec_does_not_allow(kms):
    for spec, usage in (
        ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
        ("HMAC_256", "ENCRYPT_DECRYPT"),
        ("RSA_2048", "KEY_AGREEMENT"),
        ("ML_DSA_44", "ENCRYPT_DECRYPT"),
    ):
        with pytest.raises(ClientError) as excinfo:
            kms.create_key(KeySpec=spec, KeyUsage=usage)
        assert error_of(excinfo)[0] == "ValidationException", (spec, usage)
    with pytest.raises(ClientError) as excinfo:  # HMAC keys need KeyUsage passed explicitly
        kms.create_key(KeySpec="HMAC_256")
    assert error_of(excinfo)[0] == "ValidationException"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize(
    ("spec", "algorithm", "options"),
    [
        ("ECC_NIST_P256", "ECDSA_SHA_256", []),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", []),
        (
            "RSA_2048",
            "RSASSA_PSS_SHA_256",
            ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"],
        ),
    ],
)
def test_signatures_verify_with_openssl(kms, keys, tmp_path, spec, algorithm, options):
    key_id = keys(spec)
    pem = public_key(kms, key_id).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "pub.pem").write_bytes(pem)
    (tmp_path / "msg").write_bytes(MESSAGE)
    sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm=algorithm)["Signature"]
    (tmp_path / "sig.der").write_bytes(sig)
    result = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            *options,
            "-signature",
            "sig.der",
            "msg",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "Verified OK" in result.stdout, result.stderr


# --- RSA -------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", RSA_SIGNING)
def test_rsa_signatures_verify_offline_and_in_the_gateway(kms, keys, algorithm):
    key_id = keys("RSA_2048")
    pub = public_key(kms, key_id)
    assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == 2048
    digest_alg = hash_of(algorithm)
    if "PSS" in algorithm:  # KMS: MGF1 with the same hash, salt as long as the digest
        pad = padding.PSS(mgf=padding.MGF1(digest_alg), salt_length=digest_alg.digest_size)
    else:
        pad = padding.PKCS1v15()
    digest = hashlib.new(digest_alg.name, MESSAGE).digest()
    for message, message_type in ((MESSAGE, "RAW"), (digest, "DIGEST")):
        sig = kms.sign(
            KeyId=key_id, Message=message, MessageType=message_type, SigningAlgorithm=algorithm
        )["Signature"]
        assert len(sig) == 256
        pub.verify(sig, MESSAGE, pad, hash_of(algorithm))
        pub.verify(sig, digest, pad, utils.Prehashed(hash_of(algorithm)))
        assert kms.verify(KeyId=key_id, Message=MESSAGE, Signature=sig, SigningAlgorithm=algorithm)[
            "SignatureValid"
        ]
        bad = bytearray(sig)
        bad[-1] ^= 1
        with pytest.raises(ClientError) as excinfo:
            kms.verify(
                KeyId=key_id, Message=MESSAGE, Signature=bytes(bad), SigningAlgorithm=algorithm
            )
        assert error_of(excinfo)[0] == "KMSInvalidSignatureException"


def test_rsa_key_metadata_lists_algorithms_per_usage(kms, keys):
    signing = kms.describe_key(KeyId=keys("RSA_2048"))["KeyMetadata"]
    assert signing["SigningAlgorithms"] == RSA_SIGNING and "EncryptionAlgorithms" not in signing
    encrypting = kms.get_public_key(KeyId=keys("RSA_2048", "ENCRYPT_DECRYPT"))
    assert encrypting["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    assert "SigningAlgorithms" not in encrypting and encrypting["KeyUsage"] == "ENCRYPT_DECRYPT"


@pytest.mark.parametrize(
    ("spec", "limits"),
    [("RSA_2048", (214, 190)), ("RSA_3072", (342, 318)), ("RSA_4096", (470, 446))],
)
def test_rsa_oaep_round_trips_and_plaintext_limits(kms, keys, spec, limits):
    key_id = keys(spec, "ENCRYPT_DECRYPT")
    pub = public_key(kms, key_id)
    assert pub.key_size == int(spec[4:])
    for algorithm, limit, digest in zip(
        ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"),
        limits,
        (hashes.SHA1, hashes.SHA256),
        strict=True,
    ):
        plaintext = bytes(range(256))[:limit] if limit <= 256 else b"p" * limit
        out = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionAlgorithm=algorithm)
        assert out["EncryptionAlgorithm"] == algorithm
        assert len(out["CiphertextBlob"]) == pub.key_size // 8  # no KMS header
        back = kms.decrypt(
            KeyId=key_id, CiphertextBlob=out["CiphertextBlob"], EncryptionAlgorithm=algorithm
        )
        assert back["Plaintext"] == plaintext and back["EncryptionAlgorithm"] == algorithm
        # A ciphertext made offline with the public key decrypts through the gateway.
        oaep = padding.OAEP(mgf=padding.MGF1(digest()), algorithm=digest(), label=None)
        offline = pub.encrypt(b"made offline", oaep)
        assert (
            kms.decrypt(KeyId=key_id, CiphertextBlob=offline, EncryptionAlgorithm=algorithm)[
                "Plaintext"
            ]
            == b"made offline"
        )
        with pytest.raises(ClientError) as excinfo:
            kms.encrypt(KeyId=key_id, Plaintext=b"p" * (limit + 1), EncryptionAlgorithm=algorithm)
        assert error_of(excinfo)[0] == "ValidationException"


def test_rsa_encryption_errors(kms, keys, key_id):
    rsa_key = keys("RSA_2048", "ENCRYPT_DECRYPT")
    with pytest.raises(ClientError) as excinfo:  # the algorithm is required
        kms.encrypt(KeyId=rsa_key, Plaintext=b"x")
    assert error_of(excinfo) == (
        "InvalidKeyUsageException",
        "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.",
    )
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(
            KeyId=rsa_key,
            Plaintext=b"x",
            EncryptionAlgorithm="RSAES_OAEP_SHA_256",
            EncryptionContext={"a": "b"},
        )
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:  # a symmetric key has no RSA algorithms
        kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error_of(excinfo)[0] == "InvalidKeyUsageException"
    blob = kms.encrypt(KeyId=rsa_key, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")[
        "CiphertextBlob"
    ]
    with pytest.raises(ClientError) as excinfo:  # without the KeyId it is no KMS blob
        kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert error_of(excinfo)[0] == "InvalidCiphertextException"
    with pytest.raises(ClientError) as excinfo:  # the other OAEP hash does not decrypt it
        kms.decrypt(KeyId=rsa_key, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert error_of(excinfo)[0] == "InvalidCiphertextException"
    with pytest.raises(ClientError) as excinfo:
        kms.generate_data_key(KeyId=rsa_key, KeySpec="AES_256")
    assert error_of(excinfo)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(
            KeyId=keys("RSA_2048"), Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
        )
    assert error_of(excinfo)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(
            KeyId=rsa_key, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256", DryRun=True
        )
    assert error_of(excinfo)[0] == "DryRunOperationException"


def test_a_dry_run_refuses_a_plaintext_too_long_for_the_rsa_key(kms, keys, key_id):
    # A dry run answers DryRunOperationException only if the real call would succeed.
    rsa_key = keys("RSA_2048", "ENCRYPT_DECRYPT")
    algorithm = "RSAES_OAEP_SHA_256"  # at most 190 bytes with RSA_2048
    for dry in (False, True):
        with pytest.raises(ClientError) as excinfo:
            kms.encrypt(
                KeyId=rsa_key, Plaintext=b"a" * 191, EncryptionAlgorithm=algorithm, DryRun=dry
            )
        assert error_of(excinfo)[0] == "ValidationException"
    long_blob = kms.encrypt(KeyId=key_id, Plaintext=b"z" * 191)["CiphertextBlob"]
    for dry in (False, True):
        with pytest.raises(ClientError) as excinfo:
            kms.re_encrypt(
                CiphertextBlob=long_blob,
                DestinationKeyId=rsa_key,
                DestinationEncryptionAlgorithm=algorithm,
                DryRun=dry,
            )
        assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:  # 190 bytes fit: the dry run would succeed
        kms.encrypt(KeyId=rsa_key, Plaintext=b"a" * 190, EncryptionAlgorithm=algorithm, DryRun=True)
    assert error_of(excinfo)[0] == "DryRunOperationException"


def test_re_encrypt_between_rsa_and_symmetric_keys(kms, keys, key_id):
    rsa_key = keys("RSA_3072", "ENCRYPT_DECRYPT")
    blob = kms.encrypt(KeyId=rsa_key, Plaintext=b"move me", EncryptionAlgorithm="RSAES_OAEP_SHA_1")[
        "CiphertextBlob"
    ]
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceKeyId=rsa_key,
        SourceEncryptionAlgorithm="RSAES_OAEP_SHA_1",
        DestinationKeyId=key_id,
        DestinationEncryptionContext={"k": "v"},
    )
    assert moved["SourceEncryptionAlgorithm"] == "RSAES_OAEP_SHA_1"
    assert moved["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    sym_blob = moved["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=sym_blob, EncryptionContext={"k": "v"})["Plaintext"] == (
        b"move me"
    )
    back = kms.re_encrypt(
        CiphertextBlob=sym_blob,
        SourceEncryptionContext={"k": "v"},
        DestinationKeyId=rsa_key,
        DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    assert back["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    assert (
        kms.decrypt(
            KeyId=rsa_key,
            CiphertextBlob=back["CiphertextBlob"],
            EncryptionAlgorithm="RSAES_OAEP_SHA_256",
        )["Plaintext"]
        == b"move me"
    )


# --- ECDH (KEY_AGREEMENT) ----------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"])
def test_derive_shared_secret_matches_cryptography(kms, keys, spec):
    key_id = keys(spec, "KEY_AGREEMENT")
    out = kms.get_public_key(KeyId=key_id)
    assert out["KeyUsage"] == "KEY_AGREEMENT" and out["KeyAgreementAlgorithms"] == ["ECDH"]
    assert "SigningAlgorithms" not in out
    ours = ec.generate_private_key(ECC_SPECS[spec][1]())
    peer_der = ours.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    derived = kms.derive_shared_secret(
        KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer_der
    )
    assert derived["KeyAgreementAlgorithm"] == "ECDH" and derived["KeyOrigin"] == "AWS_KMS"
    expected = ours.exchange(ec.ECDH(), serialization.load_der_public_key(out["PublicKey"]))
    assert derived["SharedSecret"] == expected


def test_derive_shared_secret_errors(kms, keys):
    key_id = keys("ECC_NIST_P256", "KEY_AGREEMENT")
    wrong_curve = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for peer in (wrong_curve, b"\x30\x03\x02\x01\x01"):
        with pytest.raises(ClientError) as excinfo:
            kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer)
        assert error_of(excinfo)[0] == "ValidationException"
    good = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ClientError) as excinfo:
        kms.derive_shared_secret(
            KeyId=keys("ECC_NIST_P256"), KeyAgreementAlgorithm="ECDH", PublicKey=good
        )
    assert error_of(excinfo)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as excinfo:
        kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")
    assert error_of(excinfo)[0] == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as excinfo:
        kms.derive_shared_secret(
            KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=good, DryRun=True
        )
    assert error_of(excinfo)[0] == "DryRunOperationException"


# --- Ed25519 and ML-DSA --------------------------------------------------------------------------


def test_ed25519_sign_verify(kms, keys):
    key_id = keys("ECC_NIST_EDWARDS25519")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["SigningAlgorithms"] == ["ED25519_SHA_512", "ED25519_PH_SHA_512"]
    pub = public_key(kms, key_id)
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ED25519_SHA_512")["Signature"]
    assert len(sig) == 64
    pub.verify(sig, MESSAGE)
    assert kms.verify(
        KeyId=key_id, Message=MESSAGE, Signature=sig, SigningAlgorithm="ED25519_SHA_512"
    )["SignatureValid"]
    with pytest.raises(ClientError) as excinfo:
        kms.verify(
            KeyId=key_id, Message=MESSAGE[1:], Signature=sig, SigningAlgorithm="ED25519_SHA_512"
        )
    assert error_of(excinfo)[0] == "KMSInvalidSignatureException"
    with pytest.raises(ClientError) as excinfo:  # pure Ed25519 signs messages, not digests
        kms.sign(
            KeyId=key_id,
            Message=b"\x00" * 64,
            MessageType="DIGEST",
            SigningAlgorithm="ED25519_SHA_512",
        )
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:  # HashEdDSA: no implementation to use
        kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ED25519_PH_SHA_512")
    assert error_of(excinfo)[0] == "UnsupportedOperationException"


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("ML_DSA_44", mldsa.MLDSA44PublicKey),
        ("ML_DSA_65", mldsa.MLDSA65PublicKey),
        ("ML_DSA_87", mldsa.MLDSA87PublicKey),
    ],
)
def test_ml_dsa_sign_verify(kms, keys, spec, kind):
    key_id = keys(spec)
    out = kms.get_public_key(KeyId=key_id)
    assert out["KeySpec"] == spec and out["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"]
    assert "CustomerMasterKeySpec" not in out  # the deprecated field has no ML-DSA values
    pub = serialization.load_der_public_key(out["PublicKey"])
    assert isinstance(pub, kind)
    sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    pub.verify(sig, MESSAGE)  # pure ML-DSA, empty context (FIPS 204)
    assert kms.verify(
        KeyId=key_id, Message=MESSAGE, Signature=sig, SigningAlgorithm="ML_DSA_SHAKE_256"
    )["SignatureValid"]
    bad = bytearray(sig)
    bad[10] ^= 1
    with pytest.raises(ClientError) as excinfo:
        kms.verify(
            KeyId=key_id, Message=MESSAGE, Signature=bytes(bad), SigningAlgorithm="ML_DSA_SHAKE_256"
        )
    assert error_of(excinfo)[0] == "KMSInvalidSignatureException"
    for message_type, code in (
        ("DIGEST", "ValidationException"),
        ("EXTERNAL_MU", "UnsupportedOperationException"),
    ):
        with pytest.raises(ClientError) as excinfo:
            kms.sign(
                KeyId=key_id,
                Message=b"\x00" * 64,
                MessageType=message_type,
                SigningAlgorithm="ML_DSA_SHAKE_256",
            )
        assert error_of(excinfo)[0] == code


def test_ed25519_and_ml_dsa_offline_signatures_verify_in_the_gateway(kms, keys):
    """Verify checks against the stored key: a foreign key's signature does not verify."""
    key_id = keys("ECC_NIST_EDWARDS25519")
    foreign = ed25519.Ed25519PrivateKey.generate().sign(MESSAGE)
    with pytest.raises(ClientError) as excinfo:
        kms.verify(
            KeyId=key_id, Message=MESSAGE, Signature=foreign, SigningAlgorithm="ED25519_SHA_512"
        )
    assert error_of(excinfo)[0] == "KMSInvalidSignatureException"
    with pytest.raises(InvalidSignature):
        public_key(kms, key_id).verify(foreign, MESSAGE)
