"""What parts of the request path cost over HTTP: the gateway whole, the gateway with parts
stood in, and the bare ceiling, alternated round by round on this machine.

python -m loadtest.ab_parts --without "sigv4;quota,metrics" [--op Encrypt] [--rounds 4]
    [--seconds 5] [-c 32]

Each ``;``-separated set of parts (``loadtest/ablation.py``: sigv4, quota, crypto,
metrics) runs as ``loadtest/ablated_gateway.py``, which answers for them at once with the
same shapes. Every round starts each variant fresh, one worker or process each, in an order
that flips every round, and drives the operation with the fast driver. The summary gives,
per variant, requests/s and server CPU µs per request, the CPU a variant saves against the
whole gateway of the same round, and requests/s as a share of the same round's ceiling.
In-process instruction counts (``bench_handler --without``) say the same without HTTP;
this measures the parts where they run, between the kernel's and aiohttp's work.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from botocore.credentials import Credentials

from loadtest import ablation, operations, rounds, servers, workload
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Signer

CEILING, WHOLE = "ceiling", "gateway"

# Per variant, one (req/s, server CPU µs/req) per round.
Results = dict[str, list[tuple[float, float]]]


def _label(parts: str) -> str:
    return f"without {parts}"


def _measure(args: argparse.Namespace, variant: str, scratch: Path) -> tuple[float, float]:
    shape = operations.Shape(plaintext_bytes=32, data_key_spec="AES_256")
    if variant == CEILING:
        server = servers.bare(1)
    else:
        without = "" if variant == WHOLE else variant.removeprefix("without ")
        data = Path(tempfile.mkdtemp(prefix="data-", dir=scratch))
        server = servers.gateway(data, 1, servers.unthrottled_config(scratch), without=without)
    with server:
        signer = Signer(server.url, Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY))
        if variant == CEILING:
            requests = workload.ceiling_pool(signer, shape)
        else:
            key_id = workload.create_key(signer, operations.KEY_KIND[args.op])
            requests = workload.pool(signer, args.op, [key_id], shape, 256)
        summary = rounds.drive(args, server, requests)
    if summary.errors:
        raise SystemExit(f"{variant}: errors {dict(summary.errors)}")
    cpu = summary.cpu_per_request
    if cpu is None:
        raise SystemExit(f"{variant}: no server CPU reading")
    print(f"  {variant}: {summary.describe()}", file=sys.stderr, flush=True)
    return summary.rate, cpu * 1e6


def table(results: Results) -> list[str]:
    """Markdown rows per variant: req/s and CPU per round with medians, the CPU saved
    against the whole gateway of the same round, and the share of that round's ceiling."""
    lines = [
        "| variant | req/s per round | median | CPU µs/req per round | median | "
        "CPU µs/req saved vs whole, median | share of ceiling, per round | median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ceiling, whole = results.get(CEILING), results.get(WHOLE)
    for variant, runs in results.items():
        rates = [rate for rate, _ in runs]
        cpus = [cpu for _, cpu in runs]
        saved = (
            f"{statistics.median(w[1] - cpu for w, cpu in zip(whole, cpus, strict=True)):.1f}"
            if whole is not None and variant not in (WHOLE, CEILING)
            else "-"
        )
        shares = (
            [rate / c[0] for rate, c in zip(rates, ceiling, strict=True)]
            if ceiling is not None and variant != CEILING
            else []
        )
        lines.append(
            f"| {variant} | {', '.join(f'{r:,.0f}' for r in rates)} | "
            f"{statistics.median(rates):,.0f} | {', '.join(f'{c:.1f}' for c in cpus)} | "
            f"{statistics.median(cpus):.1f} | {saved} | "
            f"{', '.join(f'{s:.0%}' for s in shares) or '-'} | "
            f"{f'{statistics.median(shares):.0%}' if shares else '-'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--without", required=True, help='sets of parts, e.g. "sigv4;quota"')
    parser.add_argument("--op", default="Encrypt", choices=operations.OPERATIONS)
    rounds.add_options(parser, seconds=5.0)
    args = parser.parse_args()
    sets = [s for s in args.without.split(";") if s]
    for parts in sets:
        unknown = sorted(set(parts.split(",")) - set(ablation.PARTS))
        if unknown:
            parser.error(
                f"unknown part(s) {', '.join(unknown)}; known: {', '.join(ablation.PARTS)}"
            )
    variants = [CEILING, WHOLE, *(_label(parts) for parts in sets)]
    results: Results = {variant: [] for variant in variants}
    with tempfile.TemporaryDirectory(prefix="ab-parts-") as scratch:
        for index in range(args.rounds):
            print(f"round {index + 1} of {args.rounds}", file=sys.stderr, flush=True)
            for variant in rounds.in_order(variants, index):
                results[variant].append(_measure(args, variant, Path(scratch)))
    print(f"\n{args.op}, 1 process each, c={args.concurrency}, {args.rounds} rounds:")
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
