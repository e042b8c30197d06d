"""Benchmark of the quota limiters: LocalLimiter vs SharedLimiter (gateway._quota).

Run: python loadtest/bench_quota.py [--quick]
Prints a markdown table of per-call costs (medians over several repeats, single process),
the split of SharedLimiter's Python overhead, and the throughput of 2 processes hammering
one bucket of the shared table. Compare rows within one run: machines drift between runs.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gateway import _quota  # type: ignore[attr-defined]  # noqa: E402
from gateway.quotas.limiter import LocalLimiter  # noqa: E402
from gateway.quotas.shared import SharedLimiter, bucket_key  # noqa: E402
from gateway.quotas.window import window_at  # noqa: E402

NOW = 1_700_000_000.5
# Capacity far above the calls made, so every timed take succeeds (the common path).
RATE = 1e9
BUCKET = "111122223333|us-east-1|kms:crypto"


def per_call_us(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Median over `repeats` of the mean cost of one call, in microseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def _hammer(path: str, seconds: float, start, results) -> None:  # type: ignore[no-untyped-def]
    """Runs in a spawned process: take from one shared bucket for `seconds`."""
    limiter = SharedLimiter.attach(Path(path))
    start.wait()
    calls = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(1000):
            limiter.try_take(BUCKET, RATE, now=NOW)
        calls += 1000
    limiter.close()
    results.put(calls / seconds)


def hammer_throughput(path: Path, processes: int, seconds: float) -> list[float]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_hammer, args=(str(path), seconds, start, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    rates = [results.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repeats")
    args = parser.parse_args()
    calls, repeats, seconds = (20_000, 3, 0.5) if args.quick else (200_000, 7, 2.0)

    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "quota"
        shared = SharedLimiter.create(path)
        local = LocalLimiter()
        rows.append(
            (
                "LocalLimiter.try_take",
                per_call_us(lambda: local.try_take(BUCKET, RATE, now=NOW), calls, repeats),
            )
        )
        rows.append(
            (
                "SharedLimiter.try_take",
                per_call_us(lambda: shared.try_take(BUCKET, RATE, now=NOW), calls, repeats),
            )
        )
        rows.append(
            (
                "SharedLimiter.try_take, clock read",
                per_call_us(lambda: shared.try_take(BUCKET, RATE), calls, repeats),
            )
        )
        # The split: each piece of SharedLimiter.try_take timed on its own.
        expires, capacity = window_at(RATE, NOW)
        key = shared.key(BUCKET)
        table, nslots, take = shared._table, shared.nslots, _quota.lib.gw_quota_take
        now_sec = math.floor(NOW)
        rows.append(
            ("↳ bucket key, cache hit", per_call_us(lambda: shared.key(BUCKET), calls, repeats))
        )
        rows.append(
            (
                "↳ bucket key, BLAKE2b (cache miss)",
                per_call_us(lambda: bucket_key(BUCKET), calls, repeats),
            )
        )
        rows.append(
            (
                "↳ window_at (lru-cached window_for)",
                per_call_us(lambda: window_at(RATE, NOW), calls, repeats),
            )
        )
        rows.append(
            (
                "↳ native gw_quota_take via cffi",
                per_call_us(
                    lambda: take(table, nslots, key, expires, capacity, 1, now_sec), calls, repeats
                ),
            )
        )
        rows.append(("↳ time.time()", per_call_us(time.time, calls, repeats)))
        live_us = per_call_us(lambda: shared.live_buckets(NOW), max(calls // 1000, 20), repeats)
        shared.close()
        local.close()

        SharedLimiter.create(path).close()
        one = hammer_throughput(path, 1, seconds)
        SharedLimiter.create(path).close()
        two = hammer_throughput(path, 2, seconds)

    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}"
    print(f"Python {platform.python_version()}, {machine}")
    print()
    print("| measurement | cost |")
    print("|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.3f} µs/call |")
    print(f"| SharedLimiter.live_buckets (65536 slots) | {live_us:.1f} µs/call |")
    print(f"| 1 process, one shared bucket | {one[0] / 1e6:.2f} M takes/s |")
    each = ", ".join(f"{rate / 1e6:.2f}" for rate in two)
    print(
        f"| 2 processes, one shared bucket | {each} M takes/s each ({sum(two) / 1e6:.2f} total) |"
    )


if __name__ == "__main__":
    main()
