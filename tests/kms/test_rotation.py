"""The sweep's due check, run inside the rotation's transaction by two stores on one file
(two worker processes): one due date gives exactly one rotation."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.keys.model import Key, KeyState, WrappedMaterial
from gateway.kms.rotation import still_due
from gateway.store.sqlite import SqliteStore

ACCOUNT, REGION, DAY = "111122223333", "us-east-1", 0.01


def _material(version: int) -> WrappedMaterial:
    return WrappedMaterial("k", version, b"w%d" % version, 50.0, "AUTOMATIC")


async def test_two_sweeping_stores_rotate_a_due_key_once(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "db"), SqliteStore(tmp_path / "db")
    await first.open()
    await second.open()
    try:
        key = Key(ACCOUNT, REGION, "k", 1.0, rotation_period_days=90, next_rotation=40.0)
        await first.create_key(key, WrappedMaterial("k", 1, b"w1", 1.0))
        now = 50.0

        def due(current: Key) -> Key | None:
            return still_due(current, now, DAY)

        results = await asyncio.gather(
            *(store.rotate_key(ACCOUNT, REGION, "k", _material, due) for store in (first, second))
        )
        assert sum(result is not None for result in results) == 1
        stored = await first.get_key(ACCOUNT, REGION, "k")
        assert stored is not None and stored.current_version == 2
        assert stored.next_rotation == now + 90 * DAY
        assert len(await second.get_materials(ACCOUNT, REGION, "k")) == 2
    finally:
        await first.close()
        await second.close()


def test_only_an_enabled_key_past_its_date_with_rotation_on_is_due() -> None:
    key = Key(ACCOUNT, REGION, "k", 1.0, rotation_period_days=90, next_rotation=40.0)
    rotated = still_due(key, 50.0, DAY)
    assert rotated is not None and rotated.next_rotation == 50.0 + 90 * DAY
    assert still_due(key, 39.0, DAY) is None  # not yet
    assert still_due(key.copy(state=KeyState.DISABLED), 50.0, DAY) is None
    assert still_due(key.copy(state=KeyState.PENDING_DELETION), 50.0, DAY) is None
    assert still_due(key.copy(rotation_period_days=None, next_rotation=None), 50.0, DAY) is None
