"""Coalesces single crypto requests from the event loop into native batch calls.

Items submitted during one event-loop turn (or until ``max_batch`` of one kind
accumulate) are grouped by (operation, key) and each group becomes one native
call; every caller's future then gets its own result or exception.

Where the native call runs is measured, not assumed (BENCHMARKS.md, "Native crypto
core" and "Sign and Verify (P-256) over HTTP"), on the 2-core reference machine:

- AES: a thread hand-off made batches of 1-256 32-byte items x1.6-x6.7 slower in
  wall time and never saved loop-thread CPU beyond noise (the hand-off costs more
  than the ~0.3 us/item of AES work). Groups of up to ``inline_aes_max`` items and
  ``inline_aes_max_bytes`` of data run inline on the loop thread.
- ECDSA (~21 us per P-256 signature, ~60 us per verification): a Python thread pool
  lost to running inline (the hand-off and the GIL traffic it causes cost more than
  the signature: ~170-180 us of CPU per Sign over HTTP against ~100 inline). A native
  thread that never takes the GIL (``EcWorker``, native/ecdsa_worker.c) wins instead:
  the loop queues a group and goes on serving while another core signs, and collects
  the results when the worker's eventfd is readable. With one worker process, Sign
  went from 68 % to 82 % of Encrypt's requests/s under load. A group of up to
  ``inline_ecdsa_max`` items (default 1) still runs inline while the thread has
  nothing in hand: at low load a lone signature answers ~70 us sooner there than
  through a cross-core hand-off, and under load (the thread busy) it queues behind the
  others rather than take 21 us of the loop's time. While the workers leave a core
  spare, the thread runs under SCHED_IDLE (``idle_ecdsa_thread``; setting
  ``ecdsa_thread_priority``): it then signs on the spare core and stops preempting the
  loop on its own, which lifted Sign with one worker on two cores (see BENCHMARKS.md).

Bigger AES groups, which would stall the loop, go to the executor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from functools import partial
from time import perf_counter
from typing import Any

from gateway.crypto import _binding
from gateway.crypto._binding import EcWorker
from gateway.crypto._validate import as_bytes
from gateway.crypto.aesgcm import (
    IV_SIZE,
    TAG_SIZE,
    AuthenticationError,
    OpenItem,
    Sealed,
    check_key,
    check_open_item,
    open_checked,
)
from gateway.crypto.ecdsa import EcPrivateKey, EcPublicKey

__all__ = [
    "DEFAULT_INLINE_AES_MAX",
    "DEFAULT_INLINE_AES_MAX_BYTES",
    "DEFAULT_INLINE_ECDSA_MAX",
    "CryptoBatcher",
    "OnBatch",
]

log = logging.getLogger(__name__)

# Largest AES group (items, data bytes) run on the loop thread; see the module docstring.
DEFAULT_INLINE_AES_MAX = 256
DEFAULT_INLINE_AES_MAX_BYTES = 64 * 1024
# Largest ECDSA group signed or verified on the loop thread, and only while the native ECDSA
# thread is idle; larger ones, and any while it is busy, go to that thread.
DEFAULT_INLINE_ECDSA_MAX = 1

# on_batch(operation, items, seconds spent in the native call); called on the loop thread.
OnBatch = Callable[[str, int, float], None]

_SEAL, _OPEN, _SIGN, _VERIFY = "seal", "open", "sign", "verify"
# seal_blob and open_blob group apart from seal and open (the items differ in shape) but are
# reported as "seal" and "open".
_SEAL_BLOB, _OPEN_BLOB = "seal_blob", "open_blob"
_AES_OPS = frozenset({_SEAL, _SEAL_BLOB, _OPEN, _OPEN_BLOB})
_ECDSA_OPS = frozenset({_SIGN, _VERIFY})
_REPORTED_OP = {_SEAL_BLOB: _SEAL, _OPEN_BLOB: _OPEN}

_Item = tuple["asyncio.Future[Any]", Any]


def _run_seal(key: bytes, payloads: Sequence[tuple[bytes, bytes]]) -> list[Any]:
    ivs, cts, tags = _binding.aes_gcm_seal(key, [p for p, _ in payloads], [a for _, a in payloads])
    return list(map(Sealed, ivs, cts, tags))


def _run_seal_blob(key: bytes, payloads: Sequence[tuple[bytes, bytes, bytes]]) -> list[Any]:
    prefixes, pts, aads = zip(*payloads, strict=True)
    return _binding.aes_gcm_seal_packed(key, prefixes, pts, aads)


def _run_open(key: bytes, payloads: Sequence[OpenItem]) -> list[Any]:
    return list(open_checked(key, payloads))


def _run_open_blob(
    key_and_skip: tuple[bytes, int], payloads: Sequence[tuple[bytes, bytes]]
) -> list[Any]:
    key, skip = key_and_skip
    results = _binding.aes_gcm_open_packed(
        key, skip, [b for b, _ in payloads], [a for _, a in payloads]
    )
    return [AuthenticationError() if r is None else r for r in results]


def _run_sign(key: EcPrivateKey, payloads: Sequence[bytes]) -> list[Any]:
    return list(key.sign_checked(payloads))


def _run_verify(key: EcPublicKey, payloads: Sequence[tuple[bytes, bytes]]) -> list[Any]:
    return list(key.verify_checked([d for d, _ in payloads], [s for _, s in payloads]))


_RUNNERS: dict[str, Callable[[Any, Any], list[Any]]] = {
    _SEAL: _run_seal,
    _SEAL_BLOB: _run_seal_blob,
    _OPEN: _run_open,
    _OPEN_BLOB: _run_open_blob,
    _SIGN: _run_sign,
    _VERIFY: _run_verify,
}


def _timed(op: str, key: Any, payloads: Sequence[Any]) -> tuple[list[Any], float]:
    start = perf_counter()
    results = _RUNNERS[op](key, payloads)
    return results, perf_counter() - start


class CryptoBatcher:
    """Per-event-loop batcher in front of the native core; one per app (cleanup_ctx)."""

    def __init__(
        self,
        *,
        max_batch: int = 256,
        executor: concurrent.futures.Executor | None = None,
        inline_aes_max: int = DEFAULT_INLINE_AES_MAX,
        inline_aes_max_bytes: int = DEFAULT_INLINE_AES_MAX_BYTES,
        inline_ecdsa_max: int = DEFAULT_INLINE_ECDSA_MAX,
        idle_ecdsa_thread: bool = False,
        on_batch: OnBatch | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if inline_aes_max < 0:
            raise ValueError("inline_aes_max must be >= 0 (0 sends every AES batch to a thread)")
        if inline_ecdsa_max < 0:
            raise ValueError(
                "inline_ecdsa_max must be >= 0 (0 sends every ECDSA batch to the native thread)"
            )
        self._max_batch = max_batch
        self._inline_aes_max = inline_aes_max
        self._inline_aes_max_bytes = inline_aes_max_bytes
        self._inline_ecdsa_max = inline_ecdsa_max
        self._idle_ecdsa_thread = idle_ecdsa_thread
        self._on_batch = on_batch
        self._executor = executor
        self._owns_executor = executor is None
        self._groups: dict[tuple[str, Any], list[_Item]] = {}
        self._flush_handle: asyncio.Handle | None = None
        self._running: set[asyncio.Future[Any]] = set()
        # The native ECDSA thread, started with the first group that does not run inline.
        self._ecdsa_worker: EcWorker | None = None
        self._worker_loop: asyncio.AbstractEventLoop | None = None
        self._pending = 0
        self._in_flight = 0
        self._closed = False

    # --- read-only stats (read by a metrics collector at scrape time) ---

    @property
    def pending(self) -> int:
        """Items queued for the next flush (not yet handed to a native call)."""
        return self._pending

    @property
    def in_flight(self) -> int:
        """Items in native calls off the loop thread (the executor, the ECDSA thread) whose
        results are not yet delivered."""
        return self._in_flight

    @property
    def max_batch(self) -> int:
        return self._max_batch

    @property
    def inline_aes_max(self) -> int:
        return self._inline_aes_max

    @property
    def inline_ecdsa_max(self) -> int:
        return self._inline_ecdsa_max

    # --- operations ---

    # Every operation is a plain method returning the future the caller awaits: one
    # coroutine fewer per request than ``async def``. Bad arguments raise in the caller.

    def seal(self, key: bytes, plaintext: bytes, aad: bytes = b"") -> asyncio.Future[Sealed]:
        """AES-256-GCM seal with a random IV."""
        key = check_key(key)
        payload = (as_bytes(plaintext, "plaintext"), as_bytes(aad, "AAD"))
        return self._submit(_SEAL, key, payload)

    def seal_blob(
        self, key: bytes, prefix: bytes, plaintext: bytes, aad: bytes = b""
    ) -> asyncio.Future[bytes]:
        """AES-256-GCM seal with a random IV, returned as ``prefix || iv || ciphertext || tag``.

        Coalesced like seal (per key; reported to on_batch as "seal"), sealed by one native
        call per group into one buffer. ``prefix`` is not authenticated: include it in ``aad``.
        """
        key = check_key(key)
        payload = (
            as_bytes(prefix, "prefix"),
            as_bytes(plaintext, "plaintext"),
            as_bytes(aad, "AAD"),
        )
        return self._submit(_SEAL_BLOB, key, payload)

    def open(
        self, key: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes = b""
    ) -> asyncio.Future[bytes]:
        """AES-256-GCM open; the future raises AuthenticationError if the tag does not verify."""
        key = check_key(key)
        item = check_open_item(OpenItem(iv, ciphertext, tag, aad))
        return self._submit(_OPEN, key, item)

    def open_blob(
        self, key: bytes, blob: bytes, aad: bytes = b"", *, skip: int = 0
    ) -> asyncio.Future[bytes]:
        """AES-256-GCM open of ``prefix || iv || ciphertext || tag`` as seal_blob writes it,
        the prefix ``skip`` bytes long (not read: include it in ``aad``). The future raises
        AuthenticationError if the tag does not verify; a blob too short to hold the prefix,
        an IV and a tag raises ValueError here.

        Coalesced per key and prefix length (reported to on_batch as "open"), opened by one
        native call per group without cutting the blobs apart first."""
        key = check_key(key)
        blob = as_bytes(blob, "blob")
        if len(blob) < skip + IV_SIZE + TAG_SIZE:
            raise ValueError(f"a blob must be at least {skip + IV_SIZE + TAG_SIZE} bytes")
        return self._submit(_OPEN_BLOB, (key, skip), (blob, as_bytes(aad, "AAD")))

    def sign(self, key: EcPrivateKey, digest: bytes) -> asyncio.Future[bytes]:
        """DER ECDSA signature over a digest of the curve's size."""
        if not isinstance(key, EcPrivateKey):
            raise TypeError(f"sign needs an EcPrivateKey, not {type(key).__name__}")
        return self._submit(_SIGN, key, key.check_digest(digest))

    def verify(self, key: EcPublicKey, digest: bytes, signature: bytes) -> asyncio.Future[bool]:
        """True iff ``signature`` (DER) is a valid ECDSA signature over ``digest``."""
        if not isinstance(key, EcPublicKey):
            raise TypeError(f"verify needs an EcPublicKey, not {type(key).__name__}")
        payload = (key.check_digest(digest), as_bytes(signature, "signature"))
        return self._submit(_VERIFY, key, payload)

    async def close(self) -> None:
        """Stop accepting work, finish everything queued or running, release the executor."""
        self._closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush()
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
            # Let the done callbacks (scheduled with call_soon) deliver results.
            await asyncio.sleep(0)
        self._retire_worker()
        if self._owns_executor and self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # --- internals ---

    def _submit(self, op: str, key: Any, payload: Any) -> asyncio.Future[Any]:
        if self._closed:
            raise RuntimeError("CryptoBatcher is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        group_key = (op, key)
        group = self._groups.get(group_key)
        if group is None:
            group = self._groups[group_key] = []
        group.append((fut, payload))
        self._pending += 1
        if len(group) >= self._max_batch:
            del self._groups[group_key]
            self._dispatch(loop, op, key, group)
        elif self._flush_handle is None:
            # Everything submitted before this callback runs joins the same batch.
            self._flush_handle = loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._flush_handle = None
        groups, self._groups = self._groups, {}
        if not groups:
            return
        loop = asyncio.get_running_loop()
        for (op, key), items in groups.items():
            self._dispatch(loop, op, key, items)

    def _dispatch(
        self, loop: asyncio.AbstractEventLoop, op: str, key: Any, items: list[_Item]
    ) -> None:
        self._pending -= len(items)
        # Callers that gave up before the flush cost nothing.
        live = [item for item in items if not item[0].done()]
        if not live:
            return
        payloads = [payload for _, payload in live]
        if self._runs_inline(op, payloads):
            try:
                results, seconds = _timed(op, key, payloads)
            except Exception as exc:
                self._fail(live, exc)
                return
            self._deliver(op, live, results, seconds)
            return
        if op in _ECDSA_OPS:
            self._dispatch_to_worker(loop, op, key, live, payloads)
            return
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=os.cpu_count() or 2, thread_name_prefix="crypto-batch"
            )
        try:
            running = loop.run_in_executor(self._executor, _timed, op, key, payloads)
        except Exception as exc:  # e.g. the executor was shut down underneath us
            self._fail(live, exc)
            return
        self._in_flight += len(live)
        self._running.add(running)
        running.add_done_callback(partial(self._on_done, op, live))

    def _dispatch_to_worker(
        self,
        loop: asyncio.AbstractEventLoop,
        op: str,
        key: Any,
        live: list[_Item],
        payloads: list[Any],
    ) -> None:
        """An ECDSA group on the native signing thread; delivered when its descriptor says
        the group is done (``EcWorker.collect``, called by the loop)."""
        running: asyncio.Future[None] = loop.create_future()

        def done(results: Any, seconds: float) -> None:
            self._in_flight -= len(live)
            self._running.discard(running)
            if not running.done():  # a cancelled close() may have cancelled it
                running.set_result(None)
            if isinstance(results, BaseException):
                self._fail(live, results)
            else:
                self._deliver(op, live, results, seconds)

        try:
            worker = self._worker(loop)
            if op == _SIGN:
                key.sign_on(worker, payloads, done)
            else:
                key.verify_on(worker, [d for d, _ in payloads], [s for _, s in payloads], done)
        except Exception as exc:
            self._fail(live, exc)
            return
        self._in_flight += len(live)
        self._running.add(running)

    def _worker(self, loop: asyncio.AbstractEventLoop) -> EcWorker:
        """The ECDSA thread, collected by ``loop``: a new one if the batcher has moved to
        another event loop (the old loop would never collect) or process (fork copies no
        thread)."""
        worker = self._ecdsa_worker
        if worker is not None and (loop is not self._worker_loop or worker.pid != os.getpid()):
            self._retire_worker()
            worker = None
        if worker is None:
            worker = EcWorker(idle=self._idle_ecdsa_thread)
            loop.add_reader(worker.fd, worker.collect)
            self._ecdsa_worker, self._worker_loop = worker, loop
        return worker

    def _retire_worker(self) -> None:
        worker, loop = self._ecdsa_worker, self._worker_loop
        self._ecdsa_worker = self._worker_loop = None
        if worker is None or loop is None:
            return
        with contextlib.suppress(Exception):  # the loop may be closed already
            loop.remove_reader(worker.fd)
        worker.close()  # delivers what it still holds (nothing, in a forked child)

    def _runs_inline(self, op: str, payloads: list[Any]) -> bool:
        if op in _ECDSA_OPS:
            # While the thread has work in hand the loop is busy too (load): queue behind
            # it rather than spend the loop's time on a signature.
            idle = self._ecdsa_worker is None or self._ecdsa_worker.pending == 0
            return idle and len(payloads) <= self._inline_ecdsa_max
        if len(payloads) > self._inline_aes_max:
            return False
        if op == _SEAL:
            size = sum(len(p) + len(a) for p, a in payloads)
        elif op == _SEAL_BLOB:
            size = sum(len(h) + len(p) + len(a) for h, p, a in payloads)
        elif op == _OPEN_BLOB:
            size = sum(len(b) + len(a) for b, a in payloads)
        else:
            size = sum(len(i.ciphertext) + len(i.aad) for i in payloads)
        return size <= self._inline_aes_max_bytes

    def _on_done(self, op: str, items: list[_Item], running: asyncio.Future[Any]) -> None:
        self._running.discard(running)
        self._in_flight -= len(items)
        if running.cancelled():
            for fut, _ in items:
                fut.cancel()
            return
        exc = running.exception()
        if exc is not None:
            self._fail(items, exc)
            return
        results, seconds = running.result()
        self._deliver(op, items, results, seconds)

    @staticmethod
    def _fail(items: list[_Item], exc: BaseException) -> None:
        for fut, _ in items:
            if not fut.done():
                fut.set_exception(exc)

    def _deliver(self, op: str, items: list[_Item], results: list[Any], seconds: float) -> None:
        for (fut, _), result in zip(items, results, strict=True):
            if fut.done():  # cancelled while the batch ran
                continue
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)
        if self._on_batch is not None:
            try:
                self._on_batch(_REPORTED_OP.get(op, op), len(items), seconds)
            except Exception:
                log.exception("CryptoBatcher on_batch callback failed")
