"""Precomputed ECDSA nonces: signatures stay valid and every nonce signs once, across
threads, pool exhaustion, stop and fork."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from gateway.crypto.ecdsa import (
    MAX_PRECOMPUTED_NONCES,
    EcPrivateKey,
    nonce_pools_settled,
    nonce_stats,
    start_nonce_precompute,
    stop_nonce_precompute,
)

_HASH = {"P-256": (hashlib.sha256, hashes.SHA256()), "P-384": (hashlib.sha384, hashes.SHA384())}
_READY = {"P-256": "ready_p256", "P-384": "ready_p384"}


@pytest.fixture
def precompute() -> Iterator[None]:
    stop_nonce_precompute()  # a clean pool whatever ran before
    yield
    stop_nonce_precompute()


def _wait_full(curve: str, capacity: int) -> None:
    """Until the curve's pool is full and the filler rests (a bounded wait, not a timing
    check): the next capacity // 2 signatures then take nonces without a refill running."""
    deadline = time.monotonic() + 120  # the filler runs at the lowest priority
    while not (getattr(nonce_stats(), _READY[curve]) == capacity and nonce_pools_settled()):
        assert time.monotonic() < deadline, f"the {curve} pool did not fill"
        time.sleep(0.01)


def _key_with_full_pool(curve: str, capacity: int) -> EcPrivateKey:
    """A new key, and its curve's pool started, asked for (by a first signature) and full."""
    key = EcPrivateKey.generate(curve)
    start_nonce_precompute(capacity)
    key.sign_digests(_digests(curve, 1, "wake"))
    _wait_full(curve, capacity)
    return key


def _digests(curve: str, count: int, tag: str = "") -> list[bytes]:
    hash_fn, _ = _HASH[curve]
    return [hash_fn(f"{tag} message {i}".encode()).digest() for i in range(count)]


def _check_all(key: EcPrivateKey, curve: str, digests: list[bytes], sigs: list[bytes]) -> None:
    """Each signature verifies under `cryptography`; returns nothing, raises on any bad one."""
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1() if curve == "P-256" else ec.SECP384R1(),
        _point(key),
    )
    _, algorithm = _HASH[curve]
    for digest, sig in zip(digests, sigs, strict=True):
        public.verify(sig, digest, ec.ECDSA(Prehashed(algorithm)))


def _point(key: EcPrivateKey) -> bytes:
    public = serialization.load_der_public_key(key.public_key().spki())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _r_values(sigs: list[bytes]) -> list[int]:
    return [decode_dss_signature(sig)[0] for sig in sigs]


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_signatures_with_precomputed_nonces_verify(precompute: None, curve: str) -> None:
    key = _key_with_full_pool(curve, 64)
    before = nonce_stats()
    digests = _digests(curve, 32)
    sigs = key.sign_digests(digests)
    after = nonce_stats()
    _check_all(key, curve, digests, sigs)
    assert after.signed_precomputed - before.signed_precomputed == 32
    assert after.signed_pool_empty == before.signed_pool_empty


def test_each_nonce_signs_once(precompute: None) -> None:
    # The same digest signed 400 times: a reused nonce would repeat an r value.
    key = _key_with_full_pool("P-256", 128)
    digest = _digests("P-256", 1)[0]
    before = nonce_stats().signed_precomputed
    sigs = [sig for _ in range(8) for sig in key.sign_digests([digest] * 50)]
    assert nonce_stats().signed_precomputed - before >= 64
    _check_all(key, "P-256", [digest] * len(sigs), sigs)
    assert len(set(_r_values(sigs))) == len(sigs)


def test_an_empty_pool_signs_in_full(precompute: None) -> None:
    key = _key_with_full_pool("P-256", 1)
    before = nonce_stats()
    digests = _digests("P-256", 50)
    sigs = key.sign_digests(digests)
    after = nonce_stats()
    _check_all(key, "P-256", digests, sigs)
    used = after.signed_precomputed - before.signed_precomputed
    empty = after.signed_pool_empty - before.signed_pool_empty
    assert used + empty == 50
    assert empty > 0 and used >= 1


