"""Cost of scraping GET /metrics with many keys in the store, with 1 and 2 workers.

Run: python loadtest/bench_metrics.py [--keys 10000] [--scrapes 300]

The keys are written straight into a fresh data dir (SqliteStore + RootKey, as CreateKey
builds them) before the gateway starts, so creating them does not wait on the CreateKey
quota. Each scrape is a new connection, as Prometheus's scrapes mostly are. Prints a
markdown table: median and p99 scrape time, response size, series count.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gateway.bootstrap import database_path  # noqa: E402
from gateway.keys.model import Key, KeyState, WrappedMaterial  # noqa: E402
from gateway.keys.rootkey import RootKey, material_aad  # noqa: E402
from gateway.store.sqlite import SqliteStore  # noqa: E402
from loadtest import servers  # noqa: E402

ACCOUNT = "111122223333"
REGIONS = ("us-east-1", "eu-west-1")
# Every tenth key disabled, every twentieth pending deletion (due in 30 days: the sweeper
# must leave it alone during the run).
STATES = [KeyState.DISABLED if i % 10 == 0 else
          KeyState.PENDING_DELETION if i % 20 == 5 else KeyState.ENABLED for i in range(20)]


async def populate(data_dir: Path, keys: int) -> float:
    """Write ``keys`` keys with wrapped material; returns the seconds it took."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_ROOT_KEY")}
    root_key = RootKey.load(data_dir, env=env)
    store = SqliteStore(database_path(data_dir))
    await store.open()
    began = time.perf_counter()
    now = time.time()
    try:
        for i in range(keys):
            state = STATES[i % len(STATES)]
            key = Key(
                account=ACCOUNT, region=REGIONS[i % len(REGIONS)], key_id=str(uuid.uuid4()),
                created=now, state=state, description=f"bench {i}",
                deletion_date=now + 30 * 86400 if state is KeyState.PENDING_DELETION else None,
                pending_window_days=30 if state is KeyState.PENDING_DELETION else None,
            )
            wrapped = root_key.wrap(os.urandom(32), material_aad(key.arn, 1))
            await store.create_key(key, WrappedMaterial(key.key_id, 1, wrapped, now))
    finally:
        await store.close()
    return time.perf_counter() - began


def scrape(port: int) -> tuple[float, bytes]:
    began = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, body[:200]
    finally:
        conn.close()
    return time.perf_counter() - began, body


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(data_dir: Path, workers: int, scrapes: int, warmup: int = 20) -> dict[str, float]:
    with servers.gateway(data_dir, workers=workers) as server:
        for _ in range(warmup):
            scrape(server.port)
        times = []
        for _ in range(scrapes):
            seconds, body = scrape(server.port)
            times.append(seconds)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return {
        "median_ms": statistics.median(times) * 1000,
        "p99_ms": percentile(times, 0.99) * 1000,
        "bytes": len(body),
        "series": series,
    }


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    return f"nproc {os.cpu_count()}, CPU {model}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        for keys in (0, args.keys):
            data_dir = Path(tmp) / f"data-{keys}"
            took = asyncio.run(populate(data_dir, keys))
            if keys:
                print(f"wrote {keys} keys in {took:.1f} s", file=sys.stderr)
            for workers in args.workers:
                result = measure(data_dir, workers, args.scrapes)
                rows.append((keys, workers, result))

    print(f"Machine: {machine()}; {args.scrapes} scrapes per row, one connection each.\n")
    print("| keys in store | workers | median ms | p99 ms | response bytes | samples |")
    print("|---:|---:|---:|---:|---:|---:|")
    for keys, workers, r in rows:
        print(f"| {keys:,} | {workers} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} "
              f"| {r['bytes']:,} | {r['series']} |")


if __name__ == "__main__":
    main()
