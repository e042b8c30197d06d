"""The native ECDSA thread (native/ecdsa_worker.c through _binding.EcWorker), checked
against pyca/cryptography's own verification."""

from __future__ import annotations

import hashlib
import os
import select
import signal
from functools import partial
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from gateway.crypto._binding import EcWorker
from gateway.crypto.ecdsa import EcPrivateKey
from gateway.crypto.errors import CryptoError

CURVE_HASH = {"P-256": hashes.SHA256(), "P-384": hashes.SHA384()}


def _digests(curve: str, count: int, salt: bytes = b"") -> list[bytes]:
    name = "sha256" if curve == "P-256" else "sha384"
    return [hashlib.new(name, salt + i.to_bytes(4, "big")).digest() for i in range(count)]


def _collect_all(worker: EcWorker) -> None:
    """Collect until nothing is pending, waiting on the worker's descriptor (bounded)."""
    while worker.pending:
        readable, _, _ = select.select([worker.fd], [], [], 10)
        assert readable, "the ECDSA thread finished nothing within 10 s"
        worker.collect()


def _keep(results: dict[int, Any], index: int, sigs: Any, seconds: float) -> None:
    results[index] = sigs


def _theirs(key: EcPrivateKey) -> Any:
    return serialization.load_der_public_key(key.spki())


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_signatures_from_the_thread_verify_with_cryptography(curve: str) -> None:
    worker = EcWorker()
    key = EcPrivateKey.generate(curve)
    digests = _digests(curve, 16)
    got: list[tuple[Any, float]] = []
    key.sign_on(worker, digests, lambda results, seconds: got.append((results, seconds)))
    _collect_all(worker)
    [(signatures, seconds)] = got
    assert seconds > 0
    public = _theirs(key)
    for digest, signature in zip(digests, signatures, strict=True):
        public.verify(signature, digest, ec.ECDSA(Prehashed(CURVE_HASH[curve])))
    worker.close()
    key.close()


def test_many_jobs_in_flight_each_get_their_own_results() -> None:
    worker = EcWorker()
    keys = [EcPrivateKey.generate("P-256") for _ in range(3)]
    results: dict[int, list[bytes]] = {}
    batches = {i: _digests("P-256", 1 + i % 5, salt=bytes([i])) for i in range(40)}
    for i, digests in batches.items():
        keys[i % 3].sign_on(worker, digests, partial(_keep, results, i))
    _collect_all(worker)
    assert sorted(results) == sorted(batches)
    for i, digests in batches.items():
        public = keys[i % 3].public_key()
        assert public.verify_digests(list(zip(digests, results[i], strict=True))) == [True] * len(
            digests
        )
        # Another key's signatures do not pass: each batch was signed with its own key.
        other = keys[(i + 1) % 3].public_key()
        assert not any(other.verify_digests(list(zip(digests, results[i], strict=True))))
        public.close()
        other.close()
    worker.close()
    for key in keys:
        key.close()


def test_verify_on_the_thread_gives_a_verdict_per_item() -> None:
    worker = EcWorker()
    key = EcPrivateKey.generate("P-256")
    public = key.public_key()
    digests = _digests("P-256", 3)
    signatures = key.sign_digests(digests)
    got: list[Any] = []
    swapped = [signatures[0], signatures[0], signatures[2][:-1]]
    public.verify_on(worker, digests, swapped, lambda verdicts, seconds: got.append(verdicts))
    _collect_all(worker)
    assert got == [[True, False, False]]
    worker.close()
    key.close()
    public.close()


def test_close_finishes_and_delivers_what_is_queued() -> None:
    worker = EcWorker()
    key = EcPrivateKey.generate("P-256")
    got: list[Any] = []
    for i in range(8):
        key.sign_on(worker, _digests("P-256", 8, salt=bytes([i])), lambda r, s: got.append(r))
    worker.close()  # without waiting on the descriptor first
    assert len(got) == 8 and all(len(r) == 8 for r in got)
    assert worker.pending == 0
    with pytest.raises(RuntimeError, match="closed"):
        key.sign_on(worker, _digests("P-256", 1), lambda r, s: None)
    key.close()


def test_a_key_closed_while_its_job_runs_is_freed_after_the_job() -> None:
    worker = EcWorker()
    key = EcPrivateKey.generate("P-256")
    public = key.public_key()
    digests = _digests("P-256", 32)
    got: list[Any] = []
    key.sign_on(worker, digests, lambda r, s: got.append(r))
    key.close()  # the job holds the native key until it is collected
    _collect_all(worker)
    assert public.verify_digests(list(zip(digests, got[0], strict=True))) == [True] * 32
    worker.close()
    public.close()