def test_threads_share_the_pool_safely(precompute: None) -> None:
    key = EcPrivateKey.generate("P-256")
    start_nonce_precompute(256)
    key.sign_digests(_digests("P-256", 1, "wake"))
    digest = _digests("P-256", 1)[0]
    results: list[list[bytes]] = [[] for _ in range(4)]

    def sign(slot: int) -> None:
        for _ in range(10):
            results[slot] += key.sign_digests([digest] * 20)

    threads = [threading.Thread(target=sign, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sigs = [sig for slot in results for sig in slot]
    _check_all(key, "P-256", [digest] * len(sigs), sigs)
    assert len(set(_r_values(sigs))) == len(sigs) == 800


def test_stop_clears_the_pools_and_signing_goes_on(precompute: None) -> None:
    key = _key_with_full_pool("P-256", 16)
    stop_nonce_precompute()
    stopped = nonce_stats()
    assert (stopped.ready_p256, stopped.ready_p384) == (0, 0)
    digests = _digests("P-256", 10)
    sigs = key.sign_digests(digests)
    _check_all(key, "P-256", digests, sigs)
    assert nonce_stats().signed_precomputed == stopped.signed_precomputed
    stop_nonce_precompute()  # a second stop is a no-op


def test_a_restarted_pool_is_used_again(precompute: None) -> None:
    key = _key_with_full_pool("P-256", 16)
    stop_nonce_precompute()
    start_nonce_precompute(16)
    key.sign_digests(_digests("P-256", 1, "wake again"))
    _wait_full("P-256", 16)
    before = nonce_stats().signed_precomputed
    digests = _digests("P-256", 8)
    sigs = key.sign_digests(digests)
    _check_all(key, "P-256", digests, sigs)
    assert nonce_stats().signed_precomputed - before == 8


def test_start_and_stop_race_with_signers(precompute: None) -> None:
    # cffi lets go of the GIL in every native call: starts, stops and signatures from
    # several threads at once must neither crash nor repeat a nonce, and the last start
    # must leave a working pool.
    key = _key_with_full_pool("P-256", 32)
    digest = _digests("P-256", 1)[0]
    signed: list[list[bytes]] = [[] for _ in range(3)]
    done = threading.Event()

    def sign(slot: int) -> None:
        while not done.is_set():
            signed[slot] += key.sign_digests([digest] * 8)

    def churn() -> None:
        for _ in range(40):
            start_nonce_precompute(32)
            stop_nonce_precompute()

    signers = [threading.Thread(target=sign, args=(i,)) for i in range(3)]
    churners = [threading.Thread(target=churn) for _ in range(2)]
    for thread in signers + churners:
        thread.start()
    for thread in churners:
        thread.join()
    done.set()
    for thread in signers:
        thread.join()
    sigs = [sig for slot in signed for sig in slot]
    _check_all(key, "P-256", [digest] * len(sigs), sigs)
    assert len(set(_r_values(sigs))) == len(sigs)
    key = _key_with_full_pool("P-256", 32)  # the pool works after the churn
    before = nonce_stats().signed_precomputed
    key.sign_digests([digest] * 4)
    assert nonce_stats().signed_precomputed - before == 4


def test_openssl_cleanup_stops_the_filler_first() -> None:
    # At exit OpenSSL frees its RNG in OPENSSL_cleanup; the filler must be stopped inside
    # it, before that, or it would use freed memory, and never start again after it.
    # Called here while the filler works.
    program = (
        "import ctypes, ctypes.util, hashlib, os, time\n"
        "from gateway.crypto.ecdsa import EcPrivateKey, start_nonce_precompute\n"
        f"start_nonce_precompute({MAX_PRECOMPUTED_NONCES})\n"
        "EcPrivateKey.generate('P-256').sign_digests([hashlib.sha256(b'x').digest()])\n"
        "time.sleep(0.05)  # the filler is now busy with a pool of thousands\n"
        "ctypes.CDLL('libcrypto.so.3').OPENSSL_cleanup()\n"
        "time.sleep(0.3)\n"
        "try:\n"
        "    start_nonce_precompute(8)  # OpenSSL is gone: no filler may start\n"
        "except Exception as exc:\n"
        "    print('refused:', type(exc).__name__, flush=True)\n"
        "os._exit(0)\n"
    )
    for _ in range(5):
        run = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=60)
        assert run.returncode == 0, run.stderr.decode()[-2000:]
        assert run.stdout.decode().strip() == "refused: CryptoError"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_uses_its_parents_nonces(precompute: None) -> None:
    key = _key_with_full_pool("P-256", 64)
    digest = _digests("P-256", 1)[0]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its pool and its r values, then leave at once
        try:
            os.close(read_end)
            ready = nonce_stats().ready_p256
            sigs = key.sign_digests([digest] * 32)
            line = " ".join(str(r) for r in [ready, *_r_values(sigs)])
            os.write(write_end, line.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    parent = _r_values(key.sign_digests([digest] * 32))  # all from the pool: half of it
    with os.fdopen(read_end, "rb") as pipe:
        child_ready, *child = (int(v) for v in pipe.read().split())
    os.waitpid(pid, 0)
    assert child_ready == 0
    assert len(child) == 32
    assert not set(child) & set(parent)
    assert nonce_stats().signed_precomputed > 0  # the parent did use its pool


@pytest.mark.parametrize("bad", [0, -1, MAX_PRECOMPUTED_NONCES + 1, True, 2.0, "8"])
def test_pool_size_is_checked(precompute: None, bad: object) -> None:
    with pytest.raises(ValueError):
        start_nonce_precompute(bad)  # type: ignore[arg-type]
