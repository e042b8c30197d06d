"""Cost of the metrics: scraping GET /metrics with many keys in the store (1 and 2
workers), and the per-request hooks (one process and multiprocess mode).

Run: python loadtest/bench_metrics.py [--keys 10000] [--scrapes 300] [--only scrape|hooks]

Scrapes: the keys are written straight into a fresh data dir (SqliteStore + RootKey, as
CreateKey builds them) before the gateway starts, so creating them does not wait on the
CreateKey quota. Each scrape is a new connection, as Prometheus's scrapes mostly are.
Prints a markdown table: median and p99 scrape time, response size, series count.

Hooks: µs per call of GatewayMetrics.observe_request, on_charge and on_batch, which count
into tallies, next to the direct prometheus-client updates they replaced (reproduced
below), and the cost of the flush that folds the tallies in. prometheus-client picks its
value class (in memory, or mmap'd files with PROMETHEUS_MULTIPROC_DIR) when imported, so
each mode runs in a child interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gateway.bootstrap import database_path  # noqa: E402
from gateway.keys.model import Key, KeyState, WrappedMaterial  # noqa: E402
from gateway.keys.rootkey import RootKey, material_aad  # noqa: E402
from gateway.metrics.exposition import MULTIPROC_ENV  # noqa: E402
from gateway.metrics.usage import GatewayMetrics  # noqa: E402
from gateway.quotas.table import SYMMETRIC, QuotaTable  # noqa: E402
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


def scrapes(args: argparse.Namespace) -> None:
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

    print(f"\nScrapes: {args.scrapes} per row, one connection each.\n")
    print("| keys in store | workers | median ms | p99 ms | response bytes | samples |")
    print("|---:|---:|---:|---:|---:|---:|")
    for keys, workers, r in rows:
        print(f"| {keys:,} | {workers} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} "
              f"| {r['bytes']:,} | {r['series']} |")


# --- hook costs ---------------------------------------------------------------------


class DirectHooks:
    """The hooks before the tallies: every call updates prometheus-client at once."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.m = metrics
        self._usage_children: dict[tuple[str, ...], Any] = {}
        self._request_children: dict[str, Any] = {}

    def on_charge(
        self, account: str, region: str, quota: str, operation: str, throttled: bool
    ) -> None:
        if throttled:
            self.m.throttled.labels(quota, operation).inc()
        ident = ("KMS", "API", operation, "Symmetric", account, region)
        child = self._usage_children.get(ident)
        if child is None:
            child = self._usage_children[ident] = self.m.call_count.labels(*ident)
            self.m.service_quota.labels(*ident).set(50_000)
        child.inc()

    def observe_request(
        self, operation: str, seconds: float, error_type: str | None, key_state: str | None = None
    ) -> None:
        child = self._request_children.get(operation)
        if child is None:
            child = self._request_children[operation] = self.m.requests.labels(operation)
        child.observe(seconds)
        if error_type is not None:
            self.m.errors.labels(operation, error_type).inc()
        if key_state is not None:
            self.m.key_state_refusals.labels(operation, key_state).inc()

    def on_batch(self, operation: str, items: int, seconds: float) -> None:
        self.m.batch_size.labels(operation).observe(items)
        self.m.batch_seconds.labels(operation).observe(seconds)


class EmptyHooks:
    """What the loop and the calls cost by themselves."""

    def observe_request(self, *args: object) -> None:
        pass

    def on_charge(self, *args: object) -> None:
        pass

    def on_batch(self, *args: object) -> None:
        pass


def per_call_us(call: Callable[[int], object], calls: int, repeats: int = 5) -> float:
    """Best of ``repeats`` runs: µs per call, the loop included (the same on both sides)."""
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        for i in range(calls):
            call(i)
        best = min(best, time.perf_counter() - began)
    return best / calls * 1e6


def hook_costs(calls: int) -> dict[str, tuple[float, float]]:
    """{hook: (direct µs, tally µs)} per call in this interpreter's mode, the loop's own
    cost as "empty", and the flush's µs after ``calls`` more calls of each hook."""
    # Mostly fast requests, some slow: spread over the buckets as a real mix is.
    seconds = [0.0001 * 1.01**i for i in range(1024)]
    operations = ("Encrypt", "Decrypt", "GenerateDataKey", "ReEncrypt")
    workloads: dict[str, Callable[[Any], Callable[[int], object]]] = {
        "observe_request": lambda h: lambda i: h.observe_request(
            operations[i & 3], seconds[i & 1023], None
        ),
        "on_charge": lambda h: lambda i: h.on_charge(
            ACCOUNT, "us-east-1", SYMMETRIC, operations[i & 3], False
        ),
        "on_batch": lambda h: lambda i: h.on_batch("seal", (i & 63) + 1, seconds[i & 1023] / 100),
    }
    direct = DirectHooks(GatewayMetrics(QuotaTable()))
    tallied = GatewayMetrics(QuotaTable())
    results = {
        name: (per_call_us(workload(direct), calls), per_call_us(workload(tallied), calls))
        for name, workload in workloads.items()
    }
    empty = per_call_us(workloads["on_charge"](EmptyHooks()), calls)
    results["empty"] = (empty, empty)
    tallied.flush()  # the children exist from now on, as in a running worker
    for workload in workloads.values():
        call = workload(tallied)
        for i in range(calls):
            call(i)
    began = time.perf_counter()
    tallied.flush()
    results["flush"] = (0.0, (time.perf_counter() - began) * 1e6)
    return results


def measure_hooks(calls: int) -> dict[str, dict[str, tuple[float, float]]]:
    """hook_costs() in a child interpreter per mode: {mode: {hook: (direct, tally)}}."""
    found = {}
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as directory:
        for mode, extra in (("one process", {}), ("multiprocess", {MULTIPROC_ENV: directory})):
            env = {k: v for k, v in os.environ.items() if k != MULTIPROC_ENV} | extra
            done = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--hook-child", str(calls)],
                env=env, capture_output=True, text=True, check=True, timeout=600,
            )
            found[mode] = {k: tuple(v) for k, v in json.loads(done.stdout).items()}
    return found


def print_hooks(calls: int, found: dict[str, dict[str, tuple[float, float]]]) -> None:
    print(f"Hooks: µs per call, best of 5 runs of {calls:,} calls; "
          f"flush: µs to fold {calls:,} calls of each hook (4 operations).\n")
    print("| hook | mode | direct prometheus-client µs | tally µs | saved |")
    print("|---|---|---:|---:|---:|")
    for mode, costs in found.items():
        for hook, (before, after) in costs.items():
            if hook == "flush":
                print(f"| flush() | {mode} | | {after:.1f} | |")
            elif hook == "empty":
                print(f"| (loop and call, empty hook) | {mode} | {before:.2f} | {after:.2f} | |")
            else:
                print(f"| {hook} | {mode} | {before:.2f} | {after:.2f} "
                      f"| {1 - after / before:.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", choices=("scrape", "hooks"), help="run one section")
    parser.add_argument("--hook-calls", type=int, default=200_000)
    parser.add_argument("--hook-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hook_child is not None:
        print(json.dumps(hook_costs(args.hook_child)))
        return

    print(f"Machine: {machine()}\n")
    if args.only != "scrape":
        print_hooks(args.hook_calls, measure_hooks(args.hook_calls))
    if args.only != "hooks":
        scrapes(args)


if __name__ == "__main__":
    main()
