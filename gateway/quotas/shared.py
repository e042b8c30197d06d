"""A limiter shared by the worker processes of one host, over ``gateway._quota``.

The parent creates the table file once (``SharedLimiter.create``) before starting workers;
each worker maps it (``SharedLimiter.attach``). Counting is exact across processes: every
update is one 128-bit compare-and-swap on a slot of the mapped file (see
``native/quota_table.c`` for the invariant), so no lock and no network service is needed.

Table full: when a *new* bucket finds none of its 32 probe slots free, the take is refused
(and counted in ``table_full_total``). Existing buckets are unaffected, exactness is kept
(failing open would let N workers grant N times the quota), and the condition clears on
its own: slots are reclaimed one second after their window ends (windows are at most a
few seconds), so it takes tens of thousands of buckets live at once, which is itself the
overload a limiter exists to shed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import mmap
import os
import time
from pathlib import Path
from typing import Any

from gateway.quotas.limiter import Clock
from gateway.quotas.window import MAX_COUNT, check_count, window_at

try:
    from gateway import _quota  # type: ignore[attr-defined]
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "gateway._quota is not built: run `pip install -e .` or "
        "`python native/build_quota.py` (needs gcc)"
    ) from exc

_ffi = _quota.ffi
_lib = _quota.lib

_ABI_VERSION = 1
if _lib.gw_quota_abi_version() != _ABI_VERSION:  # pragma: no cover - stale build
    raise ImportError(
        f"gateway._quota has ABI {_lib.gw_quota_abi_version()}, this code expects "
        f"{_ABI_VERSION}: rebuild with `python native/build_quota.py`"
    )
if _lib.GW_QUOTA_MAX_COUNT != MAX_COUNT:  # pragma: no cover - stale build
    raise ImportError("gateway._quota disagrees with gateway.quotas.window on MAX_COUNT")

SLOT_SIZE: int = _lib.GW_QUOTA_SLOT_SIZE
MAX_SLOTS = (1 << 32) - 1
_KEY_EMPTY = 0
_KEY_RELEASED = (1 << 64) - 1

log = logging.getLogger("gateway.quotas")


def bucket_key(bucket: str) -> int:
    """The table key of a bucket name: 64 bits of BLAKE2b, never a reserved value."""
    digest = hashlib.blake2b(bucket.encode("utf-8"), digest_size=8).digest()
    key = int.from_bytes(digest, "little")
    return 1 if key in (_KEY_EMPTY, _KEY_RELEASED) else key


class SharedLimiter:
    """Fixed-window buckets in a file mapped by every worker; see the module docstring."""

    def __init__(self, table: mmap.mmap, *, clock: Clock, key_cache_size: int) -> None:
        """Use ``create`` or ``attach``; this takes ownership of the mapping."""
        if len(table) == 0 or len(table) % SLOT_SIZE or len(table) // SLOT_SIZE > MAX_SLOTS:
            raise ValueError(f"quota table size {len(table)} is not a whole number of slots")
        self._mmap = table
        self._nslots = len(table) // SLOT_SIZE
        self._buf: Any = _ffi.from_buffer("char[]", table, require_writable=True)
        if int(_ffi.cast("uintptr_t", self._buf)) % SLOT_SIZE:  # mmap is page-aligned
            raise ValueError("quota table mapping is not 16-byte aligned")
        self._table = _ffi.cast("void *", self._buf)
        self._clock = clock
        self._keys: dict[str, int] = {}
        self._key_cache_size = key_cache_size
        self.table_full_total = 0  # read by the metrics collector

    @classmethod
    def create(
        cls,
        path: Path,
        nslots: int = 65536,
        *,
        clock: Clock = time.time,
        key_cache_size: int = 65536,
    ) -> SharedLimiter:
        """Create a zeroed table of ``nslots`` slots at ``path`` (mode 0600) and map it.

        The file is built under a temporary name and renamed into place, so a process
        still mapping a previous table keeps its own file instead of seeing it shrink.
        """
        if type(nslots) is not int or not 1 <= nslots <= MAX_SLOTS:
            raise ValueError(f"nslots must be an int in 1..{MAX_SLOTS}, got {nslots!r}")
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, nslots * SLOT_SIZE)  # a new file extends with zeros
            mapping = mmap.mmap(fd, nslots * SLOT_SIZE, mmap.MAP_SHARED)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        finally:
            os.close(fd)
        return cls(mapping, clock=clock, key_cache_size=key_cache_size)

    @classmethod
    def attach(
        cls, path: Path, *, clock: Clock = time.time, key_cache_size: int = 65536
    ) -> SharedLimiter:
        """Map the existing table at ``path`` (created by the parent with ``create``)."""
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            size = os.fstat(fd).st_size
            if size == 0 or size % SLOT_SIZE:
                raise ValueError(f"{path} is not a quota table (size {size})")
            mapping = mmap.mmap(fd, size, mmap.MAP_SHARED)
        finally:
            os.close(fd)
        return cls(mapping, clock=clock, key_cache_size=key_cache_size)

    @property
    def nslots(self) -> int:
        return self._nslots

    def key(self, bucket: str) -> int:
        """``bucket_key`` through a bounded per-process cache (cleared when full)."""
        key = self._keys.get(bucket)
        if key is None:
            key = bucket_key(bucket)
            if len(self._keys) >= self._key_cache_size:
                self._keys.clear()
            self._keys[bucket] = key
        return key

    def try_take(self, bucket: str, rate: float, count: int = 1, now: float | None = None) -> bool:
        check_count(count)
        if now is None:
            now = self._clock()
        expires, capacity = window_at(rate, now)
        rc = _lib.gw_quota_take(
            self._table, self._nslots, self.key(bucket), expires, capacity, count, math.floor(now)
        )
        if rc == _lib.GW_QUOTA_TAKEN:
            return True
        if rc == _lib.GW_QUOTA_THROTTLED:
            return False
        if rc == _lib.GW_QUOTA_FULL:
            self.table_full_total += 1
            if self.table_full_total == 1 or self.table_full_total % 10_000 == 0:
                log.warning(
                    "quota table full: refusing requests for new buckets",
                    extra={"nslots": self._nslots, "table_full_total": self.table_full_total},
                )
            return False
        raise self._argument_error("gw_quota_take", rc)

    def give_back(self, bucket: str, rate: float, count: int = 1, now: float | None = None) -> None:
        check_count(count)
        if now is None:
            now = self._clock()
        expires, _ = window_at(rate, now)
        rc = _lib.gw_quota_give_back(self._table, self._nslots, self.key(bucket), expires, count)
        if rc < 0:
            raise self._argument_error("gw_quota_give_back", rc)

    def _argument_error(self, function: str, rc: int) -> Exception:
        # Arguments are validated above, so the likely cause is use after close().
        if self._buf is None:
            return ValueError("the quota table is closed")
        return ValueError(f"{function} rejected its arguments (rc={rc})")

    def live_buckets(self, now: float | None = None) -> int:
        if self._buf is None:
            raise ValueError("the quota table is closed")
        now_sec = math.floor(self._clock() if now is None else now)
        return int(_lib.gw_quota_live(self._table, self._nslots, min(now_sec, (1 << 32) - 1)))

    def close(self) -> None:
        """Unmap the table (the file stays for the other workers)."""
        if self._buf is None:
            return
        self._table = _ffi.NULL
        _ffi.release(self._buf)
        self._buf = None
        self._mmap.close()