def test_a_batch_the_native_call_refuses_is_delivered_as_an_exception() -> None:
    worker = EcWorker()
    key = EcPrivateKey.generate("P-256")
    public = key.public_key()
    got: list[Any] = []
    # A public key cannot sign: gw_ec_sign refuses the whole batch.
    worker.sign(public._handle, _digests("P-256", 2), lambda r, s: got.append(r))
    _collect_all(worker)
    assert isinstance(got[0], CryptoError)
    assert "ECDSA sign" in str(got[0])
    worker.close()
    key.close()
    public.close()


def test_a_failing_callback_does_not_keep_other_jobs_from_theirs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = EcWorker()
    key = EcPrivateKey.generate("P-256")
    got: list[Any] = []

    def failing(results: Any, seconds: float) -> None:
        raise RuntimeError("callback failed")

    key.sign_on(worker, _digests("P-256", 4), failing)
    key.sign_on(worker, _digests("P-256", 4, salt=b"x"), lambda r, s: got.append(r))
    with caplog.at_level("ERROR", logger="gateway.crypto._binding"):
        _collect_all(worker)
    assert len(got) == 1 and len(got[0]) == 4
    assert "a job's callback failed" in caplog.text
    worker.close()
    key.close()


def test_a_forked_child_refuses_the_parents_worker_and_closes_it_at_once() -> None:
    worker = EcWorker()
    key = EcPrivateKey.generate("P-256")
    child = os.fork()
    if child == 0:  # the child: the worker's thread stayed in the parent
        signal.alarm(10)  # a hang ends the child, and the parent sees it
        code = 0
        try:
            key.sign_on(worker, _digests("P-256", 1), lambda r, s: None)
            code = 1  # the submit should have been refused
        except RuntimeError as exc:
            code = 0 if "another process" in str(exc) else 2
        worker.close()  # must not wait for a thread this process does not have
        os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's worker is untouched.
    got: list[Any] = []
    key.sign_on(worker, _digests("P-256", 2), lambda r, s: got.append(r))
    _collect_all(worker)
    assert len(got[0]) == 2
    worker.close()
    key.close()


SCHED_IDLE = getattr(os, "SCHED_IDLE", None)


def _idle_threads() -> set[int]:
    """This process's threads under SCHED_IDLE."""
    assert SCHED_IDLE is not None
    tids = {int(t) for t in os.listdir("/proc/self/task")}
    found = set()
    for tid in tids:
        try:
            if os.sched_getscheduler(tid) == SCHED_IDLE:
                found.add(tid)
        except OSError:  # the thread ended meanwhile
            pass
    return found


@pytest.mark.skipif(SCHED_IDLE is None, reason="SCHED_IDLE is Linux's")
def test_an_idle_worker_runs_its_thread_under_sched_idle_and_signs() -> None:
    before = _idle_threads()
    worker = EcWorker(idle=True)
    key = EcPrivateKey.generate("P-256")
    try:
        assert worker.idle
        assert len(_idle_threads() - before) == 1
        digests = _digests("P-256", 8)
        got: list[Any] = []
        key.sign_on(worker, digests, lambda results, seconds: got.append(results))
        _collect_all(worker)
        [signatures] = got
        public = _theirs(key)
        for digest, signature in zip(digests, signatures, strict=True):
            public.verify(signature, digest, ec.ECDSA(Prehashed(CURVE_HASH["P-256"])))
    finally:
        worker.close()
        key.close()
    assert EcWorker().idle is False  # the normal policy unless asked


@pytest.mark.skipif(SCHED_IDLE is None, reason="SCHED_IDLE is Linux's")
def test_a_batch_that_waited_too_long_puts_the_thread_back_to_normal(caplog) -> None:
    before = _idle_threads()
    worker = EcWorker(idle=True)
    key = EcPrivateKey.generate("P-256")
    try:
        # Any wait at all now counts as starved: the first batch back moves the thread.
        worker.STARVED_SECONDS = -1.0  # type: ignore[misc]
        got: list[Any] = []
        digests = _digests("P-256", 4)
        key.sign_on(worker, digests, lambda results, seconds: got.append(results))
        _collect_all(worker)
        assert not worker.idle
        assert _idle_threads() - before == set()
        assert "runs at normal priority from now on" in caplog.text
        # It goes on signing under the normal policy.
        key.sign_on(worker, digests, lambda results, seconds: got.append(results))
        _collect_all(worker)
        public = key.public_key()
        for signatures in got:
            assert public.verify_digests(list(zip(digests, signatures, strict=True))) == [True] * 4
        public.close()
    finally:
        worker.close()
        key.close()
