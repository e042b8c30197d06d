"""GetKeyRotationStatus, as Terraform's aws_kms_key reads it for every key it manages."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_kms_keys import error_of


def test_rotation_status_of_every_kind_of_key_in_every_state(kms, key_id):
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    for key in (key_id, hmac_key["KeyMetadata"]["Arn"]):
        arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
        answer = kms.get_key_rotation_status(KeyId=key)
        assert (answer["KeyRotationEnabled"], answer["KeyId"]) == (False, arn)
        assert "RotationPeriodInDays" not in answer and "NextRotationDate" not in answer
    kms.disable_key(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_rotation_status_needs_a_key_id_or_arn(kms, key_id):
    kms.create_alias(AliasName="alias/rotation-status", TargetKeyId=key_id)
    for ref in ("alias/rotation-status", "11111111-2222-3333-4444-555555555555"):
        with pytest.raises(ClientError) as excinfo:
            kms.get_key_rotation_status(KeyId=ref)
        assert error_of(excinfo)[0] == "NotFoundException"


def test_rotation_cannot_be_turned_on_yet(kms, key_id):
    with pytest.raises(ClientError) as excinfo:
        kms.enable_key_rotation(KeyId=key_id)
    assert error_of(excinfo)[0] == "UnsupportedOperationException"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
