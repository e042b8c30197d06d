import asyncio

from gateway.keys.model import Key
from gateway.kms import keymaterial
from gateway.kms.handles import KeyHandles


class FakeRepository:
    def __init__(self) -> None:
        self.materials: dict[str, bytes] = {}
        self.reads = 0

    async def material(self, key: Key, version: int) -> bytes | None:
        self.reads += 1
        return self.materials.get(key.key_id)


def make_key(key_id: str, spec: str = "ECC_NIST_P256", usage: str = "SIGN_VERIFY") -> Key:
    return Key("111122223333", "us-east-1", key_id, 0.0, key_spec=spec, key_usage=usage)


def test_native_handles_are_shared_bounded_and_closed_when_evicted() -> None:
    async def run() -> None:
        repo = FakeRepository()
        handles = KeyHandles(max_entries=2)
        keys = [make_key(f"k{i}") for i in range(3)]
        for key in keys:
            repo.materials[key.key_id] = keymaterial.generate("ECC_NIST_P256")
        assert handles.cached(keys[0]) is None
        first = await handles.load(repo, keys[0])  # type: ignore[arg-type]
        assert first.native and await handles.load(repo, keys[0]) is first  # type: ignore[arg-type]
        assert handles.cached(keys[0]) is first and handles.cached(keys[0], 2) is None
        assert repo.reads == 1
        await handles.load(repo, keys[1])  # type: ignore[arg-type]
        await handles.load(repo, keys[2])  # type: ignore[arg-type]
        assert len(handles) == 2
        handles.forget("111122223333", "us-east-1", "k1")
        assert len(handles) == 1
        handles.close()
        assert len(handles) == 0

    asyncio.run(run())


def test_evicted_handle_closes_after_the_grace_period_outside_a_loop() -> None:
    repo = FakeRepository()
    key = make_key("k")
    repo.materials["k"] = keymaterial.generate("ECC_NIST_P384")
    handles = KeyHandles(max_entries=1)
    loaded = asyncio.run(handles.load(repo, key))  # type: ignore[arg-type]
    handles.forget(key.account, key.region, key.key_id)  # no running loop: closed at once
    assert loaded.private.closed and loaded.public.closed


def test_key_agreement_and_other_curves_load_into_cryptography() -> None:
    repo = FakeRepository()
    handles = KeyHandles()
    for key_id, spec, usage in (
        ("a", "ECC_NIST_P256", "KEY_AGREEMENT"),
        ("b", "ECC_SECG_P256K1", "SIGN_VERIFY"),
        ("c", "RSA_2048", "ENCRYPT_DECRYPT"),
    ):
        repo.materials[key_id] = keymaterial.generate(spec)
        loaded = asyncio.run(handles.load(repo, make_key(key_id, spec, usage)))  # type: ignore[arg-type]
        assert not loaded.native and loaded.spki[0] == 0x30
