"""Key rotation: automatic and on demand, the status and the list, through boto3.

The shared gateway's "day" lasts 0.2 s (tests/e2e/server.py), so a period of 90 days
falls due after 18 s; the automatic-rotation tests start gateways with shorter days.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.e2e.rawclient import call as raw_call
from tests.e2e.server import GatewayProcess
from tests.e2e.test_kms_keys import error_of


def _material_of(kms, key_id: str) -> str:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]


def test_rotation_is_off_until_enabled_and_off_again_once_disabled(kms, key_id):
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    answer = kms.get_key_rotation_status(KeyId=key_id)
    assert (answer["KeyRotationEnabled"], answer["KeyId"]) == (False, arn)
    assert "RotationPeriodInDays" not in answer and "NextRotationDate" not in answer
    before = time.time()
    kms.enable_key_rotation(KeyId=key_id)
    answer = kms.get_key_rotation_status(KeyId=arn)
    assert answer["KeyRotationEnabled"] is True and answer["RotationPeriodInDays"] == 365
    # 365 of the shared gateway's 0.2 s days from now.
    due = answer["NextRotationDate"].timestamp()
    assert before + 365 * 0.2 - 1 <= due <= time.time() + 365 * 0.2 + 1
    # Enabling again changes nothing; neither does an on-demand rotation.
    kms.enable_key_rotation(KeyId=key_id)
    kms.rotate_key_on_demand(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["NextRotationDate"].timestamp() == due
    # A new period counts from the same start.
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    answer = kms.get_key_rotation_status(KeyId=key_id)
    assert answer["RotationPeriodInDays"] == 90
    assert answer["NextRotationDate"].timestamp() == pytest.approx(due - (365 - 90) * 0.2)
    kms.disable_key_rotation(KeyId=key_id)
    answer = kms.get_key_rotation_status(KeyId=key_id)
    assert answer["KeyRotationEnabled"] is False and "RotationPeriodInDays" not in answer


@pytest.mark.parametrize("days", [89, 2561])
def test_the_rotation_period_is_90_to_2560_days(unchecked_kms, key_id, days):
    with pytest.raises(ClientError) as excinfo:
        unchecked_kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=days)
    assert error_of(excinfo)[0] == "ValidationException"


def test_an_on_demand_rotation_makes_new_material_current_and_keeps_the_old(kms, key_id):
    context = {"purpose": "rotation"}
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"before", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    old_material = _material_of(kms, key_id)
    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"].endswith(key_id)
    new_material = _material_of(kms, key_id)
    assert new_material != old_material
    new_blob = kms.encrypt(KeyId=key_id, Plaintext=b"after", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    for blob, plaintext, material in (
        (old_blob, b"before", old_material),
        (new_blob, b"after", new_material),
    ):
        answer = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
        assert (answer["Plaintext"], answer["KeyMaterialId"]) == (plaintext, material)
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert data_key["KeyMaterialId"] == new_material
    moved = kms.re_encrypt(
        CiphertextBlob=old_blob,
        SourceEncryptionContext=context,
        DestinationKeyId=key_id,
        DestinationEncryptionContext=context,
    )
    assert (moved["SourceKeyMaterialId"], moved["DestinationKeyMaterialId"]) == (
        old_material,
        new_material,
    )
    # The automatic schedule is not started by an on-demand rotation.
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False

    [rotation] = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert rotation["RotationType"] == "ON_DEMAND" and rotation["KeyMaterialState"] == "CURRENT"
    assert rotation["KeyMaterialId"] == new_material and "RotationDate" in rotation
    everything = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    first, second = everything["Rotations"]
    assert (first["KeyMaterialId"], first["KeyMaterialState"]) == (old_material, "NON_CURRENT")
    assert "RotationType" not in first and "RotationDate" not in first
    assert second == rotation and everything["Truncated"] is False


def test_key_rotations_page_and_stop_at_25_on_demand(kms, key_id):
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key_id)
    with pytest.raises(ClientError) as excinfo:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert error_of(excinfo)[0] == "LimitExceededException"
    seen, marker = [], None
    while True:
        page = kms.list_key_rotations(
            KeyId=key_id, Limit=10, **({"Marker": marker} if marker else {})
        )
        seen += page["Rotations"]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert len(seen) == 25 and len({r["KeyMaterialId"] for r in seen}) == 25
    assert [r["KeyMaterialState"] for r in seen] == ["NON_CURRENT"] * 24 + ["CURRENT"]
    assert seen[-1]["KeyMaterialId"] == _material_of(kms, key_id)


@pytest.mark.parametrize("text", ["gw1:\u00b2", "gw1:abc", "gw1:0", "gw1:-1", None])
def test_a_marker_that_is_not_a_rotations_marker_is_refused(kms, key_id, text):
    kms.rotate_key_on_demand(KeyId=key_id)
    marker = "garbage" if text is None else base64.urlsafe_b64encode(text.encode()).decode()
    with pytest.raises(ClientError) as excinfo:
        kms.list_key_rotations(KeyId=key_id, Marker=marker)
    assert error_of(excinfo)[0] == "InvalidMarkerException"


def test_rotation_follows_the_key_state_table(kms, key_id):
    kms.enable_key_rotation(KeyId=key_id)
    kms.disable_key(KeyId=key_id)
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.rotate_key_on_demand):
        with pytest.raises(ClientError) as excinfo:
            call(KeyId=key_id)
        assert error_of(excinfo)[0] == "DisabledException"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with pytest.raises(ClientError) as excinfo:
        kms.rotate_key_on_demand(KeyId=key_id)
    assert error_of(excinfo)[0] == "KMSInvalidStateException"
    # Rotation is suspended while the key waits for deletion, and back if it is cancelled.
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_only_symmetric_encryption_keys_rotate(kms):
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    for call in (kms.enable_key_rotation, kms.rotate_key_on_demand, kms.list_key_rotations):
        with pytest.raises(ClientError) as excinfo:
            call(KeyId=hmac_key["KeyId"])
        assert error_of(excinfo)[0] == "UnsupportedOperationException"
    answer = kms.get_key_rotation_status(KeyId=hmac_key["Arn"])
    assert (answer["KeyRotationEnabled"], answer["KeyId"]) == (False, hmac_key["Arn"])


def test_rotation_calls_need_a_key_id_or_arn(kms, key_id):
    kms.create_alias(AliasName="alias/rotation-status", TargetKeyId=key_id)
    for ref in ("alias/rotation-status", "11111111-2222-3333-4444-555555555555"):
        for call in (
            kms.get_key_rotation_status,
            kms.enable_key_rotation,
            kms.rotate_key_on_demand,
        ):
            with pytest.raises(ClientError) as excinfo:
                call(KeyId=ref)
            assert error_of(excinfo)[0] == "NotFoundException"


def _automatic(kms, key_id: str) -> list[dict]:
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    return [r for r in rotations if r["RotationType"] == "AUTOMATIC"]


@pytest.mark.parametrize("workers", [1, 2])
def test_automatic_rotation_when_due_once_per_period_and_not_while_disabled(tmp_path, workers):
    # A "day" of 10 ms: a 90-day period falls due after 0.9 s; sweeps every 0.1 s.
    server = GatewayProcess(
        tmp_path / "data",
        workers=workers,
        extra_env={"GATEWAY_DELETION_DAY_SECONDS": "0.01", "GATEWAY_DELETION_SWEEP_SECONDS": "0.1"},
    ).start()
    try:
        kms = server.client()
        rotating = kms.create_key()["KeyMetadata"]["KeyId"]
        paused = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=rotating, Plaintext=b"sealed before")["CiphertextBlob"]
        for key in (rotating, paused):
            kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=90)
        first_due = kms.get_key_rotation_status(KeyId=rotating)["NextRotationDate"]
        kms.disable_key(KeyId=paused)
        deadline = time.monotonic() + 30
        while len(_automatic(kms, rotating)) < 3:
            assert time.monotonic() < deadline, "the key was not rotated when due"
            time.sleep(0.2)
        assert _automatic(kms, paused) == []  # a disabled key waits
        # One rotation per period, however many workers sweep (two sweeps of one due date
        # would be milliseconds apart).
        dates = [r["RotationDate"].timestamp() for r in _automatic(kms, rotating)]
        assert all(b - a >= 0.5 for a, b in zip(dates, dates[1:], strict=False))
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"sealed before"
        # The schedule moved on (a worker's view may be a rotation behind: its cache beat).
        assert kms.get_key_rotation_status(KeyId=rotating)["NextRotationDate"] > first_due
        kms.enable_key(KeyId=paused)  # overdue: rotated at the next sweep
        while not _automatic(kms, paused):
            assert time.monotonic() < deadline, "the re-enabled key was not rotated"
            time.sleep(0.2)
        # New ciphertexts use the current material in every worker, once their caches have
        # caught up (GATEWAY_KEY_CACHE_SECONDS: 1 s). A connection per request: each may
        # land on either worker.
        kms.disable_key_rotation(KeyId=rotating)
        time.sleep(1.5)
        current = _material_of(kms, rotating)
        workers_seen = set()
        for _ in range(30):
            status, out, headers = raw_call(
                server.url,
                "TrentService.Encrypt",
                json.dumps({"KeyId": rotating, "Plaintext": "eA=="}).encode(),
            )
            assert status == 200, out
            workers_seen.add(headers["x-amzn-requestid"][:23])  # a per-process prefix
            blob = base64.b64decode(out["CiphertextBlob"])
            assert kms.decrypt(CiphertextBlob=blob)["KeyMaterialId"] == current
        assert len(workers_seen) == workers
    finally:
        server.stop()
    assert "Traceback" not in server.log_path.read_text()
