"""SqliteStore against the Store protocol, plus durability across processes and crashes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.keys.model import AccessKey, Alias, Key, KeyState, WrappedMaterial
from gateway.store.base import DuplicateError, LimitReachedError, MissingError, StoreError
from gateway.store.sqlite import SCHEMA_VERSION, ConflictError, SqliteStore

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
REPO_ROOT = Path(__file__).resolve().parents[2]


def make_key(key_id: str, account: str = ACCOUNT, region: str = REGION, **changes: object) -> Key:
    key = Key(account=account, region=region, key_id=key_id, created=1_700_000_000.25)
    return key.copy(**changes) if changes else key


def make_material(key_id: str, version: int = 1, wrapped: bytes | None = None) -> WrappedMaterial:
    if wrapped is None:
        wrapped = hashlib.sha256(f"{key_id}/{version}".encode()).digest()
    return WrappedMaterial(key_id=key_id, version=version, wrapped=wrapped, created=1_700_000_001.5)


def make_alias(name: str, target: str, account: str = ACCOUNT, region: str = REGION) -> Alias:
    return Alias(account, region, name, target, created=10.0, updated=11.0)


def make_access_key(akid: str, account: str = ACCOUNT, status: str = "Active") -> AccessKey:
    return AccessKey(akid, account, "alice", b"\x01wrapped-" + akid.encode(), status, 5.0)


async def add_key(store: SqliteStore, key_id: str, **kw: object) -> Key:
    key = make_key(key_id, **kw)  # type: ignore[arg-type]
    await store.create_key(key, make_material(key_id))
    return key


@pytest.fixture
async def store(tmp_path: Path):
    s = SqliteStore(tmp_path / "gateway.db")
    await s.open()
    yield s
    await s.close()


# --- lifetime and schema -------------------------------------------------------------------
async def test_open_sets_wal_schema_version_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    s = SqliteStore(path)
    await s.open()
    await s.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"keys", "materials", "aliases", "access_keys"} <= tables
    finally:
        conn.close()


async def test_open_refuses_a_database_from_a_newer_gateway(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    s = SqliteStore(path)
    with pytest.raises(StoreError, match="newer"):
        await s.open()
    # A failed open leaves the store closed and closable.
    await s.close()


async def test_calls_on_a_closed_store_raise_store_error(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "gateway.db")
    with pytest.raises(StoreError):
        await s.get_key(ACCOUNT, REGION, "k")
    await s.open()
    await s.close()
    with pytest.raises(StoreError):
        await s.count_keys(ACCOUNT, REGION)


async def test_reopening_an_existing_database_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "gateway.db"
    first = SqliteStore(path)
    await first.open()
    key = await add_key(first, "k1", tags={"a": "b"})
    await first.create_alias(make_alias("alias/one", "k1"))
    await first.create_access_key(make_access_key("AKIA1"))
    await first.close()

    second = SqliteStore(path)
    await second.open()
    try:
        assert await second.get_key(ACCOUNT, REGION, "k1") == key
        assert await second.get_materials(ACCOUNT, REGION, "k1") == [make_material("k1")]
        assert await second.get_alias(ACCOUNT, REGION, "alias/one") == make_alias("alias/one", "k1")
        assert await second.get_access_key("AKIA1") == make_access_key("AKIA1")
    finally:
        await second.close()


# --- keys ----------------------------------------------------------------------------------
async def test_create_and_get_key_round_trips_every_field(store: SqliteStore) -> None:
    key = make_key(
        "k1",
        key_spec="RSA_2048",
        key_usage="SIGN_VERIFY",
        origin="EXTERNAL",
        state=KeyState.PENDING_DELETION,
        description="désc \x00 with nul",
        policy='{"Version": "2012-10-17"}',
        tags={"Owner": "ops", "ünï": "çødé", "": ""},
        deletion_date=1_700_600_000.125,
        pending_window_days=7,
        current_version=3,
        multi_region=True,
    )
    await store.create_key(key, make_material("k1"))
    got = await store.get_key(ACCOUNT, REGION, "k1")
    assert got == key
    assert got is not None and isinstance(got.state, KeyState)
    assert isinstance(got.multi_region, bool)


async def test_get_key_returns_none_when_absent(store: SqliteStore) -> None:
    assert await store.get_key(ACCOUNT, REGION, "nope") is None


async def test_create_key_with_an_existing_id_raises_duplicate_and_changes_nothing(
    store: SqliteStore,
) -> None:
    original = await add_key(store, "k1", description="first")
    with pytest.raises(DuplicateError):
        await store.create_key(make_key("k1", description="second"), make_material("k1", 2))
    assert await store.get_key(ACCOUNT, REGION, "k1") == original
    # The whole transaction rolled back: no stray version 2 material.
    assert [m.version for m in await store.get_materials(ACCOUNT, REGION, "k1")] == [1]


async def test_create_key_rejects_material_for_another_key(store: SqliteStore) -> None:
    with pytest.raises(ValueError):
        await store.create_key(make_key("k1"), make_material("k2"))
    assert await store.get_key(ACCOUNT, REGION, "k1") is None


async def test_same_key_id_in_two_regions_or_accounts_are_different_keys(
    store: SqliteStore,
) -> None:
    east = await add_key(store, "k1", description="east")
    west = await add_key(store, "k1", region=OTHER_REGION, description="west")
    other = await add_key(store, "k1", account=OTHER_ACCOUNT, description="other")
    assert await store.get_key(ACCOUNT, REGION, "k1") == east
    assert await store.get_key(ACCOUNT, OTHER_REGION, "k1") == west
    assert await store.get_key(OTHER_ACCOUNT, REGION, "k1") == other
    assert await store.count_keys(ACCOUNT, REGION) == 1

    await store.delete_key(ACCOUNT, REGION, "k1")
    assert await store.get_key(ACCOUNT, REGION, "k1") is None
    assert await store.get_key(ACCOUNT, OTHER_REGION, "k1") == west
    assert await store.get_materials(ACCOUNT, OTHER_REGION, "k1") == [make_material("k1")]


async def test_update_key_replaces_metadata(store: SqliteStore) -> None:
    key = await add_key(store, "k1")
    changed = key.copy(
        state=KeyState.DISABLED,
        description="new",
        tags={"x": "y"},
        deletion_date=None,
        current_version=2,
    )
    await store.update_key(changed)
    assert await store.get_key(ACCOUNT, REGION, "k1") == changed


async def test_update_key_clears_optional_fields_back_to_none(store: SqliteStore) -> None:
    key = await add_key(
        store, "k1", state=KeyState.PENDING_DELETION, deletion_date=5.0, pending_window_days=7
    )
    restored = key.copy(state=KeyState.DISABLED, deletion_date=None, pending_window_days=None)
    await store.update_key(restored)
    assert await store.get_key(ACCOUNT, REGION, "k1") == restored


async def test_update_key_of_a_missing_key_raises_missing(store: SqliteStore) -> None:
    await add_key(store, "k1")
    with pytest.raises(MissingError):
        await store.update_key(make_key("k1", region=OTHER_REGION))


async def test_update_key_with_expected_swaps_only_an_unchanged_record(
    store: SqliteStore,
) -> None:
    read = await add_key(store, "k1", tags={"t": "1"}, deletion_date=None)
    tagged = read.copy(tags={"t": "2"})
    await store.update_key(tagged, expected=read)
    assert await store.get_key(ACCOUNT, REGION, "k1") == tagged


async def test_update_key_from_a_stale_copy_raises_conflict_and_changes_nothing(
    store: SqliteStore,
) -> None:
    # Worker A read the key, worker B disabled it, A writes back its change from the stale copy.
    stale = await add_key(store, "k1")
    disabled = stale.copy(state=KeyState.DISABLED)
    await store.update_key(disabled, expected=stale)
    with pytest.raises(ConflictError):
        await store.update_key(stale.copy(description="from A"), expected=stale)
    assert await store.get_key(ACCOUNT, REGION, "k1") == disabled
    with pytest.raises(MissingError):
        await store.update_key(make_key("ghost"), expected=make_key("ghost"))
    with pytest.raises(ValueError):
        await store.update_key(disabled, expected=make_key("other"))


async def test_list_keys_orders_by_key_id_and_pages_with_after_and_limit(
    store: SqliteStore,
) -> None:
    ids = ["c", "a", "e", "b", "d"]
    for key_id in ids:
        await add_key(store, key_id)
    await add_key(store, "aa", region=OTHER_REGION)  # other partitions never leak in
    await add_key(store, "ab", account=OTHER_ACCOUNT)

    assert [k.key_id for k in await store.list_keys(ACCOUNT, REGION, None, 100)] == sorted(ids)
    assert [k.key_id for k in await store.list_keys(ACCOUNT, REGION, None, 2)] == ["a", "b"]
    assert [k.key_id for k in await store.list_keys(ACCOUNT, REGION, "b", 2)] == ["c", "d"]
    assert [k.key_id for k in await store.list_keys(ACCOUNT, REGION, "d", 2)] == ["e"]
    assert await store.list_keys(ACCOUNT, REGION, "e", 2) == []
    # "after" need not be an existing id.
    assert [k.key_id for k in await store.list_keys(ACCOUNT, REGION, "bb", 10)] == ["c", "d", "e"]
    assert await store.list_keys(ACCOUNT, REGION, None, 0) == []


async def test_list_keys_paging_visits_every_key_exactly_once(store: SqliteStore) -> None:
    ids = sorted(f"{i:04x}-{i * 7919 % 1000:03d}" for i in range(57))
    for key_id in ids:
        await add_key(store, key_id)
    seen: list[str] = []
    after: str | None = None
    while page := await store.list_keys(ACCOUNT, REGION, after, 10):
        seen += [k.key_id for k in page]
        after = page[-1].key_id
    assert seen == ids


async def test_list_keys_rejects_a_negative_limit(store: SqliteStore) -> None:
    with pytest.raises(ValueError):
        await store.list_keys(ACCOUNT, REGION, None, -1)


async def test_count_keys_counts_one_account_and_region(store: SqliteStore) -> None:
    assert await store.count_keys(ACCOUNT, REGION) == 0
    for key_id in ("a", "b", "c"):
        await add_key(store, key_id)
    await add_key(store, "a", region=OTHER_REGION)
    assert await store.count_keys(ACCOUNT, REGION) == 3
    assert await store.count_keys(ACCOUNT, OTHER_REGION) == 1
    assert await store.count_keys(OTHER_ACCOUNT, REGION) == 0


async def test_delete_key_removes_key_materials_and_aliases(store: SqliteStore) -> None:
    await add_key(store, "k1")
    await store.add_material(ACCOUNT, REGION, make_material("k1", 2))
    await store.create_alias(make_alias("alias/a", "k1"))
    await store.create_alias(make_alias("alias/b", "k1"))
    await add_key(store, "k2")
    await store.create_alias(make_alias("alias/keep", "k2"))

    await store.delete_key(ACCOUNT, REGION, "k1")

    assert await store.get_key(ACCOUNT, REGION, "k1") is None
    assert await store.get_materials(ACCOUNT, REGION, "k1") == []
    assert await store.get_alias(ACCOUNT, REGION, "alias/a") is None
    assert await store.count_aliases(ACCOUNT, REGION, "k1") == 0
    assert [a.name for a in await store.list_aliases(ACCOUNT, REGION, None, None, 10)] == [
        "alias/keep"
    ]
    assert await store.get_materials(ACCOUNT, REGION, "k2") == [make_material("k2")]
    # The id is free again afterwards.
    await add_key(store, "k1")


async def test_delete_key_of_a_missing_key_raises_missing(store: SqliteStore) -> None:
    with pytest.raises(MissingError):
        await store.delete_key(ACCOUNT, REGION, "nope")


async def test_delete_key_with_due_at_skips_a_key_no_longer_due(store: SqliteStore) -> None:
    pending = KeyState.PENDING_DELETION
    due = await add_key(store, "due", state=pending, deletion_date=100.0)
    cancelled = await add_key(store, "cancelled", state=pending, deletion_date=100.0)
    # Another worker cancels the deletion after the sweeper listed the key.
    await store.update_key(cancelled.copy(state=KeyState.DISABLED, deletion_date=None))
    await add_key(store, "later", state=pending, deletion_date=300.0)

    await store.delete_key(ACCOUNT, REGION, due.key_id, due_at=200.0)
    for key_id in ("cancelled", "later", "ghost"):
        with pytest.raises(MissingError):
            await store.delete_key(ACCOUNT, REGION, key_id, due_at=200.0)
    assert await store.get_key(ACCOUNT, REGION, "due") is None
    assert await store.get_key(ACCOUNT, REGION, "cancelled") is not None
    assert await store.get_materials(ACCOUNT, REGION, "later") == [make_material("later")]


async def test_deleted_material_bytes_are_gone_from_the_files(
    store: SqliteStore, tmp_path: Path
) -> None:
    secret = os.urandom(48)
    kept = os.urandom(48)
    await store.create_key(make_key("k1"), make_material("k1", wrapped=secret))
    await store.create_key(make_key("k2"), make_material("k2", wrapped=kept))

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())

    assert secret in on_disk()  # otherwise the check below would prove nothing
    await store.delete_key(ACCOUNT, REGION, "k1")
    contents = on_disk()
    assert secret not in contents
    assert kept in contents


async def test_keys_due_for_deletion_spans_accounts_and_regions(store: SqliteStore) -> None:
    pending = KeyState.PENDING_DELETION
    due_early = await add_key(store, "a", state=pending, deletion_date=100.0)
    due_now = await add_key(store, "b", region=OTHER_REGION, state=pending, deletion_date=200.0)
    due_other = await add_key(store, "c", account=OTHER_ACCOUNT, state=pending, deletion_date=150.0)
    await add_key(store, "later", state=pending, deletion_date=200.5)
    await add_key(store, "enabled")
    # Cancelled deletion: the date alone does not make a key due.
    await add_key(store, "cancelled", state=KeyState.DISABLED, deletion_date=50.0)

    assert await store.keys_due_for_deletion(200.0) == [due_early, due_other, due_now]
    assert await store.keys_due_for_deletion(99.0) == []


# --- key material --------------------------------------------------------------------------
async def test_add_material_adds_versions_returned_in_order(store: SqliteStore) -> None:
    await add_key(store, "k1")
    await store.add_material(ACCOUNT, REGION, make_material("k1", 3))
    await store.add_material(ACCOUNT, REGION, make_material("k1", 2))
    got = await store.get_materials(ACCOUNT, REGION, "k1")
    assert got == [make_material("k1", v) for v in (1, 2, 3)]
    assert all(type(m.wrapped) is bytes for m in got)


async def test_add_material_with_an_existing_version_raises_duplicate(store: SqliteStore) -> None:
    await add_key(store, "k1")
    with pytest.raises(DuplicateError):
        await store.add_material(ACCOUNT, REGION, make_material("k1", 1, wrapped=b"other"))
    assert await store.get_materials(ACCOUNT, REGION, "k1") == [make_material("k1")]


async def test_add_material_to_a_missing_key_raises_missing(store: SqliteStore) -> None:
    await add_key(store, "k1")
    with pytest.raises(MissingError):
        await store.add_material(ACCOUNT, OTHER_REGION, make_material("k1", 2))
    assert await store.get_materials(ACCOUNT, OTHER_REGION, "k1") == []


async def test_get_materials_of_a_missing_key_is_empty(store: SqliteStore) -> None:
    assert await store.get_materials(ACCOUNT, REGION, "nope") == []


# --- aliases -------------------------------------------------------------------------------
async def test_create_and_get_alias(store: SqliteStore) -> None:
    await add_key(store, "k1")
    alias = make_alias("alias/app", "k1")
    await store.create_alias(alias)
    assert await store.get_alias(ACCOUNT, REGION, "alias/app") == alias
    assert await store.get_alias(ACCOUNT, OTHER_REGION, "alias/app") is None


async def test_create_alias_with_an_existing_name_raises_duplicate(store: SqliteStore) -> None:
    await add_key(store, "k1")
    await add_key(store, "k2")
    await store.create_alias(make_alias("alias/app", "k1"))
    with pytest.raises(DuplicateError):
        await store.create_alias(make_alias("alias/app", "k2"))
    assert (await store.get_alias(ACCOUNT, REGION, "alias/app")) == make_alias("alias/app", "k1")


async def test_same_alias_name_in_two_regions_are_different_aliases(store: SqliteStore) -> None:
    await add_key(store, "k1")
    await add_key(store, "k1", region=OTHER_REGION)
    await store.create_alias(make_alias("alias/app", "k1"))
    await store.create_alias(make_alias("alias/app", "k1", region=OTHER_REGION))
    await store.delete_alias(ACCOUNT, REGION, "alias/app")
    assert await store.get_alias(ACCOUNT, OTHER_REGION, "alias/app") is not None


async def test_create_alias_for_a_missing_key_raises_missing(store: SqliteStore) -> None:
    await add_key(store, "k1", region=OTHER_REGION)
    with pytest.raises(MissingError):
        await store.create_alias(make_alias("alias/app", "k1"))
    assert await store.get_alias(ACCOUNT, REGION, "alias/app") is None


async def test_update_alias_retargets_it(store: SqliteStore) -> None:
    await add_key(store, "k1")
    await add_key(store, "k2")
    await store.create_alias(make_alias("alias/app", "k1"))
    moved = Alias(ACCOUNT, REGION, "alias/app", "k2", created=10.0, updated=99.5)
    await store.update_alias(moved)
    assert await store.get_alias(ACCOUNT, REGION, "alias/app") == moved
    assert await store.count_aliases(ACCOUNT, REGION, "k1") == 0
    assert await store.count_aliases(ACCOUNT, REGION, "k2") == 1


async def test_update_alias_errors(store: SqliteStore) -> None:
    await add_key(store, "k1")
    with pytest.raises(MissingError):
        await store.update_alias(make_alias("alias/none", "k1"))
    await store.create_alias(make_alias("alias/app", "k1"))
    with pytest.raises(MissingError):  # target key does not exist
        await store.update_alias(make_alias("alias/app", "ghost"))
    assert await store.get_alias(ACCOUNT, REGION, "alias/app") == make_alias("alias/app", "k1")


async def test_delete_alias(store: SqliteStore) -> None:
    await add_key(store, "k1")
    await store.create_alias(make_alias("alias/app", "k1"))
    await store.delete_alias(ACCOUNT, REGION, "alias/app")
    assert await store.get_alias(ACCOUNT, REGION, "alias/app") is None
    with pytest.raises(MissingError):
        await store.delete_alias(ACCOUNT, REGION, "alias/app")
    # Deleting an alias never touches its key.
    assert await store.get_key(ACCOUNT, REGION, "k1") is not None


async def test_list_aliases_orders_pages_and_filters_by_key(store: SqliteStore) -> None:
    await add_key(store, "k1")
    await add_key(store, "k2")
    await add_key(store, "k1", region=OTHER_REGION)
    for name, target in [
        ("alias/d", "k1"),
        ("alias/a", "k2"),
        ("alias/c", "k1"),
        ("alias/b", "k1"),
        ("alias/e", "k2"),
    ]:
        await store.create_alias(make_alias(name, target))
    await store.create_alias(make_alias("alias/0", "k1", region=OTHER_REGION))

    def names(aliases: list[Alias]) -> list[str]:
        return [a.name for a in aliases]

    everything = await store.list_aliases(ACCOUNT, REGION, None, None, 100)
    assert names(everything) == ["alias/a", "alias/b", "alias/c", "alias/d", "alias/e"]
    assert names(await store.list_aliases(ACCOUNT, REGION, None, None, 2)) == ["alias/a", "alias/b"]
    assert names(await store.list_aliases(ACCOUNT, REGION, None, "alias/b", 2)) == [
        "alias/c",
        "alias/d",
    ]
    only_k1 = await store.list_aliases(ACCOUNT, REGION, "k1", None, 100)
    assert names(only_k1) == ["alias/b", "alias/c", "alias/d"]
    assert names(await store.list_aliases(ACCOUNT, REGION, "k1", "alias/b", 1)) == ["alias/c"]
    assert await store.list_aliases(ACCOUNT, REGION, "ghost", None, 100) == []
    assert names(await store.list_aliases(ACCOUNT, OTHER_REGION, None, None, 100)) == ["alias/0"]


async def test_count_aliases_counts_one_key(store: SqliteStore) -> None:
    await add_key(store, "k1")
    await add_key(store, "k1", region=OTHER_REGION)
    for name in ("alias/a", "alias/b"):
        await store.create_alias(make_alias(name, "k1"))
    await store.create_alias(make_alias("alias/c", "k1", region=OTHER_REGION))
    assert await store.count_aliases(ACCOUNT, REGION, "k1") == 2
    assert await store.count_aliases(ACCOUNT, OTHER_REGION, "k1") == 1
    assert await store.count_aliases(ACCOUNT, REGION, "k2") == 0


# --- access keys ---------------------------------------------------------------------------
async def test_access_key_create_get_list_update_delete(store: SqliteStore) -> None:
    ak2 = make_access_key("AKIA2")
    ak1 = make_access_key("AKIA1")
    other = make_access_key("AKIA0", account=OTHER_ACCOUNT)
    for ak in (ak2, ak1, other):
        await store.create_access_key(ak)

    got = await store.get_access_key("AKIA1")
    assert got == ak1
    assert got is not None and type(got.wrapped_secret) is bytes
    assert await store.list_access_keys(ACCOUNT) == [ak1, ak2]
    assert await store.list_access_keys(OTHER_ACCOUNT) == [other]
    assert await store.list_access_keys("999999999999") == []

    inactive = make_access_key("AKIA1", status="Inactive")
    await store.update_access_key(inactive)
    assert await store.get_access_key("AKIA1") == inactive

    await store.delete_access_key("AKIA1")
    assert await store.get_access_key("AKIA1") is None
    assert await store.list_access_keys(ACCOUNT) == [ak2]


async def test_access_key_errors(store: SqliteStore) -> None:
    await store.create_access_key(make_access_key("AKIA1"))
    with pytest.raises(DuplicateError):
        await store.create_access_key(make_access_key("AKIA1", account=OTHER_ACCOUNT))
    assert await store.get_access_key("AKIA1") == make_access_key("AKIA1")
    assert await store.get_access_key("AKIA-none") is None
    with pytest.raises(MissingError):
        await store.update_access_key(make_access_key("AKIA-none"))
    with pytest.raises(MissingError):
        await store.delete_access_key("AKIA-none")


# --- round-trip fidelity (property) --------------------------------------------------------
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_time = st.floats(allow_nan=False)
_keys = st.builds(
    Key,
    account=_text,
    region=_text,
    key_id=_text,
    created=_time,
    key_spec=_text,
    key_usage=_text,
    origin=_text,
    state=st.sampled_from(KeyState),
    description=_text,
    policy=_text,
    tags=st.dictionaries(_text, _text, max_size=5),
    deletion_date=st.none() | _time,
    pending_window_days=st.none() | _int64,
    current_version=_int64,
    multi_region=st.booleans(),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=_keys, update=_keys, wrapped=st.binary(max_size=600))
def test_every_key_field_round_trips(tmp_path: Path, key: Key, update: Key, wrapped: bytes) -> None:
    path = tmp_path / "roundtrip.db"
    update = update.copy(account=key.account, region=key.region, key_id=key.key_id)
    material = WrappedMaterial(key.key_id, 1, wrapped, key.created)

    async def scenario() -> None:
        s = SqliteStore(path)
        await s.open()
        try:
            await s.create_key(key, material)
            assert await s.get_key(key.account, key.region, key.key_id) == key
            assert await s.get_materials(key.account, key.region, key.key_id) == [material]
            await s.update_key(update)
            assert await s.get_key(key.account, key.region, key.key_id) == update
            await s.delete_key(key.account, key.region, key.key_id)
        finally:
            await s.close()

    asyncio.run(scenario())


# --- several workers on one file -----------------------------------------------------------
async def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    a, b = SqliteStore(path), SqliteStore(path)
    await a.open()
    await b.open()
    try:
        key = await add_key(a, "from-a")
        assert await b.get_key(ACCOUNT, REGION, "from-a") == key
        await b.update_key(key.copy(state=KeyState.DISABLED))
        got = await a.get_key(ACCOUNT, REGION, "from-a")
        assert got is not None and got.state is KeyState.DISABLED
        await b.create_alias(make_alias("alias/b", "from-a"))
        assert await a.count_aliases(ACCOUNT, REGION, "from-a") == 1
        with pytest.raises(DuplicateError):
            await b.create_key(make_key("from-a"), make_material("from-a"))
        await a.delete_key(ACCOUNT, REGION, "from-a")
        assert await b.get_key(ACCOUNT, REGION, "from-a") is None
        assert await b.get_alias(ACCOUNT, REGION, "alias/b") is None
    finally:
        await a.close()
        await b.close()


async def test_two_stores_writing_concurrently_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    a, b = SqliteStore(path), SqliteStore(path)
    await a.open()
    await b.open()
    try:
        await asyncio.gather(
            *(add_key(a, f"a-{i:03d}") for i in range(40)),
            *(add_key(b, f"b-{i:03d}") for i in range(40)),
        )
        assert await a.count_keys(ACCOUNT, REGION) == 80
        assert await b.count_keys(ACCOUNT, REGION) == 80
    finally:
        await a.close()
        await b.close()


# A worker process: creates keys in a loop, printing each id once create_key has returned.
_WRITER = """
import asyncio, hashlib, sys
from gateway.keys.model import Key, WrappedMaterial
from gateway.store.sqlite import SqliteStore

