"""CryptoBatcher: coalescing, per-caller results, cancellation, validation, lifecycle."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto import aesgcm
from gateway.crypto._binding import EcWorker
from gateway.crypto.aesgcm import AuthenticationError, Sealed
from gateway.crypto.batcher import CryptoBatcher
from gateway.crypto.ecdsa import EcPrivateKey

KEYS = [bytes([i]) * 32 for i in range(4)]


@pytest.fixture(params=[0, 64], ids=["threaded-aes", "inline-aes"])
async def batcher(request: pytest.FixtureRequest):
    batches: list[tuple[str, int, float]] = []
    b = CryptoBatcher(
        max_batch=64,
        inline_aes_max=request.param,
        on_batch=lambda op, n, s: batches.append((op, n, s)),
    )
    b.batches = batches  # type: ignore[attr-defined]
    yield b
    await b.close()


async def test_concurrent_submitters_with_several_keys_each_get_their_own_result(batcher) -> None:
    rng = random.Random(7)
    jobs = [
        (rng.choice(KEYS), os.urandom(rng.randrange(0, 80)), os.urandom(4)) for _ in range(1000)
    ]
    sealed = await asyncio.gather(*(batcher.seal(k, p, a) for k, p, a in jobs))
    for (k, p, a), s in zip(jobs, sealed, strict=True):
        assert isinstance(s, Sealed)
        assert AESGCM(k).decrypt(s.iv, s.ciphertext + s.tag, a) == p
    opened = await asyncio.gather(
        *(
            batcher.open(k, s.iv, s.ciphertext, s.tag, a)
            for (k, _, a), s in zip(jobs, sealed, strict=True)
        )
    )
    assert opened == [p for _, p, _ in jobs]
    # Items were coalesced: far fewer native calls than items, none above max_batch.
    sizes = [n for _, n, _ in batcher.batches]
    assert sum(sizes) == 2000 and len(sizes) < 200 and max(sizes) <= 64
    assert batcher.pending == 0 and batcher.in_flight == 0


async def test_each_batch_uses_a_single_key(batcher) -> None:
    # 4 keys x 10 items in one loop turn -> 4 native calls of 10.
    await asyncio.gather(*(batcher.seal(KEYS[i % 4], b"x") for i in range(40)))
    assert sorted(n for _, n, _ in batcher.batches) == [10, 10, 10, 10]


async def test_bad_items_fail_alone_in_a_shared_batch(batcher) -> None:
    good = aesgcm.seal(KEYS[0], b"fine", b"a")
    bad_tag = good.tag[:-1] + bytes([good.tag[-1] ^ 1])
    results = await asyncio.gather(
        batcher.open(KEYS[0], good.iv, good.ciphertext, good.tag, b"a"),
        batcher.open(KEYS[0], good.iv, good.ciphertext, bad_tag, b"a"),
        batcher.open(KEYS[0], good.iv, good.ciphertext, good.tag, b"wrong"),
        batcher.open(KEYS[0], good.iv, good.ciphertext, good.tag, b"a"),
        return_exceptions=True,
    )
    assert results[0] == b"fine" and results[3] == b"fine"
    assert isinstance(results[1], AuthenticationError)
    assert isinstance(results[2], AuthenticationError)
    assert results[1] is not results[2]


async def test_cancelled_submitter_does_not_break_the_batch(batcher) -> None:
    tasks = [batcher.seal(KEYS[0], bytes([i])) for i in range(20)]
    # Every item is submitted at the call; the flush is scheduled and has not run yet.
    tasks[3].cancel()
    tasks[11].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    for i, r in enumerate(done):
        if i in (3, 11):
            assert isinstance(r, asyncio.CancelledError)
        else:
            assert aesgcm.open(KEYS[0], r.iv, r.ciphertext, r.tag) == bytes([i])


async def test_cancel_while_running_on_the_executor() -> None:
    b = CryptoBatcher(inline_aes_max=0)
    key = EcPrivateKey.generate("P-256")
    tasks = [asyncio.ensure_future(b.sign(key, bytes([i]) * 32)) for i in range(50)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    tasks[0].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    pub = key.public_key()
    for i, r in enumerate(results[1:], start=1):
        assert pub.verify_digests([(bytes([i]) * 32, r)]) == [True]
    await b.close()
    key.close()


async def test_sign_and_verify_through_the_batcher() -> None:
    b = CryptoBatcher(max_batch=16)
    keys = [EcPrivateKey.generate("P-256"), EcPrivateKey.generate("P-384")]
    pubs = [k.public_key() for k in keys]
    jobs = [
        (i % 2, hashlib.new("sha256" if i % 2 == 0 else "sha384", bytes([i])).digest())
        for i in range(200)
    ]
    sigs = await asyncio.gather(*(b.sign(keys[k], d) for k, d in jobs))
    oks = await asyncio.gather(
        *(b.verify(pubs[k], d, s) for (k, d), s in zip(jobs, sigs, strict=True))
    )
    assert oks == [True] * 200
    # Each digest paired with its neighbour's signature.
    shifted = zip(jobs[:-1], sigs[1:], strict=True)
    wrong = await asyncio.gather(*(b.verify(pubs[k], d, s) for (k, d), s in shifted))
    assert wrong == [False] * 199
    await b.close()
    for k in keys + pubs:
        k.close()


async def test_bad_inputs_raise_in_the_caller_and_never_join_a_batch(batcher) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        await batcher.seal(b"short", b"x")
    with pytest.raises(ValueError, match="IV must be 12 bytes"):
        await batcher.open(KEYS[0], b"iv", b"", bytes(16))
    with pytest.raises(ValueError, match="tag must be 16 bytes"):
        await batcher.open(KEYS[0], bytes(12), b"", b"tag")
    with pytest.raises(TypeError):
        await batcher.seal(KEYS[0], "text")  # type: ignore[arg-type]
    key = EcPrivateKey.generate("P-256")
    with pytest.raises(ValueError, match="32-byte digest"):
        await batcher.sign(key, bytes(48))
    with pytest.raises(TypeError, match="EcPublicKey"):
        await batcher.verify(key, bytes(32), b"")  # type: ignore[arg-type]
    key.close()
    assert batcher.pending == 0 and batcher.batches == []


async def test_full_group_is_dispatched_without_waiting_for_the_turn() -> None:
    b = CryptoBatcher(max_batch=8, inline_aes_max=64)
    futs = [asyncio.ensure_future(b.seal(KEYS[0], b"x")) for _ in range(8)]
    await asyncio.sleep(0)
    # The eighth submission filled the group and ran it inline right away.
    assert b.pending == 0
    await asyncio.gather(*futs)
    await b.close()


async def test_pending_counts_queued_items() -> None:
    b = CryptoBatcher()
    futs = [b.seal(KEYS[0], b"x") for _ in range(5)]
    assert b.pending == 5  # submitted at the call; the flush has not run yet
    await asyncio.gather(*futs)
    assert b.pending == 0
    await b.close()


async def test_closed_batcher_rejects_work_and_close_drains() -> None:
    b = CryptoBatcher(inline_aes_max=0)
    futs = [asyncio.ensure_future(b.seal(KEYS[1], b"x")) for _ in range(10)]
    await asyncio.sleep(0)
    await b.close()
    assert all(f.done() and not f.exception() for f in futs)
    with pytest.raises(RuntimeError, match="closed"):
        await b.seal(KEYS[1], b"x")


async def test_caller_supplied_executor_is_not_shut_down() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        b = CryptoBatcher(executor=pool, inline_aes_max=0)
        assert (await b.seal(KEYS[0], b"x")).ciphertext
        await b.close()
        assert pool.submit(lambda: 1).result() == 1


async def test_failing_on_batch_callback_does_not_lose_results() -> None:
    def boom(op: str, n: int, s: float) -> None:
        raise RuntimeError("metrics down")

    b = CryptoBatcher(on_batch=boom)
    s = await b.seal(KEYS[0], b"x")
    assert await b.open(KEYS[0], s.iv, s.ciphertext, s.tag) == b"x"
    await b.close()


async def test_closed_key_fails_its_batch_with_a_clear_error() -> None:
    b = CryptoBatcher()
    key = EcPrivateKey.generate("P-256")
    key.close()
    with pytest.raises(ValueError, match="closed"):
        await b.sign(key, bytes(32))
    await b.close()


def test_constructor_validates_limits() -> None:
    with pytest.raises(ValueError):
        CryptoBatcher(max_batch=0)
    with pytest.raises(ValueError):
        CryptoBatcher(inline_aes_max=-1)
    with pytest.raises(ValueError):
        CryptoBatcher(inline_ecdsa_max=-1)


class CountingExecutor(ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.submitted = 0

    def submit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.submitted += 1
        return super().submit(*args, **kwargs)


@pytest.mark.parametrize(
    ("inline_max", "items", "expected_hand_offs"),
    [(4, 4, 0), (4, 5, 1), (0, 1, 1), (16, 16, 0)],
)
async def test_small_ecdsa_groups_run_inline_and_larger_ones_on_the_native_thread(
    inline_max: int, items: int, expected_hand_offs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[str] = []
    for name in ("sign", "verify"):
        real = getattr(EcWorker, name)

        def counted(self: EcWorker, *args: Any, _real: Any = real, _name: str = name) -> Any:
            handed.append(_name)
            return _real(self, *args)

        monkeypatch.setattr(EcWorker, name, counted)
    with CountingExecutor() as pool:
        b = CryptoBatcher(executor=pool, inline_ecdsa_max=inline_max)
        key = EcPrivateKey.generate("P-256")
        digests = [hashlib.sha256(bytes([i])).digest() for i in range(items)]
        signatures = await asyncio.gather(*(b.sign(key, d) for d in digests))
        public = key.public_key()
        assert public.verify_digests(list(zip(digests, signatures, strict=True))) == [True] * items
        valid = await asyncio.gather(
            *(b.verify(public, d, s) for d, s in zip(digests, signatures, strict=True))
        )
        assert all(valid)
        # One group for the signatures, one for the verifications.
        assert handed == ["sign", "verify"] * expected_hand_offs
        assert pool.submitted == 0  # ECDSA never takes the Python threads
        await b.close()
        key.close()
        public.close()


async def test_a_lone_signature_waits_for_the_native_thread_while_it_has_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handed: list[int] = []
    real = EcWorker.sign

    def counted(self: EcWorker, handle: Any, digests: Any, done: Any) -> None:
        handed.append(len(digests))
        real(self, handle, digests, done)

    monkeypatch.setattr(EcWorker, "sign", counted)
    b = CryptoBatcher(inline_ecdsa_max=1)
    key = EcPrivateKey.generate("P-256")
    digests = [hashlib.sha256(bytes([i])).digest() for i in range(4)]
    await b.sign(key, digests[0])  # a lone signature, nothing on the thread: inline
    await asyncio.gather(b.sign(key, digests[1]), b.sign(key, digests[2]))  # a group: thread
    assert handed == [2]
    # The thread busy (load): a lone signature queues behind it instead of taking the loop.
    monkeypatch.setattr(EcWorker, "pending", property(lambda self: 1))
    signature = await b.sign(key, digests[3])
    assert handed == [2, 1]
    public = key.public_key()
    assert public.verify_digests([(digests[3], signature)]) == [True]
    await b.close()
    key.close()
    public.close()


def test_a_batcher_moved_to_another_event_loop_signs_there() -> None:
    b = CryptoBatcher(inline_ecdsa_max=0)
    key = EcPrivateKey.generate("P-256")
    public = key.public_key()
    digest = hashlib.sha256(b"moved").digest()
    # Two loops one after the other: the first loop's reader is gone with it.
    first = asyncio.run(_sign_once(b, key, digest))
    second = asyncio.run(_sign_once(b, key, digest))
    assert public.verify_digests([(digest, first), (digest, second)]) == [True, True]
    asyncio.run(b.close())
    key.close()
    public.close()


async def _sign_once(b: CryptoBatcher, key: EcPrivateKey, digest: bytes) -> bytes:
    return await asyncio.wait_for(b.sign(key, digest), 10)


async def test_the_native_thread_reports_failures_and_results_per_item() -> None:
    b = CryptoBatcher(inline_ecdsa_max=0)
    key = EcPrivateKey.generate("P-256")
    public = key.public_key()
    digests = [hashlib.sha256(bytes([i])).digest() for i in range(3)]
    signatures = await asyncio.gather(*(b.sign(key, d) for d in digests))
    # A wrong signature is False for its own item only; a truncated one too.
    checks = [
        (digests[0], signatures[0]),
        (digests[1], signatures[0]),
        (digests[2], signatures[2][:-1]),
    ]
    assert await asyncio.gather(*(b.verify(public, d, s) for d, s in checks)) == [
        True,
        False,
        False,
    ]
    assert b.in_flight == 0
    await b.close()
    key.close()
    public.close()


async def test_close_delivers_groups_still_on_the_native_thread() -> None:
    b = CryptoBatcher(inline_ecdsa_max=0)
    key = EcPrivateKey.generate("P-256")
    futures = [b.sign(key, hashlib.sha256(bytes([i])).digest()) for i in range(64)]
    await asyncio.sleep(0)  # the flush hands the group to the thread
    await b.close()
    signatures = [f.result() for f in futures]
    public = key.public_key()
    digests = [hashlib.sha256(bytes([i])).digest() for i in range(64)]
    assert public.verify_digests(list(zip(digests, signatures, strict=True))) == [True] * 64
    key.close()
    public.close()


async def test_seal_blob_under_1000_concurrent_submitters_over_several_keys(batcher) -> None:
    rng = random.Random(11)
    headers = {k: os.urandom(22) for k in KEYS}
    jobs = []
    for i in range(1000):
        key = rng.choice(KEYS)
        # Mostly the key's one header; some items carry another (a rotation mid-batch).
        prefix = headers[key] if i % 7 else os.urandom(rng.randrange(0, 30))
        jobs.append((key, prefix, os.urandom(rng.randrange(0, 200)), prefix + os.urandom(4)))
    futs = [asyncio.ensure_future(batcher.seal_blob(k, h, p, a)) for k, h, p, a in jobs]
    blobs = await asyncio.gather(*futs)
    assert all(f.done() and not f.cancelled() for f in futs)
    assert len(blobs) == 1000
    for (key, prefix, pt, aad), blob in zip(jobs, blobs, strict=True):
        assert type(blob) is bytes and blob[: len(prefix)] == prefix
        body = blob[len(prefix) :]
        assert AESGCM(key).decrypt(body[:12], body[12:], aad) == pt
    sizes = [n for op, n, _ in batcher.batches]
    assert {op for op, _, _ in batcher.batches} == {"seal"}
    assert sum(sizes) == 1000 and len(sizes) < 100 and max(sizes) <= 64
    assert batcher.pending == 0 and batcher.in_flight == 0


async def test_seal_blob_groups_by_key_and_apart_from_seal(batcher) -> None:
    blobs = asyncio.gather(*(batcher.seal_blob(KEYS[i % 2], b"h", b"x") for i in range(20)))
    sealed = asyncio.gather(*(batcher.seal(KEYS[0], b"x") for _ in range(5)))
    await asyncio.gather(blobs, sealed)
    assert sorted(n for _, n, _ in batcher.batches) == [5, 10, 10]
    assert all(isinstance(s, Sealed) for s in sealed.result())
    assert all(len(b) == 1 + 12 + 1 + 16 for b in blobs.result())


async def test_seal_blob_bad_inputs_raise_in_the_caller(batcher) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        await batcher.seal_blob(b"short", b"h", b"x")
    with pytest.raises(TypeError, match="prefix"):
        await batcher.seal_blob(KEYS[0], "h", b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="plaintext"):
        await batcher.seal_blob(KEYS[0], b"h", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AAD"):
        await batcher.seal_blob(KEYS[0], b"h", b"x", 5)  # type: ignore[arg-type]
    assert batcher.pending == 0 and batcher.batches == []
    # bytes-like inputs are accepted and copied
    blob = await batcher.seal_blob(bytearray(KEYS[0]), memoryview(b"h"), bytearray(b"x"))
    assert AESGCM(KEYS[0]).decrypt(blob[1:13], blob[13:], b"") == b"x"


async def test_open_blob_opens_what_seal_blob_sealed_under_1000_submitters(batcher) -> None:
    rng = random.Random(13)
    jobs = []
    for _ in range(1000):
        key, header = rng.choice(KEYS), os.urandom(22)
        jobs.append((key, header, os.urandom(rng.randrange(0, 200)), header + os.urandom(4)))
    blobs = await asyncio.gather(*(batcher.seal_blob(k, h, p, a) for k, h, p, a in jobs))
    batcher.batches.clear()
    opened = await asyncio.gather(
        *(batcher.open_blob(k, b, a, skip=22) for (k, _, _, a), b in zip(jobs, blobs, strict=True))
    )
    assert opened == [p for _, _, p, _ in jobs]
    sizes = [n for _, n, _ in batcher.batches]
    assert {op for op, _, _ in batcher.batches} == {"open"}
    assert sum(sizes) == 1000 and len(sizes) < 100 and max(sizes) <= 64
    assert batcher.pending == 0 and batcher.in_flight == 0


async def test_open_blob_groups_by_key_and_prefix_length_and_bad_items_fail_alone(
    batcher,
) -> None:
    short = await batcher.seal_blob(KEYS[0], b"h", b"pt", b"h")
    long = await batcher.seal_blob(KEYS[0], b"head", b"pt", b"head")
    bad_tag = short[:-1] + bytes([short[-1] ^ 1])
    batcher.batches.clear()
    results = await asyncio.gather(
        batcher.open_blob(KEYS[0], short, b"h", skip=1),
        batcher.open_blob(KEYS[0], long, b"head", skip=4),
        batcher.open_blob(KEYS[0], bad_tag, b"h", skip=1),
        batcher.open_blob(KEYS[0], short, b"wrong", skip=1),
        batcher.open_blob(KEYS[1], short, b"h", skip=1),
        batcher.open_blob(KEYS[0], short, b"h", skip=1),
        return_exceptions=True,
    )
    assert results[0] == results[1] == results[5] == b"pt"
    assert all(isinstance(r, AuthenticationError) for r in results[2:5])
    assert len({id(r) for r in results[2:5]}) == 3
    # One group per (key, prefix length): 4 under KEYS[0] with skip 1, then the others.
    assert sorted(n for _, n, _ in batcher.batches) == [1, 1, 4]


async def test_open_blob_bad_inputs_raise_in_the_caller(batcher) -> None:
    blob = await batcher.seal_blob(KEYS[0], b"h", b"x")
    batcher.batches.clear()
    with pytest.raises(ValueError, match="32 bytes"):
        await batcher.open_blob(b"short", blob, skip=1)
    with pytest.raises(TypeError, match="blob"):
        await batcher.open_blob(KEYS[0], "blob", skip=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="AAD"):
        await batcher.open_blob(KEYS[0], blob, 5, skip=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 31 bytes"):  # 30: 1 + 12 + 1 + 16
        await batcher.open_blob(KEYS[0], blob, skip=3)
    assert batcher.pending == 0 and batcher.batches == []
    # bytes-like inputs are accepted and copied
    assert await batcher.open_blob(bytearray(KEYS[0]), memoryview(blob), skip=1) == b"x"
