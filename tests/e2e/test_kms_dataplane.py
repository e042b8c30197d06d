"""Encrypt, Decrypt, ReEncrypt, data keys and random bytes through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.test_kms_keys import error_of

CONTEXT = {"purpose": "test", "tenant": "42"}


def test_encrypt_decrypt_round_trip_without_key_id(kms, key_id):
    for plaintext in (b"x", b"\x00" * 32, bytes(range(256)) * 16):
        out = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=CONTEXT)
        assert out["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        assert out["KeyId"].endswith(key_id)
        back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=CONTEXT)
        assert back["Plaintext"] == plaintext and back["KeyId"] == out["KeyId"]


def test_each_encryption_differs(kms, key_id):
    a = kms.encrypt(KeyId=key_id, Plaintext=b"same")["CiphertextBlob"]
    b = kms.encrypt(KeyId=key_id, Plaintext=b"same")["CiphertextBlob"]
    assert a != b


def test_encrypt_through_alias(kms, key_id):
    kms.create_alias(AliasName="alias/dataplane", TargetKeyId=key_id)
    blob = kms.encrypt(KeyId="alias/dataplane", Plaintext=b"via alias")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId="alias/dataplane")["Plaintext"] == b"via alias"


def test_plaintext_size_limits(kms, unchecked_kms, key_id):
    kms.encrypt(KeyId=key_id, Plaintext=b"a" * 4096)
    with pytest.raises(ClientError) as excinfo:
        unchecked_kms.encrypt(KeyId=key_id, Plaintext=b"a" * 4097)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "4096" in message


@pytest.mark.parametrize(
    "context",
    [None, {"purpose": "TEST", "tenant": "42"}, {"purpose": "test"}, {**CONTEXT, "extra": "1"}],
)
def test_wrong_encryption_context_is_invalid_ciphertext(kms, key_id, context):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bound", EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    kwargs = {"EncryptionContext": context} if context is not None else {}
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob, **kwargs)
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_context_pair_order_does_not_matter(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"o", EncryptionContext={"a": "1", "b": "2"})[
        "CiphertextBlob"
    ]
    back = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"b": "2", "a": "1"})
    assert back["Plaintext"] == b"o"


def test_context_is_not_concatenation(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"c", EncryptionContext={"ab": "c"})[
        "CiphertextBlob"
    ]
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "bc"})
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_tampered_blob_is_invalid_ciphertext(kms, key_id):
    blob = bytearray(kms.encrypt(KeyId=key_id, Plaintext=b"tamper me")["CiphertextBlob"])
    for index in (0, 5, 25, len(blob) // 2, len(blob) - 1):
        flipped = bytearray(blob)
        flipped[index] ^= 0x01
        with pytest.raises(ClientError) as excinfo:
            kms.decrypt(CiphertextBlob=bytes(flipped))
        assert error_of(excinfo)[0] == "InvalidCiphertextException", index
    for junk in (b"\x01", bytes(blob[:-1]), b"random bytes that are not a blob at all" * 2):
        with pytest.raises(ClientError) as excinfo:
            kms.decrypt(CiphertextBlob=junk)
        assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_key_id_that_does_not_match_the_blob_is_incorrect_key(kms, key_id):
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"mine")["CiphertextBlob"]
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob, KeyId=other)
    assert error_of(excinfo)[0] == "IncorrectKeyException"


def test_blob_from_another_region_does_not_decrypt(gateway, kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"regional")["CiphertextBlob"]
    with pytest.raises(ClientError) as excinfo:
        gateway.client(region="eu-west-3").decrypt(CiphertextBlob=blob)
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_disabled_key_cannot_decrypt(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"later")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob)
    assert error_of(excinfo)[0] == "DisabledException"
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"later"


def test_re_encrypt_moves_ciphertext_between_keys_and_contexts(kms, key_id):
    destination = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"move me", EncryptionContext=CONTEXT)[
        "CiphertextBlob"
    ]
    out = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=CONTEXT,
        DestinationKeyId=destination["KeyId"],
        DestinationEncryptionContext={"new": "ctx"},
    )
    assert out["KeyId"] == destination["Arn"] and out["SourceKeyId"].endswith(key_id)
    assert out["SourceEncryptionAlgorithm"] == out["DestinationEncryptionAlgorithm"]
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"new": "ctx"})
    assert back["Plaintext"] == b"move me" and back["KeyId"] == destination["Arn"]
    with pytest.raises(ClientError) as excinfo:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


@pytest.mark.parametrize(
    ("kwargs", "size"),
    [
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128"}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 1024}, 1024),
    ],
)
def test_generate_data_key(kms, key_id, kwargs, size):
    out = kms.generate_data_key(KeyId=key_id, EncryptionContext=CONTEXT, **kwargs)
    assert len(out["Plaintext"]) == size
    back = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=CONTEXT)
    assert back["Plaintext"] == out["Plaintext"]


def test_generate_data_key_needs_exactly_one_size(kms, unchecked_kms, key_id):
    for kwargs in ({}, {"KeySpec": "AES_256", "NumberOfBytes": 32}):
        with pytest.raises(ClientError) as excinfo:
            kms.generate_data_key(KeyId=key_id, **kwargs)
        assert error_of(excinfo)[0] == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        unchecked_kms.generate_data_key(KeyId=key_id, NumberOfBytes=1025)
    assert error_of(excinfo)[0] == "ValidationException"


def test_generate_data_key_without_plaintext(kms, key_id):
    out = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")
    assert "Plaintext" not in out
    assert len(kms.decrypt(CiphertextBlob=out["CiphertextBlob"])["Plaintext"]) == 32


def test_generate_random(kms, unchecked_kms):
    a = kms.generate_random(NumberOfBytes=1024)["Plaintext"]
    b = kms.generate_random(NumberOfBytes=1024)["Plaintext"]
    assert len(a) == 1024 and a != b
    for bad in (0, 1025):
        with pytest.raises(ClientError) as excinfo:
            unchecked_kms.generate_random(NumberOfBytes=bad)
        assert error_of(excinfo)[0] == "ValidationException"


def test_dry_run_reports_success_without_doing_it(kms, key_id):
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=key_id, Plaintext=b"x", DryRun=True)
    assert error_of(excinfo)[0] == "DryRunOperationException"


def test_re_encrypt_without_a_ciphertext_is_a_validation_error(kms, key_id):
    # The model makes CiphertextBlob optional (for IGNORE_CIPHERTEXT dry runs), so the SDK
    # sends such a request; outside those dry runs it is a client error, not a 500.
    for extra in ({}, {"DryRun": True}, {"DryRunModifiers": ["IGNORE_CIPHERTEXT"]}):
        with pytest.raises(ClientError) as excinfo:
            kms.re_encrypt(DestinationKeyId=key_id, SourceKeyId=key_id, **extra)
        code, message = error_of(excinfo)
        assert code == "ValidationException"
        assert "Value null at 'ciphertextBlob'" in message


def test_ignore_ciphertext_dry_runs_check_the_named_key(kms, key_id):
    ignore = {"DryRun": True, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]}
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(KeyId=key_id, **ignore)
    assert error_of(excinfo)[0] == "DryRunOperationException"
    with pytest.raises(ClientError) as excinfo:  # a ciphertext given anyway is not read
        kms.decrypt(KeyId=key_id, CiphertextBlob=b"not a ciphertext", **ignore)
    assert error_of(excinfo)[0] == "DryRunOperationException"
    destination = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as excinfo:
        kms.re_encrypt(SourceKeyId=key_id, DestinationKeyId=destination, **ignore)
    assert error_of(excinfo)[0] == "DryRunOperationException"
    # The key is checked as a real Decrypt would check it.
    kms.disable_key(KeyId=key_id)
    try:
        for call in (
            lambda: kms.decrypt(KeyId=key_id, **ignore),
            lambda: kms.re_encrypt(SourceKeyId=key_id, DestinationKeyId=destination, **ignore),
        ):
            with pytest.raises(ClientError) as excinfo:
                call()
            assert error_of(excinfo)[0] == "DisabledException"
    finally:
        kms.enable_key(KeyId=key_id)


def test_ignore_ciphertext_dry_runs_need_the_key_named(kms, key_id):
    ignore = {"DryRun": True, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    for call, member in (
        (lambda: kms.decrypt(CiphertextBlob=blob, **ignore), "KeyId"),
        (
            lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key_id, **ignore),
            "SourceKeyId",
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        code, message = error_of(excinfo)
        assert code == "ValidationException" and message.startswith(f"{member} is required")


def test_dry_run_modifiers_without_dry_run_change_nothing(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"still decrypted")["CiphertextBlob"]
    out = kms.decrypt(CiphertextBlob=blob, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    assert out["Plaintext"] == b"still decrypted"
    with pytest.raises(ClientError) as excinfo:  # and the ciphertext is still checked
        kms.decrypt(KeyId=key_id, CiphertextBlob=b"x" * 40, DryRunModifiers=["IGNORE_CIPHERTEXT"])
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_a_named_key_that_cannot_decrypt_is_invalid_key_usage(kms, key_id):
    # Whatever the blob: a real one, of another key, or garbage.
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    signing_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    for other in (hmac_key, signing_key):
        other_id = other["KeyMetadata"]["KeyId"]
        for ciphertext in (blob, b"\0" * 64):
            with pytest.raises(ClientError) as excinfo:
                kms.decrypt(KeyId=other_id, CiphertextBlob=ciphertext)
            assert error_of(excinfo)[0] == "InvalidKeyUsageException"
            with pytest.raises(ClientError) as excinfo:
                kms.re_encrypt(
                    SourceKeyId=other_id, CiphertextBlob=ciphertext, DestinationKeyId=key_id
                )
            assert error_of(excinfo)[0] == "InvalidKeyUsageException"


def test_key_material_ids_name_the_material_used(kms, key_id):
    current = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert len(current) == 64 and set(current) <= set("0123456789abcdef")
    generated = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert generated["KeyMaterialId"] == current
    no_plaintext = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256")
    assert no_plaintext["KeyMaterialId"] == current
    pair = kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    assert pair["KeyMaterialId"] == current
    assert kms.decrypt(CiphertextBlob=generated["CiphertextBlob"])["KeyMaterialId"] == current
    other = kms.create_key()["KeyMetadata"]
    assert other["CurrentKeyMaterialId"] != current  # one per key (and material version)
    moved = kms.re_encrypt(
        CiphertextBlob=generated["CiphertextBlob"], DestinationKeyId=other["KeyId"]
    )
    assert moved["SourceKeyMaterialId"] == current
    assert moved["DestinationKeyMaterialId"] == other["CurrentKeyMaterialId"]
    # Asymmetric keys have no such id, and their ciphertexts name none.
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    assert "CurrentKeyMaterialId" not in rsa
    sealed = kms.encrypt(
        KeyId=rsa["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )["CiphertextBlob"]
    opened = kms.decrypt(
        KeyId=rsa["KeyId"], CiphertextBlob=sealed, EncryptionAlgorithm="RSAES_OAEP_SHA_256"
    )
    assert opened["Plaintext"] == b"x" and "KeyMaterialId" not in opened
