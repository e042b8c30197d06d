"""A/B of one gateway setting over HTTP: the values alternate round by round on this machine.

python -m loadtest.ab_setting --env GATEWAY_ECDSA_PRECOMPUTE --values 256,0
    [--ops Encrypt,Sign] [--workers 1] [--rounds 4] [--seconds 6] [-c 32]

With ``--env KMS_LOADTEST_GATEWAY_SRC --values /tree/a,/tree/b`` the two values are two
checkouts (each with its native core built), so two versions of the code alternate.

Each round starts a fresh gateway per value (the order flips every round, so drift on a
shared box falls on both sides), drives each operation with the fast driver and prints
requests/s and server CPU per request. The summary gives, per value, the median over the
rounds and each operation's requests/s as a share of the first operation's, paired within
a gateway run (Sign / Encrypt measured minutes apart on a noisy box says little). The
ECDSA nonce counters from /metrics are printed for each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from botocore.credentials import Credentials

from loadtest import operations, rounds, servers, workload
from loadtest.batches import nonce_counters
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Signer


def _one_gateway(args: argparse.Namespace, value: str) -> dict[str, tuple[float, float | None]]:
    """Start a gateway with the setting at ``value``; (req/s, CPU µs/req) per operation."""
    results: dict[str, tuple[float, float | None]] = {}
    saved = os.environ.get(args.env)
    os.environ[args.env] = value  # servers.gateway passes the environment on
    try:
        with tempfile.TemporaryDirectory(prefix="ab-setting-") as scratch:
            config = servers.unthrottled_config(Path(scratch))
            with servers.gateway(Path(scratch) / "data", args.workers, config) as server:
                signer = Signer(server.url, Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY))
                keys: dict[str, str] = {}
                shape = operations.Shape(plaintext_bytes=32, data_key_spec="AES_256")
                for op in args.ops:
                    kind = operations.KEY_KIND[op]
                    if kind not in keys:
                        keys[kind] = workload.create_key(signer, kind)
                    requests = workload.pool(signer, op, [keys[kind]], shape, 256)
                    summary = rounds.drive(args, server, requests)
                    cpu = summary.cpu_per_request
                    results[op] = (summary.rate, None if cpu is None else cpu * 1e6)
                    print(f"  {args.env}={value} {op}: {summary.describe()}", flush=True)
                print(
                    f"  {args.env}={value} ECDSA nonces: {nonce_counters(server.url)}", flush=True
                )
    finally:
        if saved is None:
            os.environ.pop(args.env, None)
        else:
            os.environ[args.env] = saved
    return results


Runs = dict[str, list[dict[str, tuple[float, float | None]]]]


def table(env: str, ops: list[str], runs: Runs) -> list[str]:
    """Markdown rows: per value and operation, req/s per round and median, CPU µs/req
    median, and req/s as a share of the first operation's in the same gateway run."""
    first = ops[0]
    lines = [
        f"| {env} | operation | req/s per round | median | CPU µs/req median | "
        f"share of {first}, per round | median |",
        "|---|---|---|---|---|---|---|",
    ]
    for value, measured in runs.items():
        for op in ops:
            rates = [r[op][0] for r in measured]
            cpus = [c for r in measured if (c := r[op][1]) is not None]
            shares = [r[op][0] / r[first][0] for r in measured if r[first][0]]
            lines.append(
                f"| {value} | {op} | {', '.join(f'{x:,.0f}' for x in rates)} | "
                f"{statistics.median(rates):,.0f} | "
                f"{f'{statistics.median(cpus):.0f}' if cpus else '-'} | "
                f"{', '.join(f'{s:.0%}' for s in shares)} | "
                f"{f'{statistics.median(shares):.0%}' if shares else '-'} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", required=True, help="the setting's environment variable")
    parser.add_argument("--values", required=True, help="comma-separated, e.g. 256,0")
    parser.add_argument("--ops", default="Encrypt,Sign")
    parser.add_argument("--workers", type=int, default=1)
    rounds.add_options(parser, seconds=6.0)
    args = parser.parse_args()
    if not args.env.startswith("GATEWAY_") and args.env != "KMS_LOADTEST_GATEWAY_SRC":
        raise SystemExit("--env names a gateway setting (GATEWAY_...) or KMS_LOADTEST_GATEWAY_SRC")
    args.ops = args.ops.split(",")
    unknown = [op for op in args.ops if op not in operations.OPERATIONS]
    if unknown:
        raise SystemExit(f"unknown operations: {unknown}")
    values = args.values.split(",")
    runs: Runs = {v: [] for v in values}
    for round_index in range(args.rounds):
        print(f"round {round_index + 1} of {args.rounds}", file=sys.stderr, flush=True)
        for value in rounds.in_order(values, round_index):
            runs[value].append(_one_gateway(args, value))
    print(f"\n{args.workers} worker(s), c={args.concurrency}, {args.rounds} rounds:")
    print("\n".join(table(args.env, args.ops, runs)))


if __name__ == "__main__":
    main()
