"""The key-spec table: which key usages each KeySpec allows and the algorithms each lists.

Algorithm lists are in the order DescribeKey and GetPublicKey return them.
Reference: https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Family(StrEnum):
    SYMMETRIC = "SYMMETRIC"
    HMAC = "HMAC"
    RSA = "RSA"
    ECC = "ECC"  # ECDSA / ECDH over a Weierstrass curve
    ED25519 = "ED25519"
    ML_DSA = "ML_DSA"
    ML_KEM = "ML_KEM"


ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
SIGN_VERIFY = "SIGN_VERIFY"
GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
KEY_AGREEMENT = "KEY_AGREEMENT"
ENCAPSULATE_DECAPSULATE = "ENCAPSULATE_DECAPSULATE"

RSA_SIGNING = (
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
)
RSA_ENCRYPTION = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
SYMMETRIC_ENCRYPTION = ("SYMMETRIC_DEFAULT",)


@dataclass(frozen=True, slots=True)
class KeySpec:
    name: str
    family: Family
    usages: tuple[str, ...]
    # Bits: RSA modulus, curve size, HMAC key length; 0 where it means nothing.
    bits: int = 0
    signing: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()
    # Whether the spec's algorithm lists are served by a native (C core) handle.
    native: bool = False

    @property
    def asymmetric(self) -> bool:
        return self.family not in (Family.SYMMETRIC, Family.HMAC)

    @property
    def encryption_algorithms(self) -> tuple[str, ...]:
        """What an ENCRYPT_DECRYPT key of this spec encrypts with."""
        return SYMMETRIC_ENCRYPTION if self.family is Family.SYMMETRIC else RSA_ENCRYPTION

    def algorithms(self, usage: str) -> dict[str, list[str]]:
        """The KeyMetadata / GetPublicKey algorithm lists for a key of this spec and usage."""
        if usage == ENCRYPT_DECRYPT:
            return {"EncryptionAlgorithms": list(self.encryption_algorithms)}
        if usage == SIGN_VERIFY:
            return {"SigningAlgorithms": list(self.signing)}
        if usage == GENERATE_VERIFY_MAC:
            return {"MacAlgorithms": list(self.mac)}
        if usage == KEY_AGREEMENT:
            return {"KeyAgreementAlgorithms": ["ECDH"]}
        if usage == ENCAPSULATE_DECAPSULATE:
            return {"EncapsulationAlgorithms": ["ML_KEM"]}
        return {}


def _rsa(bits: int) -> KeySpec:
    return KeySpec(
        f"RSA_{bits}", Family.RSA, (ENCRYPT_DECRYPT, SIGN_VERIFY), bits, signing=RSA_SIGNING
    )


def _hmac(bits: int) -> KeySpec:
    return KeySpec(
        f"HMAC_{bits}", Family.HMAC, (GENERATE_VERIFY_MAC,), bits, mac=(f"HMAC_SHA_{bits}",)
    )


SPECS: dict[str, KeySpec] = {
    spec.name: spec
    for spec in (
        KeySpec("SYMMETRIC_DEFAULT", Family.SYMMETRIC, (ENCRYPT_DECRYPT,), 256),
        _rsa(2048),
        _rsa(3072),
        _rsa(4096),
        KeySpec(
            "ECC_NIST_P256",
            Family.ECC,
            (SIGN_VERIFY, KEY_AGREEMENT),
            256,
            signing=("ECDSA_SHA_256",),
            native=True,
        ),
        KeySpec(
            "ECC_NIST_P384",
            Family.ECC,
            (SIGN_VERIFY, KEY_AGREEMENT),
            384,
            signing=("ECDSA_SHA_384",),
            native=True,
        ),
        KeySpec("ECC_NIST_P521", Family.ECC, (SIGN_VERIFY, KEY_AGREEMENT), 521, ("ECDSA_SHA_512",)),
        KeySpec("ECC_SECG_P256K1", Family.ECC, (SIGN_VERIFY,), 256, ("ECDSA_SHA_256",)),
        KeySpec(
            "ECC_NIST_EDWARDS25519",
            Family.ED25519,
            (SIGN_VERIFY,),
            255,
            ("ED25519_SHA_512", "ED25519_PH_SHA_512"),
        ),
        KeySpec("ML_DSA_44", Family.ML_DSA, (SIGN_VERIFY,), signing=("ML_DSA_SHAKE_256",)),
        KeySpec("ML_DSA_65", Family.ML_DSA, (SIGN_VERIFY,), signing=("ML_DSA_SHAKE_256",)),
        KeySpec("ML_DSA_87", Family.ML_DSA, (SIGN_VERIFY,), signing=("ML_DSA_SHAKE_256",)),
        # ML-KEM keys have one usage, which CreateKey requires explicitly (like HMAC keys).
        KeySpec("ML_KEM_768", Family.ML_KEM, (ENCAPSULATE_DECAPSULATE,)),
        KeySpec("ML_KEM_1024", Family.ML_KEM, (ENCAPSULATE_DECAPSULATE,)),
        _hmac(224),
        _hmac(256),
        _hmac(384),
        _hmac(512),
    )
}

# The deprecated CustomerMasterKeySpec field only has the specs that predate
# ML-DSA/ML-KEM/Ed25519.
CUSTOMER_MASTER_KEY_SPECS = frozenset(
    name for name in SPECS if not name.startswith(("ML_DSA_", "ML_KEM_", "ECC_NIST_EDWARDS"))
) | {"SM2"}

# Specs botocore's model has that this gateway refuses, with the reason it gives.
REFUSED: dict[str, str] = {
    "SM2": "KeySpec SM2 is only available in the AWS China Regions; this gateway does not "
    "support it.",
    # pyca/cryptography (which does all of this gateway's KEM math) has ML-KEM-768 and
    # ML-KEM-1024 only.
    "ML_KEM_512": "KeySpec ML_KEM_512 is not supported by this gateway: its cryptography "
    "library provides ML-KEM-768 and ML-KEM-1024 only.",
}

# GenerateDataKeyPair specs served (SM2 and ML_KEM_512 are refused as above).
DATA_KEY_PAIR_SPECS = (
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_768",
    "ML_KEM_1024",
)

# The encapsulated shared secret's length (FIPS 203 ciphertext size) for each ML-KEM spec;
# Decapsulate refuses any other length with InvalidCiphertextException.
KEM_CIPHERTEXT_BYTES = {"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}


def spec_of(name: str) -> KeySpec:
    return SPECS[name]


# Digest algorithm of each signing algorithm (None: the algorithm signs the message itself).
SIGNING_HASH: dict[str, str | None] = {
    "ECDSA_SHA_256": "sha256",
    "ECDSA_SHA_384": "sha384",
    "ECDSA_SHA_512": "sha512",
    "RSASSA_PSS_SHA_256": "sha256",
    "RSASSA_PSS_SHA_384": "sha384",
    "RSASSA_PSS_SHA_512": "sha512",
    "RSASSA_PKCS1_V1_5_SHA_256": "sha256",
    "RSASSA_PKCS1_V1_5_SHA_384": "sha384",
    "RSASSA_PKCS1_V1_5_SHA_512": "sha512",
    "ED25519_SHA_512": None,
    "ED25519_PH_SHA_512": "sha512",
    "ML_DSA_SHAKE_256": None,
}

MAC_HASH = {
    "HMAC_SHA_224": "sha224",
    "HMAC_SHA_256": "sha256",
    "HMAC_SHA_384": "sha384",
    "HMAC_SHA_512": "sha512",
}


def rsa_oaep_max_plaintext(bits: int, algorithm: str) -> int:
    """The documented RSAES-OAEP plaintext limit: keybytes - 2 * hashbytes - 2."""
    hash_bytes = 20 if algorithm == "RSAES_OAEP_SHA_1" else 32
    return bits // 8 - 2 * hash_bytes - 2