async def main(path, prefix, count):
    store = SqliteStore(path)
    await store.open()
    i = 0
    while count == 0 or i < count:
        key_id = f"{prefix}-{i:06d}"
        wrapped = hashlib.sha256(key_id.encode()).digest() * 3
        key = Key(account="111122223333", region="us-east-1", key_id=key_id, created=float(i),
                  tags={"i": str(i)})
        await store.create_key(key, WrappedMaterial(key_id, 1, wrapped, float(i)))
        sys.stdout.write(key_id + "\\n")
        sys.stdout.flush()
        i += 1
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def _spawn_writer(path: Path, prefix: str, count: int) -> asyncio.subprocess.Process:
    pythonpath = os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _WRITER,
        str(path),
        prefix,
        str(count),
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )


def _complete_lines(data: bytes) -> list[str]:
    # A line cut short by the kill was never fully reported, so it proves nothing.
    return [line.decode() for line in data.split(b"\n")[:-1]]


async def _assert_intact(store: SqliteStore, key_ids: list[str]) -> None:
    for key_id in key_ids:
        key = await store.get_key(ACCOUNT, REGION, key_id)
        assert key is not None, key_id
        assert key.tags == {"i": str(int(key_id.rsplit("-", 1)[1]))}
        wrapped = hashlib.sha256(key_id.encode()).digest() * 3
        assert [m.wrapped for m in await store.get_materials(ACCOUNT, REGION, key_id)] == [wrapped]


