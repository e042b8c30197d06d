"""The limiter interface and its in-process implementation.

Both implementations count fixed, epoch-aligned windows (``gateway.quotas.window``) with
the same rules, so a single-process gateway and a multi-worker one throttle identically:

- a take of ``count`` succeeds if the bucket's count in the current window plus ``count``
  fits the capacity; a bucket whose stored window is over counts from zero;
- a refused take changes nothing;
- a take whose window is older than the one the bucket already holds (the caller's clock
  reading is stale) is refused, so a late caller can never reopen a finished window;
- ``give_back`` undoes a take in the same window, never below zero.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from gateway.quotas.window import check_count, window_at

Clock = Callable[[], float]


class Limiter(Protocol):
    def try_take(
        self, bucket: str, rate: float, count: int = 1, now: float | None = None
    ) -> bool: ...

    def give_back(
        self, bucket: str, rate: float, count: int = 1, now: float | None = None
    ) -> None: ...

    def live_buckets(self, now: float | None = None) -> int: ...

    def close(self) -> None: ...


class LocalLimiter:
    """Buckets in a dict of ``bucket -> (expires, used)``, for one process.

    At most ``max_buckets`` entries are kept. When a new bucket does not fit, entries
    whose window is over are dropped (losing nothing); if that frees less than an eighth
    of the room, the entries with the oldest windows go too (their counts restart, the
    price of staying bounded). Freeing an eighth at a time keeps the sweep amortised O(1).
    """

    def __init__(self, clock: Clock = time.time, max_buckets: int = 100_000) -> None:
        if max_buckets < 1:
            raise ValueError(f"max_buckets must be at least 1, got {max_buckets!r}")
        self._clock = clock
        self._max = max_buckets
        self._buckets: dict[str, tuple[int, int]] = {}
        # The read-modify-write of a bucket must be atomic if threads share the limiter.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def try_take(self, bucket: str, rate: float, count: int = 1, now: float | None = None) -> bool:
        check_count(count)
        if now is None:
            now = self._clock()
        expires, capacity = window_at(rate, now)
        if count > capacity:
            return False  # can never fit: do not create a bucket for it
        with self._lock:
            entry = self._buckets.get(bucket)
            if entry is None:
                if len(self._buckets) >= self._max:
                    self._make_room(math.floor(now))
                self._buckets[bucket] = (expires, count)
                return True
            stored, used = entry
            # A clock reading that lags an earlier one (another thread's, or a step back)
            # finds the bucket in a later window: count it there rather than refuse it.
            window = max(stored, expires)
            base = used if stored == window else 0
            if base + count > capacity:
                return False
            self._buckets[bucket] = (window, base + count)
            return True

    def give_back(self, bucket: str, rate: float, count: int = 1, now: float | None = None) -> None:
        check_count(count)
        if now is None:
            now = self._clock()
        expires, _ = window_at(rate, now)
        with self._lock:
            entry = self._buckets.get(bucket)
            if entry is not None and entry[0] == expires:
                self._buckets[bucket] = (expires, max(0, entry[1] - count))

    def live_buckets(self, now: float | None = None) -> int:
        now_sec = math.floor(self._clock() if now is None else now)
        with self._lock:
            return sum(1 for expires, _ in self._buckets.values() if expires > now_sec)

    def close(self) -> None:
        with self._lock:
            self._buckets.clear()

    def _make_room(self, now_sec: int) -> None:
        """Drop finished windows, then the oldest ones, until an eighth of the room is free."""
        buckets = self._buckets
        for name in [name for name, (expires, _) in buckets.items() if expires <= now_sec]:
            del buckets[name]
        target = self._max - max(1, self._max // 8)
        excess = len(buckets) - target
        if excess > 0:
            oldest = heapq.nsmallest(excess, buckets.items(), key=lambda item: item[1][0])
            for name, _ in oldest:
                del buckets[name]
