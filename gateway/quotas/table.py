"""The documented quotas as data, with the config file's overrides.

Request quotas are requests per second per account and region (kms-digest §7.2,
acm-iam-digest §3.2); resource quotas are counts (kms-digest §7.1). Every quota has a
stable id (``kms:CreateKey``) used in the config file, the limiter's bucket names and the
metrics' ``Resource`` label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SYMMETRIC = "kms:CryptographicOperationsSymmetric"
RSA = "kms:CryptographicOperationsRsa"
ECC = "kms:CryptographicOperationsEcc"
SM = "kms:CryptographicOperationsSm"
ML_DSA = "kms:CryptographicOperationsMlDsa"
ML_KEM = "kms:CryptographicOperationsMlKem"
KEY_STATE_CHANGES = "kms:KeyStateChangesPerKey"


@dataclass(frozen=True, slots=True)
class Quota:
    id: str
    description: str
    default: float
    kind: str = "rate"  # "rate" (requests per second) or "resource" (a count)
    adjustable: bool = True


# The shared symmetric quota depends on the region (kms-digest §7.2).
_SYMMETRIC_BY_REGION = {
    **dict.fromkeys(("us-east-1", "us-west-2", "eu-west-1"), 50_000.0),
    **dict.fromkeys(
        (
            "us-east-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-northeast-1",
            "eu-central-1",
            "eu-west-2",
        ),
        10_000.0,
    ),
}
_SYMMETRIC_DEFAULT = 5_500.0

_KMS_MANAGEMENT_RATES = {
    "CancelKeyDeletion": 5,
    "ConnectCustomKeyStore": 5,
    "CreateAlias": 5,
    "CreateCustomKeyStore": 5,
    "CreateGrant": 50,
    "CreateKey": 5,
    "DeleteAlias": 15,
    "DeleteCustomKeyStore": 5,
    "DeleteImportedKeyMaterial": 5,
    "DescribeCustomKeyStores": 5,
    "DescribeKey": 2000,
    "DisableKey": 5,
    "DisableKeyRotation": 5,
    "DisconnectCustomKeyStore": 5,
    "EnableKey": 5,
    "EnableKeyRotation": 15,
    "GetKeyPolicy": 1000,
    "GetKeyRotationStatus": 1000,
    "GetParametersForImport": 0.25,
    "GetPublicKey": 2000,
    "ImportKeyMaterial": 5,
    "ListAliases": 500,
    "ListGrants": 100,
    "ListKeyPolicies": 100,
    "ListKeys": 500,
    "ListResourceTags": 2000,
    "ListRetirableGrants": 100,
    "PutKeyPolicy": 15,
    "ReplicateKey": 5,
    "RetireGrant": 30,
    "RevokeGrant": 30,
    "ScheduleKeyDeletion": 15,
    "TagResource": 10,
    "UntagResource": 5,
    "UpdateAlias": 5,
    "UpdateCustomKeyStore": 5,
    "UpdateKeyDescription": 5,
    "UpdatePrimaryRegion": 5,
    # Newer than the guide's quota table: the gateway's assumption, as for the operations
    # of the same kind (a key-management change; a List of one key's records).
    "RotateKeyOnDemand": 5,
    "ListKeyRotations": 100,
}
_KEY_PAIR_RATES = {
    "ECC_NIST_P256": 100,
    "ECC_NIST_P384": 100,
    "ECC_NIST_P521": 100,
    "ECC_SECG_P256K1": 100,
    "RSA_2048": 1,
    "RSA_3072": 0.5,
    "RSA_4096": 0.1,
    "ECC_NIST_EDWARDS25519": 100,
    "SM2": 25,
    # ML-KEM pairs are newer than the guide's quota table: the gateway's assumption.
    "ML_KEM_512": 100,
    "ML_KEM_768": 100,
    "ML_KEM_1024": 100,
}
_ACM_RATES = {
    "AddTagsToCertificate": 5,
    "DeleteCertificate": 10,
    "DescribeCertificate": 10,
    "ExportCertificate": 5,
    "GetAccountConfiguration": 1,
    "GetCertificate": 10,
    "ImportCertificate": 1,
    "ListCertificates": 8,
    "ListTagsForCertificate": 10,
    "PutAccountConfiguration": 1,
    "RemoveTagsFromCertificate": 5,
    "RenewCertificate": 5,
    "RequestCertificate": 5,
    "ResendValidationEmail": 1,
    "UpdateCertificateOptions": 5,
}


def key_pair_quota(key_pair_spec: str) -> str:
    return f"kms:GenerateDataKeyPair_{key_pair_spec}"


def _defaults() -> list[Quota]:
    quotas = [
        Quota(SYMMETRIC, "Cryptographic operations (symmetric) request rate", _SYMMETRIC_DEFAULT),
        Quota(RSA, "Cryptographic operations (RSA) request rate", 500),
        Quota(ECC, "Cryptographic operations (ECC) request rate", 300),
        Quota(SM, "Cryptographic operations (SM) request rate", 300),
        # Post-quantum and Edwards-curve keys are newer than the guide's quota table: these
        # rows are the gateway's assumption (ML-DSA like ECC; Ed25519 pairs like ECC pairs).
        Quota(ML_DSA, "Cryptographic operations (ML-DSA) request rate", 300),
        # ML-KEM (Encapsulate/Decapsulate) likewise: AWS's figure is not in our guide.
        Quota(ML_KEM, "Cryptographic operations (ML-KEM) request rate", 300),
        # AWS publishes no figure for its "hot key" throttling (kms-digest §7.4); this is ours.
        Quota(KEY_STATE_CHANGES, "State changes of one KMS key per second (hot key)", 3),
    ]
    quotas += [
        Quota(f"kms:{op}", f"{op} request rate", rate) for op, rate in _KMS_MANAGEMENT_RATES.items()
    ]
    quotas += [
        Quota(key_pair_quota(spec), f"GenerateDataKeyPair ({spec}) request rate", rate)
        for spec, rate in _KEY_PAIR_RATES.items()
    ]
    quotas += [Quota(f"acm:{op}", f"{op} request rate", rate) for op, rate in _ACM_RATES.items()]
    quotas += [
        Quota("kms:KeysPerRegion", "AWS KMS keys", 100_000, "resource"),
        Quota("kms:AliasesPerKey", "Aliases per KMS key", 50, "resource"),
        Quota("kms:GrantsPerKey", "Grants per KMS key", 50_000, "resource"),
        Quota("kms:TagsPerKey", "Tags per KMS key", 50, "resource"),
        # RotateKeyOnDemand's API reference: "a maximum of 25 times per KMS key".
        Quota(
            "kms:OnDemandRotationsPerKey", "On-demand rotations per KMS key", 25, "resource", False
        ),
        Quota("kms:KeyPolicySize", "Key policy document size (bytes)", 32_768, "resource", False),
        Quota("kms:CustomKeyStores", "Custom key stores", 10, "resource"),
        Quota("acm:Certificates", "ACM certificates", 2500, "resource"),
        Quota("acm:ImportedCertificates", "Imported certificates", 2500, "resource"),
        Quota("acm:DomainNamesPerCertificate", "Domain names per certificate", 10, "resource"),
    ]
    return quotas


DEFAULT_QUOTAS: dict[str, Quota] = {q.id: q for q in _defaults()}


class QuotaConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Override:
    quota: str
    value: float
    account: str | None = None
    region: str | None = None

    @property
    def specificity(self) -> int:
        return (self.account is not None) * 2 + (self.region is not None)


def parse_overrides(entries: Iterable[Mapping[str, Any]]) -> list[Override]:
    """Read ``[[quota]]`` tables of the config file, refusing anything unclear."""
    overrides = []
    for i, entry in enumerate(entries, 1):
        where = f"[[quota]] entry {i}"
        unknown = set(entry) - {"name", "value", "account", "region"}
        if unknown:
            raise QuotaConfigError(f"{where}: unknown keys {sorted(unknown)}")
        name, value = entry.get("name"), entry.get("value")
        quota = DEFAULT_QUOTAS.get(name)  # type: ignore[arg-type]
        if quota is None:
            raise QuotaConfigError(f"{where}: unknown quota {name!r} (see `gateway quotas`)")
        if not quota.adjustable:
            raise QuotaConfigError(f"{where}: {name} is not adjustable")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise QuotaConfigError(f"{where}: value must be a non-negative number")
        account, region = entry.get("account"), entry.get("region")
        for label, text in (("account", account), ("region", region)):
            if text is not None and not isinstance(text, str):
                raise QuotaConfigError(f"{where}: {label} must be a string")
        overrides.append(Override(quota.id, float(value), account, region))
    return overrides


class QuotaTable:
    """Effective quota values: the most specific override wins, then the default."""

    def __init__(self, overrides: Iterable[Override] = ()) -> None:
        self._overrides: dict[str, list[Override]] = {}
        for override in sorted(overrides, key=lambda o: -o.specificity):
            self._overrides.setdefault(override.quota, []).append(override)
        self._cache: dict[tuple[str, str, str], float] = {}

    def value(self, quota_id: str, account: str, region: str) -> float:
        ident = (quota_id, account, region)
        cached = self._cache.get(ident)
        if cached is not None:
            return cached
        value = self._lookup(quota_id, account, region)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[ident] = value
        return value

    def _lookup(self, quota_id: str, account: str, region: str) -> float:
        for override in self._overrides.get(quota_id, ()):
            if override.account in (None, account) and override.region in (None, region):
                return override.value
        if quota_id == SYMMETRIC:
            return _SYMMETRIC_BY_REGION.get(region, _SYMMETRIC_DEFAULT)
        return DEFAULT_QUOTAS[quota_id].default

    def rows(self, account: str, region: str) -> list[tuple[Quota, float]]:
        return [(q, self.value(q.id, account, region)) for q in DEFAULT_QUOTAS.values()]
