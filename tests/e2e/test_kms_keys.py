"""Key lifecycle through boto3 against a real gateway process."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.e2e.server import ACCOUNT


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message", "")


def test_create_key_returns_symmetric_metadata(kms):
    meta = kms.create_key(Description="orders", Tags=[{"TagKey": "team", "TagValue": "a"}])[
        "KeyMetadata"
    ]
    assert meta["AWSAccountId"] == ACCOUNT
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{meta['KeyId']}"
    assert meta["KeySpec"] == meta["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["Origin"] == "AWS_KMS" and meta["KeyManager"] == "CUSTOMER"
    assert meta["Description"] == "orders"
    tags = kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"]
    assert tags == [{"TagKey": "team", "TagValue": "a"}]


def test_describe_key_accepts_id_arn_alias_and_alias_arn(kms, key_id):
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/describe-forms", TargetKeyId=key_id)
    alias_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/describe-forms"
    for ref in (key_id, arn, "alias/describe-forms", alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key_id


def test_describe_unknown_key_is_not_found(kms):
    missing = "11111111-2222-3333-4444-555555555555"
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId=missing)
    code, message = error_of(excinfo)
    assert code == "NotFoundException"
    assert missing in message
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId="not-a-key")
    assert error_of(excinfo) == ("NotFoundException", "Invalid keyId 'not-a-key'")
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId="alias/never-created")
    assert error_of(excinfo)[0] == "NotFoundException"


def test_key_spec_usage_mismatch_and_unsupported_spec(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="SIGN_VERIFY")
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(KeySpec="SM2")
    assert error_of(excinfo)[0] == "UnsupportedOperationException"


def test_list_keys_paginates_with_marker(gateway):
    kms = gateway.client(region="eu-north-1")  # a region of its own: a known key count
    created = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)}
    first = kms.list_keys(Limit=2)
    assert first["Truncated"] is True and len(first["Keys"]) == 2
    seen = [k["KeyId"] for k in first["Keys"]]
    marker = first["NextMarker"]
    while marker:
        page = kms.list_keys(Limit=2, Marker=marker)
        seen += [k["KeyId"] for k in page["Keys"]]
        marker = page.get("NextMarker")
        assert page["Truncated"] is bool(marker)
    assert sorted(seen) == sorted(created)
    paginated = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate() for k in p["Keys"]]
    assert sorted(paginated) == sorted(created)
    with pytest.raises(ClientError) as excinfo:
        kms.list_keys(Marker="garbage")
    assert error_of(excinfo)[0] == "InvalidMarkerException"


def test_regions_are_isolated(gateway):
    west, east = gateway.client(region="us-west-2"), gateway.client(region="ap-south-1")
    key_id = west.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as excinfo:
        east.describe_key(KeyId=key_id)
    assert error_of(excinfo)[0] == "NotFoundException"
    west_arn = west.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    with pytest.raises(ClientError):
        east.describe_key(KeyId=west_arn)
    assert key_id not in [k["KeyId"] for k in east.list_keys()["Keys"]]
    west.create_alias(AliasName="alias/same-name", TargetKeyId=key_id)
    east_key = east.create_key()["KeyMetadata"]["KeyId"]
    east.create_alias(AliasName="alias/same-name", TargetKeyId=east_key)  # no conflict


def test_disable_enable_and_state_errors(kms, key_id):
    kms.disable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and meta["Enabled"] is False
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    code, message = error_of(excinfo)
    assert code == "DisabledException" and message == f"{meta['Arn']} is disabled."
    kms.enable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_management_operations_refuse_aliases(kms, key_id):
    kms.create_alias(AliasName="alias/no-management", TargetKeyId=key_id)
    with pytest.raises(ClientError) as excinfo:
        kms.disable_key(KeyId="alias/no-management")
    assert error_of(excinfo)[0] == "NotFoundException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_update_key_description(kms, key_id):
    kms.update_key_description(KeyId=key_id, Description="new words")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "new words"


def test_schedule_and_cancel_deletion(kms, unchecked_kms, key_id):
    with pytest.raises(ClientError) as excinfo:
        unchecked_kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=6)
    assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        kms.cancel_key_deletion(KeyId=key_id)
    assert error_of(excinfo)[0] == "KMSInvalidStateException"
    response = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    assert response["KeyState"] == "PendingDeletion" and response["PendingWindowInDays"] == 30
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and "DeletionDate" in meta
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error_of(excinfo) == ("KMSInvalidStateException", f"{meta['Arn']} is pending deletion.")
    with pytest.raises(ClientError) as excinfo:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert error_of(excinfo)[0] == "KMSInvalidStateException"
    assert kms.cancel_key_deletion(KeyId=key_id)["KeyId"] == meta["Arn"]
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled" and "DeletionDate" not in meta


def test_key_is_destroyed_when_the_waiting_period_ends(kms):
    """The test server's "day" lasts 0.2 s, so a 7-day window ends after 1.4 s."""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            kms.describe_key(KeyId=key_id)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "NotFoundException"
            break
        time.sleep(0.2)
    else:
        pytest.fail("key was not destroyed after its waiting period")
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert "alias/doomed" not in aliases
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob)
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_key_policy_default_put_get_list(kms, key_id):
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Action"] == "kms:*"
    new = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                }
            ],
        }
    )
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=new)
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == new
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
    with pytest.raises(ClientError) as excinfo:
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy="{not json")
    assert error_of(excinfo)[0] == "MalformedPolicyDocumentException"
    with pytest.raises(ClientError) as excinfo:
        kms.get_key_policy(KeyId=key_id, PolicyName="other")
    assert error_of(excinfo)[0] == "NotFoundException"


