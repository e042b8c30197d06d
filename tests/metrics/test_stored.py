"""StoredCollector and snapshot(): the families computed from the store at scrape time."""

from __future__ import annotations

import os
import uuid

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.keys.model import Key, KeyState, WrappedMaterial
from gateway.keys.rootkey import RootKey, material_aad
from gateway.metrics.stored import StoredCollector, StoredSnapshot, snapshot
from gateway.store.sqlite import SqliteStore

ACCOUNT = "111122223333"
FAMILIES = (
    "gateway_kms_keys",
    "aws_kms_seconds_until_key_material_expiration",
    "aws_certificatemanager_days_to_expiry",
)


def scrape(data: StoredSnapshot) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoredCollector(data))
    return registry


def test_keys_per_account_region_and_state_are_gauges():
    registry = scrape(StoredSnapshot(key_states=[
        (ACCOUNT, "us-east-1", "Enabled", 7),
        (ACCOUNT, "us-east-1", "PendingDeletion", 2),
        (ACCOUNT, "eu-west-1", "Enabled", 1),
    ]))
    def keys(region: str, state: str) -> float | None:
        return registry.get_sample_value(
            "gateway_kms_keys", {"account": ACCOUNT, "region": region, "state": state}
        )
    assert keys("us-east-1", "Enabled") == 7
    assert keys("us-east-1", "PendingDeletion") == 2
    assert keys("eu-west-1", "Enabled") == 1
    assert keys("eu-west-1", "Disabled") is None


def test_empty_families_are_still_described_so_alerts_and_dashboards_resolve():
    text = generate_latest(scrape(StoredSnapshot())).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) == set(FAMILIES)
    assert all(f.type == "gauge" and not f.samples for f in families.values())
    for name in FAMILIES:
        assert f"# TYPE {name} gauge" in text


def test_key_material_and_certificate_expiry_are_per_resource_gauges():
    arn = "arn:aws:acm:us-east-1:111122223333:certificate/12345678-1234-1234-1234-123456789012"
    registry = scrape(StoredSnapshot(
        material_expiry=[("key-a", 86400.0), ("key-b", 3600.5)],
        certificate_expiry=[(arn, 44.0)],
    ))
    name = "aws_kms_seconds_until_key_material_expiration"
    assert registry.get_sample_value(name, {"key_id": "key-a"}) == 86400
    assert registry.get_sample_value(name, {"key_id": "key-b"}) == 3600.5
    assert registry.get_sample_value(
        "aws_certificatemanager_days_to_expiry", {"certificate_arn": arn}
    ) == 44


async def test_snapshot_counts_the_keys_of_a_real_store_by_state(tmp_path):
    root_key = RootKey(os.urandom(32))
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    try:
        states = {
            ("us-east-1", KeyState.ENABLED): 3,
            ("us-east-1", KeyState.DISABLED): 1,
            ("us-east-1", KeyState.PENDING_DELETION): 2,
            ("eu-west-1", KeyState.ENABLED): 1,
        }
        for (region, state), count in states.items():
            for _ in range(count):
                key = Key(ACCOUNT, region, str(uuid.uuid4()), created=1.0, state=state)
                wrapped = root_key.wrap(os.urandom(32), material_aad(key.arn, 1))
                await store.create_key(key, WrappedMaterial(key.key_id, 1, wrapped, 1.0))

        data = await snapshot(store)
    finally:
        await store.close()

    assert sorted(data.key_states) == sorted(
        (ACCOUNT, region, str(state), count) for (region, state), count in states.items()
    )
    assert data.material_expiry == [] and data.certificate_expiry == []
    registry = scrape(data)
    assert registry.get_sample_value(
        "gateway_kms_keys",
        {"account": ACCOUNT, "region": "us-east-1", "state": "PendingDeletion"},
    ) == 2


async def test_snapshot_of_an_empty_store_exports_no_key_series(tmp_path):
    store = SqliteStore(tmp_path / "gateway.db")
    await store.open()
    try:
        data = await snapshot(store)
    finally:
        await store.close()
    text = generate_latest(scrape(data)).decode()
    assert "gateway_kms_keys{" not in text
    assert "# TYPE gateway_kms_keys gauge" in text
