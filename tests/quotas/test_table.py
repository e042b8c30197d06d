import pytest

from gateway.kms.registry import OPERATIONS
from gateway.quotas.kms import KEY_TYPED, charges_for, crypto_quota
from gateway.quotas.table import (
    DEFAULT_QUOTAS,
    ECC,
    RSA,
    SYMMETRIC,
    QuotaConfigError,
    QuotaTable,
    key_pair_quota,
    parse_overrides,
)


@pytest.mark.parametrize(
    ("region", "rate"),
    [
        ("us-east-1", 50_000),
        ("eu-west-1", 50_000),
        ("ap-northeast-1", 10_000),
        ("eu-west-2", 10_000),
        ("eu-north-1", 5_500),
        ("sa-east-1", 5_500),
    ],
)
def test_symmetric_quota_depends_on_the_region(region: str, rate: float) -> None:
    assert QuotaTable().value(SYMMETRIC, "111122223333", region) == rate


@pytest.mark.parametrize(
    ("quota", "rate"),
    [
        ("kms:DescribeKey", 2000),
        ("kms:GetParametersForImport", 0.25),
        ("kms:CreateKey", 5),
        ("kms:DeleteAlias", 15),
        (RSA, 500),
        (ECC, 300),
        (key_pair_quota("RSA_4096"), 0.1),
        (key_pair_quota("ECC_NIST_P256"), 100),
        ("acm:ImportCertificate", 1),
        ("kms:KeysPerRegion", 100_000),
        ("kms:AliasesPerKey", 50),
    ],
)
def test_documented_defaults(quota: str, rate: float) -> None:
    assert QuotaTable().value(quota, "111122223333", "us-east-1") == rate


def test_most_specific_override_wins() -> None:
    table = QuotaTable(
        parse_overrides(
            [
                {"name": "kms:CreateKey", "value": 1},
                {"name": "kms:CreateKey", "value": 2, "region": "eu-west-1"},
                {"name": "kms:CreateKey", "value": 3, "account": "222233334444"},
                {
                    "name": "kms:CreateKey",
                    "value": 4,
                    "account": "222233334444",
                    "region": "eu-west-1",
                },
            ]
        )
    )
    assert table.value("kms:CreateKey", "111122223333", "us-east-1") == 1
    assert table.value("kms:CreateKey", "111122223333", "eu-west-1") == 2
    assert table.value("kms:CreateKey", "222233334444", "us-east-1") == 3
    assert table.value("kms:CreateKey", "222233334444", "eu-west-1") == 4
    assert table.value("kms:DescribeKey", "222233334444", "eu-west-1") == 2000


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "kms:Nope", "value": 1},
        {"name": "kms:CreateKey", "value": -1},
        {"name": "kms:CreateKey", "value": "5"},
        {"name": "kms:KeyPolicySize", "value": 1},
        {"name": "kms:CreateKey", "value": 1, "colour": "red"},
    ],
)
def test_bad_overrides_are_refused(entry: dict) -> None:
    with pytest.raises(QuotaConfigError):
        parse_overrides([entry])


def test_every_registered_operation_has_a_quota() -> None:
    for op in OPERATIONS.values():
        if op.name in KEY_TYPED or op.charges_need_params:
            assert op.charges == ()  # charged by the handler, or once the body is parsed
            continue
        assert op.charges, op.name
        for charge in op.charges:
            assert charge.quota in DEFAULT_QUOTAS, op.name


def test_every_data_key_pair_spec_has_a_quota_row() -> None:
    from botocore.loaders import Loader

    model = Loader().load_service_model("kms", "service-2")
    from gateway.kms.keyspecs import DATA_KEY_PAIR_SPECS

    for spec in model["shapes"]["DataKeyPairSpec"]["enum"]:
        for op in ("GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"):
            charges = charges_for(op, {"KeyPairSpec": spec})
            if spec in DATA_KEY_PAIR_SPECS:
                (charge,) = charges
                assert charge.quota in DEFAULT_QUOTAS, spec
            else:  # refused by the handler: its documented row (SM2) or nothing, no KeyError
                assert all(c.quota in DEFAULT_QUOTAS for c in charges), spec


def test_every_key_spec_has_a_crypto_quota() -> None:
    from botocore.loaders import Loader

    model = Loader().load_service_model("kms", "service-2")
    for spec in model["shapes"]["KeySpec"]["enum"]:
        assert crypto_quota(spec) in DEFAULT_QUOTAS, spec


def test_sharing_and_multi_count_rules() -> None:
    for op in ("GenerateDataKey", "GenerateRandom", "GenerateMac", "VerifyMac"):
        assert [c.quota for c in charges_for(op)] == [SYMMETRIC]
    assert crypto_quota("SYMMETRIC_DEFAULT") == crypto_quota("HMAC_256") == SYMMETRIC
    assert crypto_quota("RSA_2048") == RSA and crypto_quota("ECC_NIST_P256") == ECC
    replicate = charges_for("ReplicateKey", {"ReplicaRegion": "eu-west-1"})
    assert [(c.quota, c.count, c.region) for c in replicate] == [
        ("kms:ReplicateKey", 1, None),
        ("kms:CreateKey", 2, "eu-west-1"),
    ]
    update = charges_for("UpdatePrimaryRegion", {"PrimaryRegion": "us-west-2"})
    assert [(c.quota, c.count, c.region) for c in update] == [
        ("kms:UpdatePrimaryRegion", 1, None),
        ("kms:UpdatePrimaryRegion", 1, "us-west-2"),
    ]
    pair = charges_for("GenerateDataKeyPair", {"KeyPairSpec": "RSA_3072"})
    assert [c.quota for c in pair] == [key_pair_quota("RSA_3072")]