def test_tags_overwrite_untag_and_limits(kms, key_id):
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "1"}])
    kms.tag_resource(
        KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "2"}, {"TagKey": "b", "TagValue": ""}]
    )
    tags = kms.list_resource_tags(KeyId=key_id)["Tags"]
    assert tags == [{"TagKey": "a", "TagValue": "2"}, {"TagKey": "b", "TagValue": ""}]
    kms.untag_resource(KeyId=key_id, TagKeys=["a", "never-there"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "b", "TagValue": ""}]
    with pytest.raises(ClientError) as excinfo:
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "aws:x", "TagValue": "1"}])
    assert error_of(excinfo)[0] == "TagException"
    many = [{"TagKey": f"k{i}", "TagValue": "v"} for i in range(50)]
    with pytest.raises(ClientError) as excinfo:
        kms.tag_resource(KeyId=key_id, Tags=many)
    assert error_of(excinfo)[0] == "LimitExceededException"
    assert len(kms.list_resource_tags(KeyId=key_id)["Tags"]) == 1  # nothing half-applied


def test_list_limits_are_each_operations_own(kms, unchecked_kms, key_id):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    for i in range(56):  # a key holds at most 50: over two keys
        kms.create_alias(AliasName=f"alias/limits-{i}", TargetKeyId=(key_id, other)[i % 2])
    # ListAliases: 50 by default, at most 100; ListResourceTags at most 50.
    first = kms.list_aliases()
    assert len(first["Aliases"]) == 50 and first["Truncated"]
    for call, largest in (
        (lambda limit: unchecked_kms.list_aliases(Limit=limit), 100),
        (lambda limit: unchecked_kms.list_resource_tags(KeyId=key_id, Limit=limit), 50),
    ):
        call(largest)
        with pytest.raises(ClientError) as excinfo:
            call(largest + 1)
        code, message = error_of(excinfo)
        assert code == "ValidationException"
        assert f"less than or equal to {largest}" in message


def test_list_keys_shared_through_ram_only_is_empty(kms, key_id):
    assert kms.list_keys(ResourceOwners=["OTHER_ACCOUNTS_VIA_RAM"])["Keys"] == []
    mine = kms.list_keys(ResourceOwners=["SELF", "OTHER_ACCOUNTS_VIA_RAM"], Limit=1000)["Keys"]
    assert key_id in {k["KeyId"] for k in mine}


def test_key_policy_rules_of_the_api_reference(kms, key_id):
    statement = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
    no_principal = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    with pytest.raises(ClientError) as excinfo:
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=no_principal)
    assert error_of(excinfo)[0] == "MalformedPolicyDocumentException"
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(Policy=no_principal)
    assert error_of(excinfo)[0] == "MalformedPolicyDocumentException"
    current = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    with pytest.raises(ClientError) as excinfo:
        kms.put_key_policy(KeyId=key_id, PolicyName="AWS_RAM", Policy=current)
    assert error_of(excinfo) == (
        "ValidationException",
        "The AWS_RAM policy can only be managed by the RAM service.",
    )


def _policy(statement_changes: dict, **document: object) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
        **statement_changes,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement], **document})


@pytest.mark.parametrize(
    ("changes", "document", "words"),
    [
        ({"Principal": {"AWS": "not-an-arn"}}, {}, "invalid principals"),
        ({"Principal": {"AWS": ["*", "arn:aws:s3:::bucket"]}}, {}, "invalid principals"),
        ({"Principal": {"AWS": []}}, {}, "invalid principals"),
        ({"Principal": "everyone"}, {}, "invalid principals"),
        ({"Foo": "bar"}, {}, "invalid elements"),
        ({}, {"Version": "2099-01-01"}, "Version"),
    ],
)
def test_key_policies_follow_the_policy_grammar(kms, key_id, changes, document, words):
    policy = _policy(changes, **document)
    for call in (
        lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy),
        lambda: kms.create_key(Policy=policy),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        code, message = error_of(excinfo)
        assert code == "MalformedPolicyDocumentException" and words in message


@pytest.mark.parametrize(
    "changes",
    [
        {"Principal": "*"},
        {"Principal": {"AWS": ["*", "111122223333", "arn:aws:iam::444455556666:role/a/b"]}},
        {"Principal": {"AWS": "arn:aws:sts::444455556666:assumed-role/r/s"}},
        {"Principal": {"Service": "logs.amazonaws.com"}, "Sid": "Logs", "Condition": {}},
        {"NotPrincipal": {"AWS": "arn:aws:iam::444455556666:user/u"}, "Effect": "Deny"},
    ],
)
def test_key_policies_the_grammar_allows_are_stored(kms, key_id, changes):
    policy = _policy(changes)
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == policy


def test_an_xks_key_id_needs_an_external_key_store(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.create_key(XksKeyId="abc")
    assert error_of(excinfo)[0] == "ValidationException"
    assert "EXTERNAL_KEY_STORE" in error_of(excinfo)[1]
