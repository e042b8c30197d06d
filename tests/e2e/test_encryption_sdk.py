"""The AWS Encryption SDK for Python, unmodified, using the gateway as its KMS.

The SDK builds its own boto3 clients from a botocore session, so the endpoint is set the
way any AWS SDK user would: ``endpoint_url`` in the session's shared config file.
"""

from __future__ import annotations

import os
from pathlib import Path

import aws_encryption_sdk
import boto3
import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy, StrictAwsKmsMasterKeyProvider
from aws_encryption_sdk.exceptions import DecryptKeyError
from botocore.config import Config

from tests.e2e.server import ACCESS_KEY_ID, SECRET_ACCESS_KEY, GatewayProcess


def gateway_session(server: GatewayProcess, tmp_path: Path) -> botocore.session.Session:
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\nregion = us-east-1\nendpoint_url = {server.url}\n")
    session = botocore.session.Session(profile="default")
    session.set_config_variable("config_file", str(config))
    session.set_config_variable("credentials_file", str(tmp_path / "no-such-credentials"))
    session.set_credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    return session


@pytest.fixture
def kms(gateway: GatewayProcess):
    """The shared gateway enforces CreateKey's 5/s quota across all tests: retry like SDKs do."""
    return boto3.client(
        "kms", region_name="us-east-1", endpoint_url=gateway.url,
        aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )


@pytest.fixture
def sdk() -> aws_encryption_sdk.EncryptionSDKClient:
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )


@pytest.fixture(autouse=True)
def no_endpoint_env(monkeypatch):
    """Keep the developer's AWS environment from choosing another endpoint or profile."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def test_sdk_round_trips_a_multi_megabyte_message_with_context(gateway, kms, sdk, tmp_path):
    arn = kms.create_key(Description="esdk")["KeyMetadata"]["Arn"]
    provider = StrictAwsKmsMasterKeyProvider(
        key_ids=[arn], botocore_session=gateway_session(gateway, tmp_path)
    )
    plaintext = os.urandom(3 * 1024 * 1024 + 17)
    context = {"tenant": "acme", "purpose": "e2e"}

    ciphertext, enc_header = sdk.encrypt(
        source=plaintext, key_provider=provider, encryption_context=context
    )
    assert plaintext[:4096] not in ciphertext
    [edk] = enc_header.encrypted_data_keys
    assert edk.key_provider.provider_id == "aws-kms"
    assert edk.key_provider.key_info.decode() == arn

    # A fresh provider (no cached data key) makes the SDK call Decrypt on the gateway.
    fresh = StrictAwsKmsMasterKeyProvider(
        key_ids=[arn], botocore_session=gateway_session(gateway, tmp_path)
    )
    decrypted, dec_header = sdk.decrypt(source=ciphertext, key_provider=fresh)
    assert decrypted == plaintext
    for name, value in context.items():
        assert dec_header.encryption_context[name] == value


def test_sdk_data_key_is_one_the_gateway_decrypts_itself(gateway, kms, sdk, tmp_path):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    provider = StrictAwsKmsMasterKeyProvider(
        key_ids=[arn], botocore_session=gateway_session(gateway, tmp_path)
    )
    _, header = sdk.encrypt(source=b"hello", key_provider=provider,
                            encryption_context={"k": "v"})
    [edk] = header.encrypted_data_keys
    # The SDK binds the whole (serialized) context into the KMS call: the wrong one fails.
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=edk.encrypted_data_key, EncryptionContext={"k": "v"})
    plaintext_key = kms.decrypt(
        CiphertextBlob=edk.encrypted_data_key,
        EncryptionContext=dict(header.encryption_context),
    )
    assert plaintext_key["KeyId"] == arn
    assert len(plaintext_key["Plaintext"]) == 32


def test_sdk_decrypt_with_a_provider_for_another_key_fails(gateway, kms, sdk, tmp_path):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    other = kms.create_key()["KeyMetadata"]["Arn"]
    session = gateway_session(gateway, tmp_path)
    ciphertext, _ = sdk.encrypt(
        source=b"secret" * 1000,
        key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=session),
    )
    wrong = StrictAwsKmsMasterKeyProvider(key_ids=[other], botocore_session=session)
    with pytest.raises(DecryptKeyError):
        sdk.decrypt(source=ciphertext, key_provider=wrong)


def test_sdk_decrypt_fails_once_the_key_is_disabled(gateway, kms, sdk, tmp_path):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    session = gateway_session(gateway, tmp_path)
    ciphertext, _ = sdk.encrypt(
        source=b"payload",
        key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=session),
    )
    kms.disable_key(KeyId=arn)
    with pytest.raises(DecryptKeyError):
        sdk.decrypt(
            source=ciphertext,
            key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=session),
        )
    kms.enable_key(KeyId=arn)
    decrypted, _ = sdk.decrypt(
        source=ciphertext,
        key_provider=StrictAwsKmsMasterKeyProvider(key_ids=[arn], botocore_session=session),
    )
    assert decrypted == b"payload"
