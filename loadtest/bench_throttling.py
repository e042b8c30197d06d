"""Quota accuracy under offered load, with two workers sharing one bucket table.

Offers GenerateRandom (the shared symmetric quota) at 0.5x, 1x, 2x and 10x a configured
quota on a fixed schedule, counts what each one-second window accepted, and reports the
latency of the accepted requests (from their due time) while overloaded.

    python -m loadtest.bench_throttling [--quota 300] [--seconds 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from loadtest.driver import Client
from loadtest.servers import gateway
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Signer
from loadtest.stats import summarize

MULTIPLES = (0.5, 1.0, 2.0, 10.0)


async def offer(port: int, wire: bytes, rate: float, seconds: float, connections: int):
    """Open loop: request i is due at start + i/rate; returns (due, answered, status)."""
    clients = [Client("127.0.0.1", port) for _ in range(connections)]
    results: list[tuple[float, float, int]] = []
    start = float(int(time.time()) + 1)  # windows are aligned on whole seconds
    total = int(rate * seconds)
    queue: asyncio.Queue[float] = asyncio.Queue()

    async def worker(client: Client) -> None:
        while True:
            due = await queue.get()
            status, _ = await client.send(wire)
            results.append((due, time.time(), status))
            queue.task_done()

    tasks = [asyncio.create_task(worker(c)) for c in clients]
    for i in range(total):
        due = start + i / rate
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(due)
    await queue.join()
    for task in tasks:
        task.cancel()
    for client in clients:
        client.close()
    return results


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}; {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quota", type=float, default=300)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "quota.toml"
        config.write_text(
            f'[[quota]]\nname = "kms:CryptographicOperationsSymmetric"\nvalue = {args.quota}\n'
        )
        with gateway(Path(tmp) / "data", workers=args.workers, config=config) as server:
            from botocore.credentials import Credentials

            signer = Signer(server.url, Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY))
            wire = signer.sign("GenerateRandom", {"NumberOfBytes": 32}).wire(signer.netloc)
            print(f"machine: {machine()}")
            print(f"quota {args.quota:g}/s, {args.workers} workers, {args.seconds:g} s per row\n")
            print("| offered | offered req/s | accepted req/s | accepted / quota | "
                  "worst window | throttled | other errors | accepted p50 / p99 / max ms |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for multiple in MULTIPLES:
                rate = args.quota * multiple
                results = asyncio.run(
                    offer(server.port, wire, rate, args.seconds, args.connections)
                )
                ok = [(due, done) for due, done, status in results if status == 200]
                throttled = sum(status == 400 for _, _, status in results)
                other = len(results) - len(ok) - throttled
                per_window = Counter(int(done) for _, done in ok)
                latency = summarize([done - due for due, done in ok], args.seconds)
                print(
                    f"| {multiple:g}x | {len(results) / args.seconds:,.0f} | "
                    f"{len(ok) / args.seconds:,.1f} | {len(ok) / args.seconds / args.quota:.3f} | "
                    f"{max(per_window.values()) if per_window else 0} | {throttled} | {other} | "
                    f"{latency.p50 * 1e3:.2f} / {latency.p99 * 1e3:.2f} / "
                    f"{latency.max * 1e3:.2f} |"
                )


if __name__ == "__main__":
    main()
