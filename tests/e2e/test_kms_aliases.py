"""Aliases through boto3 against a real gateway process."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.server import ACCOUNT
from tests.e2e.test_kms_keys import error_of


def test_create_list_update_delete(kms, key_id):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/app/orders", TargetKeyId=key_id)
    listed = {a["AliasName"]: a for a in kms.list_aliases(KeyId=key_id)["Aliases"]}
    entry = listed["alias/app/orders"]
    assert entry["TargetKeyId"] == key_id
    assert entry["AliasArn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/app/orders"
    assert "CreationDate" in entry and "LastUpdatedDate" in entry
    kms.update_alias(AliasName="alias/app/orders", TargetKeyId=other)
    assert kms.describe_key(KeyId="alias/app/orders")["KeyMetadata"]["KeyId"] == other
    assert kms.list_aliases(KeyId=key_id)["Aliases"] == []
    kms.delete_alias(AliasName="alias/app/orders")
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId="alias/app/orders")
    assert error_of(excinfo)[0] == "NotFoundException"
    with pytest.raises(ClientError) as excinfo:
        kms.delete_alias(AliasName="alias/app/orders")
    assert error_of(excinfo)[0] == "NotFoundException"


def test_duplicate_and_invalid_names(kms, key_id):
    kms.create_alias(AliasName="alias/dup", TargetKeyId=key_id)
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName="alias/dup", TargetKeyId=key_id)
    assert error_of(excinfo)[0] == "AlreadyExistsException"
    for bad in ("noprefix", "alias/aws/reserved", "alias/", "alias/has:colon"):
        with pytest.raises(ClientError) as excinfo:
            kms.create_alias(AliasName=bad, TargetKeyId=key_id)
        assert error_of(excinfo)[0] in ("InvalidAliasNameException", "ValidationException"), bad


def test_alias_cannot_target_an_alias_or_missing_key(kms, key_id):
    kms.create_alias(AliasName="alias/first", TargetKeyId=key_id)
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName="alias/second", TargetKeyId="alias/first")
    assert error_of(excinfo)[0] == "NotFoundException"
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(
            AliasName="alias/third", TargetKeyId="11111111-2222-3333-4444-555555555555"
        )
    assert error_of(excinfo)[0] == "NotFoundException"


def test_alias_on_key_pending_deletion_is_refused(kms, key_id):
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName="alias/late", TargetKeyId=key_id)
    assert error_of(excinfo)[0] == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key_id)


def test_list_aliases_paginates(gateway):
    kms = gateway.client(region="sa-east-1")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    names = {f"alias/page-{i}" for i in range(5)}
    for name in names:
        kms.create_alias(AliasName=name, TargetKeyId=key_id)
    seen = [
        a["AliasName"]
        for p in kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 2})
        for a in p["Aliases"]
    ]
    assert sorted(seen) == sorted(names)


def test_fifty_aliases_per_key(gateway):
    kms = gateway.client(region="ca-central-1")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for i in range(50):
        kms.create_alias(AliasName=f"alias/many-{i}", TargetKeyId=key_id)
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName="alias/many-50", TargetKeyId=key_id)
    assert error_of(excinfo)[0] == "LimitExceededException"


def test_update_alias_needs_the_same_key_type_and_usage(kms, key_id):
    kms.create_alias(AliasName="alias/typed", TargetKeyId=key_id)
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    with pytest.raises(ClientError) as excinfo:
        kms.update_alias(AliasName="alias/typed", TargetKeyId=hmac["KeyId"])
    assert error_of(excinfo)[0] == "ValidationException"
    p256 = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    kms.create_alias(AliasName="alias/signer", TargetKeyId=p256["KeyId"])
    kms.update_alias(AliasName="alias/signer", TargetKeyId=rsa["KeyId"])  # both asymmetric
    assert kms.describe_key(KeyId="alias/signer")["KeyMetadata"]["KeyId"] == rsa["KeyId"]