async def test_keys_created_before_a_sigkill_survive(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    proc = await _spawn_writer(path, "crash", 0)
    assert proc.stdout is not None
    reported: list[str] = []
    try:
        async with asyncio.timeout(8):
            while len(reported) < 40:
                line = await proc.stdout.readline()
                assert line.endswith(b"\n"), "writer exited early"
                reported.append(line.decode().rstrip("\n"))
            # The writer is in the middle of its next create_key when it dies.
            proc.send_signal(signal.SIGKILL)
            reported += _complete_lines(await proc.stdout.read())
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = SqliteStore(path)
    await store.open()
    try:
        await _assert_intact(store, [r.strip() for r in reported])
        # Nothing beyond the one create that may have committed without being reported.
        assert len(reported) <= await store.count_keys(ACCOUNT, REGION) <= len(reported) + 1
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


async def test_worker_processes_starting_and_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "workers.db"
    # Starting together on a fresh file also races the schema creation and the switch to WAL.
    procs = [await _spawn_writer(path, prefix, 20) for prefix in ("w1", "w2", "w3")]
    async with asyncio.timeout(9):
        outputs = await asyncio.gather(*(p.communicate() for p in procs))
    assert [p.returncode for p in procs] == [0, 0, 0]
    reported = [line for out, _ in outputs for line in _complete_lines(out)]
    assert len(reported) == 60

    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.count_keys(ACCOUNT, REGION) == 60
        await _assert_intact(store, reported)
    finally:
        await store.close()


async def test_change_log_names_every_written_key_and_alias(store: SqliteStore) -> None:
    start, _ = await store.changes_since(None)
    a = await add_key(store, "a")
    await add_key(store, "b")
    await store.update_key(a.copy(description="x"))
    await store.create_alias(make_alias("alias/x", "a"))
    await store.delete_key(ACCOUNT, REGION, "a")  # takes its alias with it
    latest, changes = await store.changes_since(start)
    assert latest > start
    assert changes == [
        ("key", ACCOUNT, REGION, "a"),
        ("key", ACCOUNT, REGION, "b"),
        ("key", ACCOUNT, REGION, "a"),
        ("alias", ACCOUNT, REGION, "alias/x"),
        ("alias", ACCOUNT, REGION, "alias/x"),
        ("key", ACCOUNT, REGION, "a"),
    ]
    assert await store.changes_since(latest) == (latest, [])
    assert await store.count_keys(ACCOUNT, REGION) == 1


async def test_create_key_respects_max_keys_in_its_transaction(store: SqliteStore) -> None:
    for key_id in ("k1", "k2", "k3"):
        await store.create_key(make_key(key_id), make_material(key_id), max_keys=3)
    with pytest.raises(LimitReachedError):
        await store.create_key(make_key("k4"), make_material("k4"), max_keys=3)
    assert await store.get_key(ACCOUNT, REGION, "k4") is None
    assert await store.count_keys(ACCOUNT, REGION) == 3
    await store.create_key(make_key("k4", region=OTHER_REGION), make_material("k4"), max_keys=3)


async def test_get_key_with_materials_reads_both_together(store: SqliteStore) -> None:
    key = await add_key(store, "k")
    await store.add_material(ACCOUNT, REGION, make_material("k", 2))
    found, materials = await store.get_key_with_materials(ACCOUNT, REGION, "k")
    assert found == key
    assert materials == [make_material("k", 1), make_material("k", 2)]
    assert await store.get_key_with_materials(ACCOUNT, REGION, "missing") == (None, [])


# --- changes read, applied and written in one transaction ---


async def test_modify_key_applies_the_change_to_the_stored_record(store: SqliteStore) -> None:
    key = await add_key(store, "k1")
    await store.update_key(key.copy(description="stored"))
    changed = await store.modify_key(ACCOUNT, REGION, "k1", lambda k: k.copy(tags={"a": "1"}))
    assert changed.description == "stored" and changed.tags == {"a": "1"}
    assert await store.get_key(ACCOUNT, REGION, "k1") == changed


async def test_modify_key_writes_nothing_when_the_change_raises(store: SqliteStore) -> None:
    key = await add_key(store, "k1")

    def refuse(current: Key) -> Key:
        raise LookupError("a state check said no")

    with pytest.raises(LookupError):
        await store.modify_key(ACCOUNT, REGION, "k1", refuse)
    assert await store.get_key(ACCOUNT, REGION, "k1") == key
    # The transaction was rolled back: the store goes on serving writes.
    await store.modify_key(ACCOUNT, REGION, "k1", lambda k: k.copy(description="after"))
    assert (await store.get_key(ACCOUNT, REGION, "k1")).description == "after"


async def test_modify_key_of_a_missing_key_raises_missing(store: SqliteStore) -> None:
    with pytest.raises(MissingError):
        await store.modify_key(ACCOUNT, REGION, "absent", lambda k: k)


async def test_two_stores_modifying_one_key_at_once_apply_every_change(tmp_path: Path) -> None:
    # Two stores on one file stand for two worker processes.
    a, b = SqliteStore(tmp_path / "kms.db"), SqliteStore(tmp_path / "kms.db")
    await a.open()
    await b.open()
    try:
        await add_key(a, "k1")
        await asyncio.gather(
            *(
                store.modify_key(
                    ACCOUNT, REGION, "k1", lambda k, i=i: k.copy(tags={**k.tags, f"t{i}": "v"})
                )
                for i in range(60)
                for store in [(a, b)[i % 2]]
            )
        )
        assert len((await b.get_key(ACCOUNT, REGION, "k1")).tags) == 60
    finally:
        await a.close()
        await b.close()


async def test_aliases_per_key_hold_across_two_stores_at_once(tmp_path: Path) -> None:
    a, b = SqliteStore(tmp_path / "kms.db"), SqliteStore(tmp_path / "kms.db")
    await a.open()
    await b.open()
    try:
        await add_key(a, "k1")
        await add_key(a, "k2")

        async def create(store: SqliteStore, i: int) -> bool:
            alias = Alias(ACCOUNT, REGION, f"alias/a{i}", "k1", 0.0, 0.0)
            try:
                await store.create_alias(alias, max_per_key=10)
            except LimitReachedError:
                return False
            return True

        made = await asyncio.gather(*(create((a, b)[i % 2], i) for i in range(24)))
        assert sum(made) == 10 and await a.count_aliases(ACCOUNT, REGION, "k1") == 10
        # Retargeting counts too: k2 full, an alias of k1 cannot move to it.
        for i in range(3):
            await a.create_alias(Alias(ACCOUNT, REGION, f"alias/b{i}", "k2", 0.0, 0.0))
        with pytest.raises(LimitReachedError):
            await b.update_alias(Alias(ACCOUNT, REGION, "alias/a0", "k2", 0.0, 1.0), max_per_key=3)
        # An alias already on the key is not counted against itself.
        await b.update_alias(Alias(ACCOUNT, REGION, "alias/b0", "k2", 0.0, 2.0), max_per_key=3)
    finally:
        await a.close()
        await b.close()


# --- rotation ------------------------------------------------------------------------------
async def test_a_schema_3_database_is_migrated_with_its_keys_and_materials(tmp_path: Path) -> None:
    from gateway.store import sqlite as module

    path = tmp_path / "gateway.db"
    conn = sqlite3.connect(path)
    for version in (1, 2, 3):  # the file an earlier gateway left
        for statement in module._MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute(
        "INSERT INTO keys VALUES (?, ?, 'old', 1.0, 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', "
        "'AWS_KMS', 'Enabled', 'kept', '', '{}', NULL, NULL, 1, 0)",
        (ACCOUNT, REGION),
    )
    conn.execute("INSERT INTO materials VALUES (?, ?, 'old', 1, x'0102', 2.0)", (ACCOUNT, REGION))
    conn.commit()
    conn.close()
    s = SqliteStore(path)
    await s.open()
    try:
        key = await s.get_key(ACCOUNT, REGION, "old")
        assert key is not None and key.description == "kept"
        assert (key.rotation_period_days, key.next_rotation, key.current_version) == (None, None, 1)
        [material] = await s.get_materials(ACCOUNT, REGION, "old")
        assert (material.wrapped, material.rotation_type) == (b"\x01\x02", None)
    finally:
        await s.close()


async def test_rotate_key_adds_the_next_version_and_makes_it_current(store) -> None:
    await add_key(store, "k")
    versions: list[int] = []

    def material_for(kind: str):
        def make(version: int) -> WrappedMaterial:
            versions.append(version)
            return WrappedMaterial("k", version, f"w{version}".encode(), 5.0, kind)

        return make

    rotated = await store.rotate_key(ACCOUNT, REGION, "k", material_for("ON_DEMAND"), lambda k: k)
    assert rotated is not None and rotated.current_version == 2 and versions == [2]
    assert (await store.get_key(ACCOUNT, REGION, "k")).current_version == 2  # type: ignore[union-attr]
    # Concurrent rotations apply one after another, each wrapping for its own version.
    await asyncio.gather(
        *(
            store.rotate_key(ACCOUNT, REGION, "k", material_for("AUTOMATIC"), lambda k: k)
            for _ in range(3)
        )
    )
    materials = await store.get_materials(ACCOUNT, REGION, "k")
    assert [(m.version, m.rotation_type) for m in materials] == [
        (1, None), (2, "ON_DEMAND"), (3, "AUTOMATIC"), (4, "AUTOMATIC"), (5, "AUTOMATIC"),
    ]  # fmt: skip
    assert sorted(versions) == [2, 3, 4, 5]
    # The change sees the stored key, may decline, and may raise; nothing is written then.
    assert await store.rotate_key(ACCOUNT, REGION, "k", material_for("X"), lambda k: None) is None

    def refuse(key: Key) -> Key:
        raise RuntimeError("disabled")

    with pytest.raises(RuntimeError):
        await store.rotate_key(ACCOUNT, REGION, "k", material_for("X"), refuse)
    # At most max_of_type versions of one rotation type.
    with pytest.raises(LimitReachedError):
        await store.rotate_key(
            ACCOUNT, REGION, "k", material_for("AUTOMATIC"), lambda k: k, max_of_type=3
        )
    assert len(await store.get_materials(ACCOUNT, REGION, "k")) == 5
    with pytest.raises(MissingError):
        await store.rotate_key(ACCOUNT, REGION, "gone", material_for("X"), lambda k: k)


async def test_keys_due_for_rotation_are_enabled_ones_past_their_date(store) -> None:
    await add_key(store, "due", next_rotation=10.0, rotation_period_days=90)
    await add_key(store, "later", next_rotation=30.0, rotation_period_days=90)
    await add_key(store, "off")
    await add_key(store, "disabled", next_rotation=5.0, state=KeyState.DISABLED)
    assert [k.key_id for k in await store.keys_due_for_rotation(20.0)] == ["due"]
