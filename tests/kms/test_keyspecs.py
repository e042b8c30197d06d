import botocore.loaders
import pytest

from gateway.kms import keymaterial
from gateway.kms.keyspecs import (
    CUSTOMER_MASTER_KEY_SPECS,
    DATA_KEY_PAIR_SPECS,
    REFUSED,
    SIGNING_HASH,
    SPECS,
    rsa_oaep_max_plaintext,
)

MODEL = botocore.loaders.Loader().load_service_model("kms", "service-2")["shapes"]


def enum(shape: str) -> set[str]:
    return set(MODEL[shape]["enum"])


def test_every_model_key_spec_is_served_or_refused_with_a_reason() -> None:
    # REFUSED may name specs of newer botocore models than the one installed.
    assert enum("KeySpec") <= set(SPECS) | set(REFUSED)
    assert set(SPECS) <= enum("KeySpec")
    assert not set(SPECS) & set(REFUSED)


def test_usages_and_algorithms_are_model_values() -> None:
    for spec in SPECS.values():
        assert set(spec.usages) <= enum("KeyUsageType")
        assert set(spec.signing) <= enum("SigningAlgorithmSpec")
        assert set(spec.mac) <= enum("MacAlgorithmSpec")
    assert set(SIGNING_HASH) | {"SM2DSA"} == enum("SigningAlgorithmSpec")
    assert set(DATA_KEY_PAIR_SPECS) <= enum("DataKeyPairSpec")
    # Every other pair spec of the model is refused like its key spec.
    assert enum("DataKeyPairSpec") - set(DATA_KEY_PAIR_SPECS) <= set(REFUSED)
    assert enum("CustomerMasterKeySpec") == CUSTOMER_MASTER_KEY_SPECS


@pytest.mark.parametrize(
    ("spec", "usage", "expected"),
    [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", {"EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"]}),
        (
            "RSA_3072",
            "ENCRYPT_DECRYPT",
            {"EncryptionAlgorithms": ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]},
        ),
        (
            "RSA_4096",
            "SIGN_VERIFY",
            {
                "SigningAlgorithms": [
                    "RSASSA_PKCS1_V1_5_SHA_256",
                    "RSASSA_PKCS1_V1_5_SHA_384",
                    "RSASSA_PKCS1_V1_5_SHA_512",
                    "RSASSA_PSS_SHA_256",
                    "RSASSA_PSS_SHA_384",
                    "RSASSA_PSS_SHA_512",
                ]
            },
        ),
        ("ECC_NIST_P256", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_256"]}),
        ("ECC_NIST_P384", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_384"]}),
        ("ECC_NIST_P521", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_512"]}),
        ("ECC_SECG_P256K1", "SIGN_VERIFY", {"SigningAlgorithms": ["ECDSA_SHA_256"]}),
        ("ECC_NIST_P384", "KEY_AGREEMENT", {"KeyAgreementAlgorithms": ["ECDH"]}),
        (
            "ECC_NIST_EDWARDS25519",
            "SIGN_VERIFY",
            {"SigningAlgorithms": ["ED25519_SHA_512", "ED25519_PH_SHA_512"]},
        ),
        ("ML_DSA_65", "SIGN_VERIFY", {"SigningAlgorithms": ["ML_DSA_SHAKE_256"]}),
        ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE", {"EncapsulationAlgorithms": ["ML_KEM"]}),
        ("ML_KEM_1024", "ENCAPSULATE_DECAPSULATE", {"EncapsulationAlgorithms": ["ML_KEM"]}),
        ("HMAC_384", "GENERATE_VERIFY_MAC", {"MacAlgorithms": ["HMAC_SHA_384"]}),
    ],
)
def test_algorithm_lists_per_spec_and_usage(spec, usage, expected) -> None:
    assert usage in SPECS[spec].usages
    assert SPECS[spec].algorithms(usage) == expected


def test_usage_rules() -> None:
    assert SPECS["RSA_2048"].usages == ("ENCRYPT_DECRYPT", "SIGN_VERIFY")
    assert SPECS["ECC_SECG_P256K1"].usages == ("SIGN_VERIFY",)
    assert SPECS["HMAC_224"].usages == ("GENERATE_VERIFY_MAC",)
    assert "ENCRYPT_DECRYPT" not in SPECS["ECC_NIST_P256"].usages
    assert [s for s in SPECS.values() if s.native] == [
        SPECS["ECC_NIST_P256"],
        SPECS["ECC_NIST_P384"],
    ]


@pytest.mark.parametrize(
    ("bits", "sha1", "sha256"), [(2048, 214, 190), (3072, 342, 318), (4096, 470, 446)]
)
def test_rsa_oaep_plaintext_limits_are_the_documented_ones(bits, sha1, sha256) -> None:
    assert rsa_oaep_max_plaintext(bits, "RSAES_OAEP_SHA_1") == sha1
    assert rsa_oaep_max_plaintext(bits, "RSAES_OAEP_SHA_256") == sha256


@pytest.mark.parametrize("spec", ["HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512"])
def test_hmac_material_is_as_long_as_the_spec_says(spec) -> None:
    assert len(keymaterial.generate(spec)) * 8 == int(spec[5:])


@pytest.mark.parametrize(
    "spec",
    [
        "ECC_NIST_P256",
        "ECC_NIST_P521",
        "ECC_NIST_EDWARDS25519",
        "ML_DSA_44",
        "ML_KEM_768",
        "ML_KEM_1024",
        "RSA_2048",
    ],
)
def test_asymmetric_material_is_pkcs8_that_loads(spec) -> None:
    material = keymaterial.generate(spec)
    assert material[0] == 0x30
    keymaterial.load_private(material)
