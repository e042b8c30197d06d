"""What a gateway has acknowledged survives a clean restart and a SIGKILL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import GatewayProcess

# Keep the waiting period real-length: a sweep must not destroy the key while we restart.
LONG_DAYS = {"GATEWAY_DELETION_DAY_SECONDS": "86400"}
# These tests are about durability, not quotas: lift the management request quotas.
UNTHROTTLED = [
    "kms:CreateKey", "kms:CreateAlias", "kms:UpdateAlias", "kms:DisableKey", "kms:EnableKey",
    "kms:TagResource", "kms:UpdateKeyDescription", "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]


def unthrottled_config(directory: Path) -> Path:
    path = directory / "unthrottled.toml"
    path.write_text("".join(
        f'[[quota]]\nname = "{name}"\nvalue = 100000\n\n' for name in UNTHROTTLED
    ))
    return path


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[GatewayProcess]]:
    """Every server a test starts goes in this list and is stopped at the end."""
    started: list[GatewayProcess] = []
    try:
        yield started
    finally:
        for server in started:
            if server.process is not None:
                server.stop()


def start(servers: list[GatewayProcess], data_dir: Path) -> GatewayProcess:
    config = unthrottled_config(data_dir.parent)
    server = GatewayProcess(data_dir, extra_env=LONG_DAYS, extra_args=["--config", str(config)])
    servers.append(server)
    return server.start()


def snapshot(kms) -> dict[str, object]:
    keys = sorted(k["KeyId"] for k in kms.list_keys()["Keys"])
    metadata = {}
    for key_id in keys:
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        metadata[key_id] = (
            meta["KeyState"], meta["Enabled"], meta["Description"],
            meta["CreationDate"], meta.get("DeletionDate"),
            kms.list_resource_tags(KeyId=key_id)["Tags"],
            kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"],
        )
    aliases = sorted(
        (a["AliasName"], a.get("TargetKeyId"))
        for a in kms.list_aliases()["Aliases"]
        if not a["AliasName"].startswith("alias/aws/")
    )
    return {"keys": metadata, "aliases": aliases}


def test_restart_keeps_keys_aliases_tags_states_and_ciphertexts(servers, tmp_path):
    data_dir = tmp_path / "data"
    first = start(servers, data_dir)
    kms = first.client()
    enabled = kms.create_key(
        Description="orders", Tags=[{"TagKey": "team", "TagValue": "payments"}]
    )["KeyMetadata"]["KeyId"]
    disabled = kms.create_key(Description="old")["KeyMetadata"]["KeyId"]
    pending = kms.create_key(Description="retiring")["KeyMetadata"]["KeyId"]
    kms.tag_resource(KeyId=disabled, Tags=[{"TagKey": "env", "TagValue": "prod"},
                                           {"TagKey": "cost", "TagValue": "42"}])
    kms.update_key_description(KeyId=enabled, Description="orders v2")
    kms.create_alias(AliasName="alias/orders", TargetKeyId=enabled)
    kms.create_alias(AliasName="alias/old", TargetKeyId=disabled)
    kms.create_alias(AliasName="alias/moved", TargetKeyId=disabled)
    kms.update_alias(AliasName="alias/moved", TargetKeyId=enabled)
    old_blob = kms.encrypt(KeyId="alias/orders", Plaintext=b"kept across restarts",
                           EncryptionContext={"order": "7"})["CiphertextBlob"]
    disabled_blob = kms.encrypt(KeyId=disabled, Plaintext=b"disabled later")["CiphertextBlob"]
    kms.disable_key(KeyId=disabled)
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=7)
    before = snapshot(kms)
    assert before["keys"][disabled][0] == "Disabled"
    assert before["keys"][pending][0] == "PendingDeletion"
    first.stop()

    second = start(servers, data_dir)
    kms = second.client()
    assert snapshot(kms) == before
    decrypted = kms.decrypt(CiphertextBlob=old_blob, EncryptionContext={"order": "7"})
    assert decrypted["Plaintext"] == b"kept across restarts"
    with pytest.raises(kms.exceptions.DisabledException):
        kms.decrypt(CiphertextBlob=disabled_blob)
    kms.enable_key(KeyId=disabled)
    assert kms.decrypt(CiphertextBlob=disabled_blob)["Plaintext"] == b"disabled later"
    kms.cancel_key_deletion(KeyId=pending)
    assert kms.describe_key(KeyId=pending)["KeyMetadata"]["KeyState"] == "Disabled"


def test_every_acknowledged_create_key_survives_sigkill(servers, tmp_path):
    data_dir = tmp_path / "data"
    server = start(servers, data_dir)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors_before_kill: list[Exception] = []
    killed = threading.Event()
    deadline = time.monotonic() + 20

    def burst(n: int) -> None:
        kms = server.client(connect_timeout=2, read_timeout=5)
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                key_id = kms.create_key(Description=f"burst {n}")["KeyMetadata"]["KeyId"]
            except Exception as exc:  # the server is gone (or broke before it was killed)
                if not killed.is_set():
                    errors_before_kill.append(exc)
                return
            with lock:
                acknowledged.append(key_id)

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        while time.monotonic() < deadline:
            with lock:
                if len(acknowledged) >= 100:
                    break
            time.sleep(0.005)
        killed.set()
        server.kill_hard()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert not errors_before_kill, errors_before_kill
    assert len(acknowledged) >= 100, "the burst did not reach 100 keys before the deadline"
    assert len(set(acknowledged)) == len(acknowledged)

    restarted = start(servers, data_dir)
    kms = restarted.client()
    listed = {k["KeyId"] for p in kms.get_paginator("list_keys").paginate() for k in p["Keys"]}
    missing = [key_id for key_id in acknowledged if key_id not in listed]
    assert not missing, f"{len(missing)} acknowledged keys lost after SIGKILL"
    for key_id in acknowledged:
        meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        assert meta["KeyState"] == "Enabled"
        blob = kms.encrypt(KeyId=key_id, Plaintext=key_id.encode())["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == key_id.encode()
    # The database is writable after recovery, not only readable.
    meta = kms.create_key(Description="after recovery")["KeyMetadata"]
    assert meta["KeyId"] not in acknowledged
