"""ML-KEM in the spec table, key material, registry and quota mapping (no server)."""

import botocore.loaders
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mlkem

from gateway.kms import keymaterial
from gateway.kms.keyspecs import (
    CUSTOMER_MASTER_KEY_SPECS,
    DATA_KEY_PAIR_SPECS,
    KEM_CIPHERTEXT_BYTES,
    REFUSED,
    SPECS,
    Family,
)
from gateway.kms.registry import OPERATIONS
from gateway.quotas.kms import KEY_TYPED, charges_for, crypto_quota
from gateway.quotas.table import DEFAULT_QUOTAS, ML_KEM, key_pair_quota

MODEL = botocore.loaders.Loader().load_service_model("kms", "service-2")


def test_ml_kem_specs_have_one_usage_and_one_algorithm() -> None:
    served = [s for s in SPECS.values() if s.family is Family.ML_KEM]
    assert [s.name for s in served] == ["ML_KEM_768", "ML_KEM_1024"]
    algorithms = MODEL["shapes"]["EncapsulationAlgorithmSpec"]["enum"]
    for spec in served:
        assert spec.asymmetric and spec.usages == ("ENCAPSULATE_DECAPSULATE",)
        assert spec.algorithms("ENCAPSULATE_DECAPSULATE") == {"EncapsulationAlgorithms": algorithms}
        assert spec.name not in CUSTOMER_MASTER_KEY_SPECS
        assert spec.name in DATA_KEY_PAIR_SPECS


def test_ml_kem_512_is_refused_for_lack_of_a_library_implementation() -> None:
    assert not hasattr(mlkem, "MLKEM512PrivateKey")  # revisit when cryptography adds it
    assert "ML_KEM_512" in REFUSED and "ML_KEM_512" not in SPECS
    assert "ML_KEM_512" not in DATA_KEY_PAIR_SPECS


def test_ciphertext_lengths_match_the_model_docs_and_the_library() -> None:
    doc = MODEL["shapes"]["EncapsulateResponse"]["members"]["SharedSecretCiphertextBlob"]
    for spec, length in KEM_CIPHERTEXT_BYTES.items():
        assert f"{length} bytes for <code>{spec}</code>" in doc["documentation"]
    for spec, kind in (
        ("ML_KEM_768", mlkem.MLKEM768PrivateKey),
        ("ML_KEM_1024", mlkem.MLKEM1024PrivateKey),
    ):
        _, ciphertext = kind.generate().public_key().encapsulate()
        assert len(ciphertext) == KEM_CIPHERTEXT_BYTES[spec]


@pytest.mark.parametrize(
    ("spec", "kind"),
    [("ML_KEM_768", mlkem.MLKEM768PrivateKey), ("ML_KEM_1024", mlkem.MLKEM1024PrivateKey)],
)
def test_material_and_pairs_are_pkcs8_and_spki(spec, kind) -> None:
    private = keymaterial.load_private(keymaterial.generate(spec))
    assert isinstance(private, kind)
    der, spki = keymaterial.generate_pair(spec)
    private = keymaterial.load_private(der)
    secret, ciphertext = serialization.load_der_public_key(spki).encapsulate()
    assert private.decapsulate(ciphertext) == secret


def test_operations_are_registered_key_typed_and_charged_to_the_ml_kem_row() -> None:
    for name in ("Encapsulate", "Decapsulate"):
        op = OPERATIONS[f"TrentService.{name}"]
        assert op.name == name and op.charges == () and name in KEY_TYPED
        assert name in MODEL["operations"]
    quota = DEFAULT_QUOTAS[ML_KEM]
    assert quota.default == 300 and quota.kind == "rate"
    for spec in ("ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"):
        assert crypto_quota(spec) == ML_KEM
        assert DEFAULT_QUOTAS[key_pair_quota(spec)].default == 100
        (charge,) = charges_for("GenerateDataKeyPair", {"KeyPairSpec": spec})
        assert charge.quota == key_pair_quota(spec)
