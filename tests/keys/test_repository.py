"""Key resolution and caching over a real SQLite store."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.caller import Caller
from gateway.errors import NotFoundException
from gateway.keys.model import Alias, Key, KeyState, WrappedMaterial
from gateway.keys.repository import KeyRepository, is_key_id
from gateway.keys.rootkey import RootKey, material_aad
from gateway.store.sqlite import SqliteStore

ACCOUNT, REGION = "111122223333", "us-east-1"
CALLER = Caller(ACCOUNT, REGION, f"arn:aws:iam::{ACCOUNT}:root", "AKIAEXAMPLE")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def setup(tmp_path):
    store = SqliteStore(tmp_path / "db")
    await store.open()
    root = RootKey(b"\x01" * 32)
    clock = Clock()
    repo = KeyRepository(store, root)
    key = Key(ACCOUNT, REGION, str(uuid.uuid4()), 0.0)
    material = b"m" * 32
    wrapped = root.wrap(material, material_aad(key.arn, 1))
    await store.create_key(key, WrappedMaterial(key.key_id, 1, wrapped, 0.0))
    await store.create_alias(Alias(ACCOUNT, REGION, "alias/app", key.key_id, 0.0, 0.0))
    yield store, repo, key, material, clock
    await store.close()


def test_key_id_forms() -> None:
    assert is_key_id(str(uuid.uuid4()))
    assert is_key_id("mrk-" + uuid.uuid4().hex)
    for bad in ("", "alias/x", "1234", str(uuid.uuid4()).upper(), "mrk-xyz"):
        assert not is_key_id(bad)


async def test_resolves_every_form(setup) -> None:
    _, repo, key, _, _ = setup
    for ref in (key.key_id, key.arn, "alias/app", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app"):
        assert (await repo.resolve(CALLER, ref)).key_id == key.key_id


async def test_aliases_refused_where_aws_refuses_them(setup) -> None:
    _, repo, _, _, _ = setup
    with pytest.raises(NotFoundException):
        await repo.resolve(CALLER, "alias/app", aliases=False)


async def test_other_region_or_account_arn_is_not_found(setup) -> None:
    _, repo, key, _, _ = setup
    for arn in (key.arn.replace(REGION, "eu-west-1"), key.arn.replace(ACCOUNT, "444455556666")):
        with pytest.raises(NotFoundException):
            await repo.resolve(CALLER, arn)


async def test_material_unwraps_and_missing_version_is_none(setup) -> None:
    _, repo, key, material, _ = setup
    assert await repo.material(key, 1) == material
    assert await repo.material(key, 2) is None


async def test_cached_material_is_only_what_material_already_unwrapped(setup) -> None:
    _, repo, key, material, _ = setup
    assert repo.cached_material(key, 1) is None
    assert await repo.material(key, 1) == material
    assert repo.cached_material(key, 1) == material
    assert repo.cached_material(key, 2) is None


async def test_a_cached_key_resolves_without_the_store(setup) -> None:
    store, repo, key, _, _ = setup
    first = await repo.resolve(CALLER, key.key_id)
    await store.close()  # any read from here on would fail
    assert await repo.resolve(CALLER, key.key_id) is first


async def test_a_cached_miss_still_gets_the_errors_of_the_full_lookup(setup) -> None:
    _, repo, _, _, _ = setup
    unknown = str(uuid.uuid4())
    assert await repo.get(ACCOUNT, REGION, unknown) is None  # cached as a miss
    assert await repo.get(ACCOUNT, REGION, "not-a-key-id") is None
    with pytest.raises(NotFoundException, match="does not exist"):
        await repo.resolve(CALLER, unknown)
    with pytest.raises(NotFoundException, match="Invalid keyId"):
        await repo.resolve(CALLER, "not-a-key-id")


async def test_cache_sees_other_writers_after_a_refresh(setup) -> None:
    store, repo, key, _, _ = setup
    await repo.refresh()
    assert (await repo.get(ACCOUNT, REGION, key.key_id)).state is KeyState.ENABLED
    assert (await repo.resolve(CALLER, "alias/app")).key_id == key.key_id
    other = Key(ACCOUNT, REGION, str(uuid.uuid4()), 0.0)
    await store.create_key(other, WrappedMaterial(other.key_id, 1, b"w", 0.0))
    # Other workers' changes: the cache serves its copies until it reads the change log.
    await store.update_key(key.copy(state=KeyState.DISABLED))
    await store.update_alias(Alias(ACCOUNT, REGION, "alias/app", other.key_id, 0.0, 1.0))
    assert (await repo.get(ACCOUNT, REGION, key.key_id)).state is KeyState.ENABLED
    await repo.refresh()
    assert (await repo.get(ACCOUNT, REGION, key.key_id)).state is KeyState.DISABLED
    assert (await repo.resolve(CALLER, "alias/app")).key_id == other.key_id


async def test_destroyed_keys_leave_the_cache_with_their_material(setup) -> None:
    store, repo, key, material, _ = setup
    await repo.refresh()
    assert await repo.material(key, 1) == material
    await store.delete_key(ACCOUNT, REGION, key.key_id)
    await repo.refresh()
    assert await repo.get(ACCOUNT, REGION, key.key_id) is None
    assert await repo.material(key, 1) is None


async def test_a_refresh_during_a_read_keeps_the_stale_answer_out_of_the_cache(setup) -> None:
    store, repo, key, _, _ = setup
    await repo.refresh()
    read = asyncio.ensure_future(repo.get(ACCOUNT, REGION, key.key_id))
    await asyncio.sleep(0)  # the read is on the store's thread
    await repo.refresh()
    await read
    await store.update_key(key.copy(description="changed"))
    await repo.refresh()
    assert (await repo.get(ACCOUNT, REGION, key.key_id)).description == "changed"


async def test_modify_applies_to_the_stored_record_not_a_stale_copy(setup) -> None:
    store, repo, key, _, _ = setup
    stale = await repo.get(ACCOUNT, REGION, key.key_id)
    await store.update_key(key.copy(description="from another worker"))
    changed = await repo.modify(stale, lambda k: k.copy(tags={**k.tags, "a": "1"}))
    assert changed.description == "from another worker" and changed.tags == {"a": "1"}
    assert await store.get_key(ACCOUNT, REGION, key.key_id) == changed


async def test_modify_is_no_no_op_on_a_stale_copy(setup) -> None:
    # The cached copy still says Disabled; another worker has enabled the key since. A
    # DisableKey here must be stored, not skipped because the copy already says Disabled.
    store, repo, key, _, _ = setup
    await store.update_key(key.copy(state=KeyState.DISABLED))
    stale = await repo.get(ACCOUNT, REGION, key.key_id)
    assert stale.state is KeyState.DISABLED
    await store.update_key(key.copy(state=KeyState.ENABLED))
    changed = await repo.modify(stale, lambda k: k.copy(state=KeyState.DISABLED))
    assert changed.state is KeyState.DISABLED
    assert (await store.get_key(ACCOUNT, REGION, key.key_id)).state is KeyState.DISABLED


async def test_modify_checks_the_stored_state_not_the_cached_one(setup) -> None:
    store, repo, key, _, _ = setup
    await store.update_key(key.copy(state=KeyState.DISABLED))
    stale = await repo.get(ACCOUNT, REGION, key.key_id)
    await store.update_key(key.copy(state=KeyState.ENABLED))

    def tag_if_enabled(current: Key) -> Key:
        if current.state is not KeyState.ENABLED:
            raise NotFoundException("refused on the state it was given")
        return current.copy(tags={"t": "1"})

    assert (await repo.modify(stale, tag_if_enabled)).tags == {"t": "1"}


async def test_concurrent_modifies_of_one_key_all_apply(setup) -> None:
    store, repo, key, _, _ = setup
    await asyncio.gather(
        *(repo.modify(key, lambda k, i=i: k.copy(tags={**k.tags, f"t{i}": "v"})) for i in range(40))
    )
    assert len((await store.get_key(ACCOUNT, REGION, key.key_id)).tags) == 40
