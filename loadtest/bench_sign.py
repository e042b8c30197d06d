"""Sign and Verify (ECDSA P-256) requests/s over signed HTTP, against the native ceiling.

Starts a gateway with the ECC quota lifted, creates one ECC_NIST_P256 SIGN_VERIFY key,
pre-signs the Sign and Verify requests with botocore's SigV4Auth (a signed request stays
valid for minutes), then drives them with an asyncio aiohttp client at a few concurrency
levels for a fixed time each. For every run it reports requests/s, latency percentiles and
the distribution of native batch sizes (``gateway_crypto_batch_size`` from /metrics,
before/after deltas). The native ceiling is the per-item cost of
``gateway.crypto.ecdsa`` sign/verify batches on one thread, measured in this process.

Usage: python -m loadtest.bench_sign [--seconds 8] [--concurrency 16,64,256] [--workers 1]
The client runs on the same machine as the server: it takes CPU from it (see BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp
import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from loadtest import servers
from loadtest.signing import TEST_ACCESS_KEY_ID as ACCESS_KEY_ID
from loadtest.signing import TEST_SECRET_ACCESS_KEY as SECRET_ACCESS_KEY

REGION = "us-east-1"
DISTINCT = 1024  # distinct messages (and signatures) cycled through


def native_ceiling(batch: int = 256, repeats: int = 20) -> dict[str, float]:
    """Per-item microseconds of the C core's sign/verify batches (one thread)."""
    from gateway.crypto.ecdsa import EcPrivateKey

    key = EcPrivateKey.generate("P-256")
    public = key.public_key()
    digests = [os.urandom(32) for _ in range(batch)]
    sigs = key.sign_digests(digests)
    pairs = list(zip(digests, sigs, strict=True))
    best = {"sign": float("inf"), "verify": float("inf")}
    for _ in range(repeats):
        start = time.perf_counter()
        key.sign_digests(digests)
        best["sign"] = min(best["sign"], (time.perf_counter() - start) / batch * 1e6)
        start = time.perf_counter()
        public.verify_digests(pairs)
        best["verify"] = min(best["verify"], (time.perf_counter() - start) / batch * 1e6)
    key.close()
    public.close()
    return best


def presign(url: str, operation: str, params: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(params).encode()
    request = AWSRequest(
        method="POST",
        url=f"{url}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"TrentService.{operation}",
        },
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "kms", REGION).add_auth(request)
    return body, dict(request.headers.items())


def batch_histogram(url: str) -> dict[str, dict[str, float]]:
    """operation -> {le bucket: cumulative count, "sum": .., "count": ..} for native batches."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        match = re.match(r"gateway_crypto_batch_size_(bucket|sum|count)\{(.*)\} (\S+)$", line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        series = out.setdefault(labels.get("operation", "?"), {})
        name = labels["le"] if match.group(1) == "bucket" else match.group(1)
        series[name] = series.get(name, 0.0) + float(match.group(3))  # summed over workers
    return out


def describe_batches(before: dict[str, float], after: dict[str, float]) -> str:
    items = after.get("sum", 0) - before.get("sum", 0)
    calls = after.get("count", 0) - before.get("count", 0)
    if not calls:
        return "no native calls"
    buckets = sorted(
        ((float(le), after[le] - before.get(le, 0)) for le in after if le not in ("sum", "count")),
        key=lambda b: b[0],
    )
    shares, previous = [], 0.0
    for le, cumulative in buckets:
        if cumulative - previous > 0:
            label = f"<={int(le)}" if le != float("inf") else ">max"
            shares.append(f"{label}: {100 * (cumulative - previous) / calls:.0f}%")
        previous = cumulative
    return f"mean {items / calls:.1f} items/call over {int(calls)} calls ({', '.join(shares)})"


async def drive(
    url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(offset: int) -> None:
            nonlocal errors
            index = offset
            while time.perf_counter() < stop_at:
                body, headers = requests[index % len(requests)]
                index += concurrency
                start = time.perf_counter()
                async with session.post(url + "/", data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3

    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors,
        "n": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", default="16,64,256")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    try:
        import uvloop

        uvloop.install()
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"

    ceiling = native_ceiling()
    print(
        f"machine: nproc={os.cpu_count()} {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, client loop {loop_name}, "
        f"gateway --workers {args.workers}"
    )
    print(
        f"native ceiling (1 thread, batches of 256): sign {ceiling['sign']:.1f} us/item "
        f"= {1e6 / ceiling['sign']:,.0f}/s, verify {ceiling['verify']:.1f} us/item "
        f"= {1e6 / ceiling['verify']:,.0f}/s"
    )
    tmp = tempfile.TemporaryDirectory(prefix="bench-sign-")
    root = Path(tmp.name)
    gateway = servers.gateway(
        root / "data", workers=args.workers, config=servers.unthrottled_config(root)
    ).start()
    try:
        kms = boto3.client(
            "kms",
            region_name=REGION,
            endpoint_url=gateway.url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )
        key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"][
            "KeyId"
        ]
        messages = [f"benchmark message {i}".encode() for i in range(DISTINCT)]
        signs = [
            presign(
                gateway.url,
                "Sign",
                {
                    "KeyId": key_id,
                    "Message": base64.b64encode(m).decode(),
                    "SigningAlgorithm": "ECDSA_SHA_256",
                },
            )
            for m in messages
        ]
        verifies = []
        for m in messages:
            sig = kms.sign(KeyId=key_id, Message=m, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
            verifies.append(
                presign(
                    gateway.url,
                    "Verify",
                    {
                        "KeyId": key_id,
                        "Message": base64.b64encode(m).decode(),
                        "Signature": base64.b64encode(sig).decode(),
                        "SigningAlgorithm": "ECDSA_SHA_256",
                    },
                )
            )
        print()
        print(
            f"{'operation':<9} {'conc':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'errors':>6} {'% of native 1-thread':>21}  batches (native op)"
        )
        for operation, requests, native_op in (
            ("Sign", signs, "sign"),
            ("Verify", verifies, "verify"),
        ):
            for concurrency in levels:
                asyncio.run(drive(gateway.url, requests, concurrency, 1.0))  # warm up
                before = batch_histogram(gateway.url).get(native_op, {})
                result = asyncio.run(drive(gateway.url, requests, concurrency, args.seconds))
                after = batch_histogram(gateway.url).get(native_op, {})
                share = result["rps"] * ceiling[native_op] / 1e6 * 100
                print(
                    f"{operation:<9} {concurrency:>5} {result['rps']:>9,.0f} "
                    f"{result['p50_ms']:>8.2f} {result['p99_ms']:>8.2f} {int(result['errors']):>6} "
                    f"{share:>20.1f}%  {describe_batches(before, after)}"
                )
    finally:
        gateway.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
