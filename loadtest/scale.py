"""Scale: many keys in one account and region (100,000 by default).

python -m loadtest.scale [--keys 100000] [--workers 1] [-c 64] [--max-minutes 15]

Measures the time to create the keys (each CreateKey is a durable SQLite commit, so this is
disk-bound), the gateway's start time and resident memory with them in the store, and
Encrypt latency on a random key among them against a single hot key, side by side.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson
from botocore.credentials import Credentials

from loadtest import driver, operations, proctree, servers, workload
from loadtest.compare import load, machine
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Signer
from loadtest.stats import Summary

# A signature is good for 5 minutes: sign a fresh pool for each chunk of CreateKey calls.
CHUNK = 10_000


def _signer(server: servers.Server) -> Signer:
    return Signer(server.url, Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY))


def create_keys(
    server: servers.Server, count: int, concurrency: int, deadline: float, report: list[str]
) -> tuple[list[str], float]:
    """Create up to ``count`` keys before ``deadline``; the ids and the seconds it took."""
    signer, began = _signer(server), time.monotonic()
    ids: list[str] = []
    while len(ids) < count and time.monotonic() < deadline:
        chunk = min(CHUNK, count - len(ids))
        pool = workload.pool(signer, "CreateKey", ["-"], operations.Shape(), size=128)
        drive = functools.partial(
            driver.drive, "127.0.0.1", server.port, pool, concurrency=concurrency,
            seconds=3600, warmup=0, total=chunk, keep_bodies=True, server_pids=[server.pid],
        )  # fmt: skip
        summary, run = driver.run_sync(drive)
        ids += [orjson.loads(body)["KeyMetadata"]["KeyId"] for body in run.bodies]
        if summary.errors or not run.bodies:
            raise RuntimeError(f"CreateKey failed: {summary.describe()}")
        line = f"  {len(ids):>7} keys, {time.monotonic() - began:6.1f} s: {summary.describe()}"
        print(line, file=sys.stderr, flush=True)
        report.append(line)
    return ids, time.monotonic() - began


def encrypt_run(
    server: servers.Server, key_ids: list[str], concurrency: int, seconds: float, size: int
) -> Summary:
    pool = workload.pool(_signer(server), "Encrypt", key_ids, operations.Shape(), size=size,
                         seed=random.randrange(1 << 30))  # fmt: skip
    summary, _ = driver.run_sync(lambda: driver.drive(
        "127.0.0.1", server.port, pool, concurrency=concurrency, seconds=seconds,
        warmup=0.5, server_pids=[server.pid],
    ))  # fmt: skip
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("-c", "--concurrency", type=int, default=64, help="for CreateKey")
    parser.add_argument("--max-minutes", type=float, default=15.0, help="stop creating after")
    parser.add_argument("--seconds", type=float, default=5.0, help="per Encrypt cell")
    parser.add_argument("--sample", type=int, default=20_000,
                        help="distinct random-key Encrypt requests to replay")  # fmt: skip
    parser.add_argument("--data-dir", type=Path, help="keep the store here (default: temp)")
    args = parser.parse_args()
    report: list[str] = [f"Machine: {machine()}", f"Load before: `{load()}`"]
    with tempfile.TemporaryDirectory(prefix="loadtest-scale-") as tmp:
        data = args.data_dir or Path(tmp) / "data"
        config = servers.unthrottled_config(Path(tmp))
        server = servers.gateway(data, args.workers, config).start()
        try:
            deadline = time.monotonic() + args.max_minutes * 60
            ids, took = create_keys(server, args.keys, args.concurrency, deadline, report)
            rss_created = proctree.rss_bytes([server.pid])
        finally:
            server.stop()
        db_bytes = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        server = servers.gateway(data, args.workers, config, port=server.port).start()
        try:
            started_in = server.started_in or 0.0
            rss_idle = proctree.rss_bytes([server.pid])
            cells = []
            for concurrency in (1, 32):
                hot = encrypt_run(server, ids[:1], concurrency, args.seconds, 256)
                spread = encrypt_run(server, ids, concurrency, args.seconds, args.sample)
                cells.append((concurrency, hot, spread))
            rss_after = proctree.rss_bytes([server.pid])
        finally:
            server.stop()
    mb = 1 << 20
    report += [
        f"Load after: `{load()}`",
        "",
        "| measure | value |",
        "|---|---|",
        f"| keys created | {len(ids):,} in {took:.0f} s ({len(ids) / took:,.0f} keys/s, "
        f"c={args.concurrency}, {args.workers} worker(s)) |",
        f"| data dir size | {db_bytes / mb:,.0f} MiB |",
        f"| RSS of the server tree right after creating them | {rss_created / mb:,.0f} MiB |",
        "| start time with them in the store (to /healthz, every worker listening) "
        f"| {started_in:.2f} s |",
        f"| RSS after restart, idle | {rss_idle / mb:,.0f} MiB |",
        f"| RSS after the Encrypt runs below | {rss_after / mb:,.0f} MiB |",
        "",
        "| Encrypt on | concurrency | req/s | p50 ms | p90 ms | p99 ms | max ms "
        "| server CPU µs/req | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for concurrency, hot, spread in cells:
        for label, s in (("one hot key", hot), (f"random key of {len(ids):,}", spread)):
            cpu = f"{s.cpu_per_request * 1e6:.0f}" if s.cpu_per_request else "-"
            errors = ", ".join(f"{k} {v}" for k, v in s.errors.items()) or "0"
            report.append(
                f"| {label} | {concurrency} | {s.rate:,.0f} | {s.p50 * 1e3:.2f} "
                f"| {s.p90 * 1e3:.2f} | {s.p99 * 1e3:.2f} | {s.max * 1e3:.2f} | {cpu} | {errors} |"
            )
    print("\n".join(report))


if __name__ == "__main__":
    main()
