from __future__ import annotations

import stat

import pytest

from gateway.caller import Caller
from gateway.iam.credentials import Credentials, bootstrap_admin, new_access_key_id
from gateway.keys.rootkey import RootKey
from gateway.store.sqlite import SqliteStore

ACCOUNT = "111122223333"


@pytest.fixture
async def store(tmp_path):
    store = SqliteStore(tmp_path / "db")
    await store.open()
    yield store
    await store.close()


def test_access_key_ids_look_like_aws_ones() -> None:
    ids = {new_access_key_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("AKIA") and len(i) == 20 and i.isupper() for i in ids)


async def test_secret_is_stored_wrapped_and_looked_up(store) -> None:
    creds = Credentials(store, RootKey(b"\x02" * 32))
    created = await creds.create(ACCOUNT, "alice")
    record = await store.get_access_key(created.record.access_key_id)
    assert created.secret.encode() not in record.wrapped_secret
    found = await Credentials(store, RootKey(b"\x02" * 32)).lookup(record.access_key_id)
    assert found is not None and found.secret == created.secret
    assert found.record.principal_arn == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert await creds.lookup("AKIANOTAREALKEY00000") is None


async def test_cached_holds_only_keys_a_lookup_found(store) -> None:
    created = await Credentials(store, RootKey(b"\x02" * 32)).create(ACCOUNT, "bob")
    key_id = created.record.access_key_id
    creds = Credentials(store, RootKey(b"\x02" * 32))
    assert creds.cached(key_id) is None
    found = await creds.lookup(key_id)
    assert found is not None and creds.cached(key_id) is found
    assert await creds.lookup("AKIANOTAREALKEY00000") is None
    assert creds.cached("AKIANOTAREALKEY00000") is None


async def test_a_keys_caller_acts_in_the_region_it_signed_for(store) -> None:
    created = await Credentials(store, RootKey(b"\x02" * 32)).create(ACCOUNT, "carol")
    key_id = created.record.access_key_id
    east, west = created.caller("us-east-1"), created.caller("eu-west-1")
    assert east == Caller(ACCOUNT, "us-east-1", f"arn:aws:iam::{ACCOUNT}:user/carol", key_id)
    assert west == east._replace(region="eu-west-1")
    assert created.caller("us-east-1") is east  # built once, not per request


async def test_bootstrap_from_environment(store, tmp_path) -> None:
    creds = Credentials(store, RootKey(b"\x03" * 32))
    env = {"GATEWAY_ACCESS_KEY_ID": "AKIAFROMENV000000000", "GATEWAY_SECRET_ACCESS_KEY": "s3cret"}
    message = await bootstrap_admin(creds, store, ACCOUNT, tmp_path, env)
    assert "AKIAFROMENV000000000" in message and "s3cret" not in message
    assert (await creds.lookup("AKIAFROMENV000000000")).secret == "s3cret"
    assert not (tmp_path / "credentials").exists()
    assert await bootstrap_admin(creds, store, ACCOUNT, tmp_path, env) is None  # once only


async def test_bootstrap_generates_a_shared_credentials_file(store, tmp_path) -> None:
    creds = Credentials(store, RootKey(b"\x04" * 32))
    message = await bootstrap_admin(creds, store, ACCOUNT, tmp_path, {})
    path = tmp_path / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = dict(
        line.split(" = ") for line in path.read_text().splitlines() if " = " in line
    )
    assert path.read_text().startswith("[default]\n")
    assert lines["aws_secret_access_key"] in message  # printed once, on first start
    assert (await creds.lookup(lines["aws_access_key_id"])).secret == lines["aws_secret_access_key"]
