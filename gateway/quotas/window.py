"""Fixed, epoch-aligned quota windows: the one rule both limiters count with.

AWS evaluates request quotas "per 1-second interval"; a fractional rate such as 0.25/s is
modelled as one request per 4-second window, so every rate maps to an integer window
length and an integer capacity.
"""

from __future__ import annotations

import math
from functools import lru_cache

# Counters are 30 bits in the shared table (two bits mark claim states); both limiters
# enforce the same bound so they accept exactly the same arguments.
MAX_COUNT = (1 << 30) - 1
# Window ends are stored as unsigned 32-bit epoch seconds (good until 2106).
MAX_EXPIRES = (1 << 32) - 1

# 1/rate within this of an integer counts as that integer (1/0.1 is 10.000000000000002).
_INTEGER_TOLERANCE = 1e-9


@lru_cache(maxsize=1024)  # Rates come from a small configured table; derive each once.
def window_for(rate: float) -> tuple[int, int]:
    """Return ``(window_seconds, capacity)`` for a quota of ``rate`` requests per second."""
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"quota rate must be a positive finite number, got {rate!r}")
    if rate >= 1:
        capacity = math.floor(rate)
        if capacity > MAX_COUNT:
            raise ValueError(f"quota rate {rate!r} exceeds the largest supported {MAX_COUNT}/s")
        return 1, capacity
    inverse = 1.0 / rate
    nearest = round(inverse)
    # A rate like 0.3/s has no exact integer window: round the window up so the
    # effective rate never exceeds the quota.
    window = nearest if abs(inverse - nearest) <= _INTEGER_TOLERANCE else math.ceil(inverse)
    return window, 1


def window_at(rate: float, now: float) -> tuple[int, int]:
    """Return ``(expires, capacity)``: when the window holding ``now`` ends, and its size.

    Windows are aligned on multiples of their length since the epoch, so every process
    computes the same boundaries from the same clock.
    """
    window, capacity = window_for(rate)
    if not now >= 0:  # also rejects NaN
        raise ValueError(f"quota clock reading must be a non-negative epoch time, got {now!r}")
    # Integer arithmetic: floor(now / w) == floor(now) // w for an integer w.
    expires = (math.floor(now) // window + 1) * window
    if expires > MAX_EXPIRES:
        raise ValueError(f"quota clock reading {now!r} is past the supported range")
    return expires, capacity


def check_count(count: int) -> None:
    """Reject counts neither limiter can charge (bool is an int, but never a count)."""
    if type(count) is not int or not 1 <= count <= MAX_COUNT:
        raise ValueError(f"quota count must be an int in 1..{MAX_COUNT}, got {count!r}")
