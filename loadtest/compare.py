"""One command comparing, side by side on this machine, the same requests at the same
concurrency against: the bare aiohttp+uvloop ceiling (1 and 2 processes), the gateway
(1 and 2 workers) and moto_server; then p99 at 80 % of the gateway's peak (rate-limited).

The ceiling runs twice: routed through aiohttp's ``web.Application`` (``ceiling``, the
issue's bare handler), and behind the fast lane the gateway itself serves ``POST /`` with
(``ceiling-lane``), so the gateway's share can be read against either.

python -m loadtest.compare [--seconds 5] [--concurrency 32] [--repeat 3] [--out table.md]
Prints markdown: machine, one row per cell, then the ratios against the targets. With
--repeat N the whole matrix runs N times in turn and each figure is the median of the N.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from botocore.credentials import Credentials

from loadtest import driver, operations, servers, workload
from loadtest.batches import batch_totals, mean_batches
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Signer
from loadtest.stats import Summary

OPS = ("Encrypt", "GenerateDataKey", "Decrypt", "Sign")
CEILING, LANE_CEILING, SHAPED = "ceiling", "ceiling-lane", "Encrypt-shaped"
RATE_OPS = ("Encrypt", "GenerateDataKey", "Decrypt")


@dataclass(slots=True)
class Cell:
    target: str
    processes: int
    operation: str
    summary: Summary | None
    note: str = ""
    rate: float | None = None  # set for the rate-limited runs
    batch: str = ""  # mean items per native crypto call, from the gateway's /metrics


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"nproc {os.cpu_count()}, CPU {model}, Python {platform.python_version()} "
        f"({sys.executable}), {platform.platform()}"
    )


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cells: list[Cell] = []
        self.shape = operations.Shape(plaintext_bytes=32, data_key_spec="AES_256")

    def run(
        self,
        server: servers.Server,
        target: str,
        processes: int,
        operation: str,
        requests: list[bytes],
        rate: float | None = None,
    ) -> Cell:
        gateway = target == "gateway"
        before = batch_totals(server.url) if gateway else {}
        summary, _ = driver.run_sync(
            lambda: driver.drive(
                "127.0.0.1",
                server.port,
                requests,
                concurrency=self.args.concurrency,
                seconds=self.args.seconds,
                warmup=self.args.warmup,
                rate=rate,
                server_pids=[server.pid],
                processes=server.processes,
            )
        )
        batch = mean_batches(before, batch_totals(server.url)) if gateway else ""
        cell = Cell(target, processes, operation, summary, rate=rate, batch=batch)
        self.cells.append(cell)
        what = f"@{rate:,.0f}/s" if rate else f"c={self.args.concurrency}"
        print(
            f"  {target} {processes}p {operation} {what}: {summary.describe()}",  # type: ignore[union-attr]
            file=sys.stderr,
            flush=True,
        )
        return cell

    def skip(self, target: str, processes: int, operation: str, note: str) -> None:
        self.cells.append(Cell(target, processes, operation, None, note))
        print(f"  {target} {processes}p {operation}: skipped ({note})", file=sys.stderr)

    def kms_target(
        self, server: servers.Server, target: str, processes: int, rate_check: bool
    ) -> None:
        signer = Signer(server.url, Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY))
        keys: dict[str, str] = {}
        for operation in self.args.ops:
            kind = operations.KEY_KIND[operation]
            try:
                if kind not in keys:
                    keys[kind] = workload.create_key(signer, kind)
                requests = workload.pool(signer, operation, [keys[kind]], self.shape, 256)
            except workload.CallError as exc:
                self.skip(target, processes, operation, f"{exc.kind}")
                continue
            cell = self.run(server, target, processes, operation, requests)
            if rate_check and operation in RATE_OPS and cell.summary and cell.summary.rate:
                self.run(
                    server,
                    target,
                    processes,
                    operation,
                    requests,
                    rate=cell.summary.rate * self.args.fraction,
                )

    def ceiling(self, processes: int, *, fast_lane: bool = False) -> None:
        target = LANE_CEILING if fast_lane else CEILING
        with servers.bare(processes, fast_lane=fast_lane) as server:
            # The gateway's own Encrypt requests: the bare handler parses the same bodies.
            signer = Signer(server.url, Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY))
            requests = workload.ceiling_pool(signer, self.shape)
            cell = self.run(server, target, processes, SHAPED, requests)
            # The stack's own tail at 80 % of its peak, what the gateway's 80 % rows are
            # judged against on the same machine: the routed ceiling's only, one reference.
            if not fast_lane and cell.summary and cell.summary.rate:
                rate = cell.summary.rate * self.args.fraction
                self.run(server, target, processes, SHAPED, requests, rate=rate)

    def all(self) -> None:
        for processes in (1, 2):
            self.ceiling(processes)
            self.ceiling(processes, fast_lane=True)
        with tempfile.TemporaryDirectory(prefix="loadtest-") as tmp:
            config = servers.unthrottled_config(Path(tmp))
            for workers in (1, 2):
                with servers.gateway(Path(tmp) / f"data{workers}", workers, config) as gw:
                    self.kms_target(gw, "gateway", workers, rate_check=True)
        if not self.args.no_moto:
            with servers.moto() as moto:
                self.kms_target(moto, "moto", 1, rate_check=False)


def medians(rounds: list[list[Cell]]) -> list[Cell]:
    """One cell per position, each figure the median over the rounds (errors: the sum)."""
    merged = []
    for same in zip(*rounds, strict=True):
        done = [c.summary for c in same if c.summary is not None]
        first = same[0]
        if not done:
            merged.append(first)
            continue
        rate = statistics.median(s.rate for s in done)
        cpus = [s.cpu_per_request for s in done if s.cpu_per_request is not None]
        summary = Summary(
            requests=round(rate * done[0].seconds),
            seconds=done[0].seconds,
            p50=statistics.median(s.p50 for s in done),
            p90=statistics.median(s.p90 for s in done),
            p99=statistics.median(s.p99 for s in done),
            max=statistics.median(s.max for s in done),
            errors=sum((s.errors for s in done), Counter()),
            # The least even spread of connections over the server's processes.
            connections=max((s.connections for s in done), key=_unevenness),
        )
        if cpus:
            summary.server_cpu_seconds = statistics.median(cpus) * summary.requests
        rates = [c.rate for c in same if c.rate]
        schedule = statistics.median(rates) if rates else None
        # The batch sizes are the first round's: a description of the run, not a figure.
        merged.append(Cell(first.target, first.processes, first.operation, summary, rate=schedule,
                           batch=first.batch))  # fmt: skip
    return merged


def _unevenness(spread: tuple[int, ...]) -> int:
    return spread[0] - spread[-1] if spread else 0


def _ms(value: float) -> str:
    return f"{value * 1e3:.2f}"


def table(cells: list[Cell], concurrency: int) -> str:
    rows = [
        "| target | procs | operation | load | req/s | p50 ms | p90 ms | p99 ms | max ms "
        "| server CPU µs/req | mean batch | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        load_text = f"{c.rate:,.0f}/s (80%)" if c.rate else f"c={concurrency}"
        if c.summary is None:
            rows.append(
                f"| {c.target} | {c.processes} | {c.operation} | {load_text} "
                f"| skipped: {c.note} | | | | | | | |"
            )
            continue
        s = c.summary
        if len(s.connections) > 1:  # connections per server process
            load_text += f" ({'/'.join(map(str, s.connections))})"
        cpu = f"{s.cpu_per_request * 1e6:.0f}" if s.cpu_per_request is not None else "-"
        errors = ", ".join(f"{k} {v}" for k, v in s.errors.most_common()) or "0"
        rows.append(
            f"| {c.target} | {c.processes} | {c.operation} | {load_text} "
            f"| {s.rate:,.0f} | {_ms(s.p50)} | {_ms(s.p90)} | {_ms(s.p99)} "
            f"| {_ms(s.max)} | {cpu} | {c.batch or '-'} | {errors} |"
        )
    return "\n".join(rows)


def _peak(cells: list[Cell], target: str, procs: int, op: str) -> float | None:
    """The closed-loop req/s of one cell, or None if it is missing or had errors."""
    for c in cells:
        if (c.target, c.processes, c.operation, c.rate) == (target, procs, op, None):
            return c.summary.rate if c.summary and not c.summary.errors else None
    return None


def ratios(cells: list[Cell]) -> str:
    def peak(target: str, procs: int, op: str) -> float | None:
        return _peak(cells, target, procs, op)

    def cpu(target: str, procs: int, op: str) -> float | None:
        for c in cells:
            if (c.target, c.processes, c.operation, c.rate) == (target, procs, op, None):
                return c.summary.cpu_per_request if c.summary else None
        return None

    def p99_at_rate(procs: int, op: str, target: str = "gateway") -> str:
        for c in cells:
            if (c.target, c.processes, c.operation) == (target, procs, op) and c.rate:
                assert c.summary is not None
                return _ms(c.summary.p99)
        return "-"

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:.1f}×" if a and b else "-"

    def share(a: float | None, b: float | None) -> str:
        return f"{a / b:.0%}" if a and b else "-"

    rows = [
        "| operation | gw 1w req/s | gw 2w req/s | moto req/s | gw1/moto | gw2/moto "
        "| gw1/ceiling1 req/s (CPU) | gw2/ceiling2 req/s (CPU) "
        "| gw1/ceiling-lane1 req/s (CPU) | gw2/ceiling-lane2 req/s (CPU) "
        "| p99 ms at 80% peak (1w / 2w) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def shares(op: str, ceiling: str, procs: int) -> str:
        # CPU per request is steadier than req/s on a shared box: ceiling CPU / gateway CPU.
        top = share(peak("gateway", procs, op), peak(ceiling, procs, SHAPED))
        return f"{top} ({share(cpu(ceiling, procs, SHAPED), cpu('gateway', procs, op))})"

    for op in OPS:
        g1, g2, m = peak("gateway", 1, op), peak("gateway", 2, op), peak("moto", 1, op)
        fmt = lambda v: f"{v:,.0f}" if v else "-"  # noqa: E731
        rows.append(
            f"| {op} | {fmt(g1)} | {fmt(g2)} | {fmt(m)} | {ratio(g1, m)} | {ratio(g2, m)} "
            f"| {shares(op, CEILING, 1)} | {shares(op, CEILING, 2)} "
            f"| {shares(op, LANE_CEILING, 1)} | {shares(op, LANE_CEILING, 2)} "
            f"| {p99_at_rate(1, op)} / {p99_at_rate(2, op)} |"
        )
    rows.append(
        f"| (ceiling, {SHAPED}) | | | | | | | | | "
        f"| {p99_at_rate(1, SHAPED, CEILING)} / {p99_at_rate(2, SHAPED, CEILING)} |"
    )
    return "\n".join(rows)


def _per_round(
    rounds: list[list[Cell]], top: tuple[str, str], bottom: tuple[str, str], procs: int
) -> list[str]:
    """``[shares listed, median]`` of top's req/s over bottom's, each round with itself.

    Both are measured minutes apart at most, so drift of a shared machine between rounds
    cancels out of each ratio; the median of the ratios is steadier than a ratio of medians.
    """
    shares = []
    for cells in rounds:
        a, b = _peak(cells, top[0], procs, top[1]), _peak(cells, bottom[0], procs, bottom[1])
        if a and b:
            shares.append(a / b)
    listed = ", ".join(f"{v:.0%}" for v in shares) or "-"
    return [listed, f"{statistics.median(shares):.0%}" if shares else "-"]


def paired_shares(rounds: list[list[Cell]], operations: list[str]) -> str:
    """The gateway's req/s as a share of each ceiling's *in the same round*, and Sign's as
    a share of Encrypt's with as many workers, median over rounds (see ``_per_round``)."""
    rows: list[str] = []
    for name in (CEILING, LANE_CEILING):
        if rows:
            rows.append("")
        rows += [
            f"| operation | gw 1w / {name} 1p, per round | median "
            f"| gw 2w / {name} 2p, per round | median |",
            "|---|---|---|---|---|",
        ]
        for op in operations:
            shares = [
                _per_round(rounds, ("gateway", op), (name, SHAPED), procs) for procs in (1, 2)
            ]
            rows.append("| " + " | ".join([op, *shares[0], *shares[1]]) + " |")
    if "Sign" in operations and "Encrypt" in operations:
        shares = [
            _per_round(rounds, ("gateway", "Sign"), ("gateway", "Encrypt"), procs)
            for procs in (1, 2)
        ]
        rows += [
            "",
            "| gateway | 1 worker, per round | median | 2 workers, per round | median |",
            "|---|---|---|---|---|",
            "| " + " | ".join(["Sign / Encrypt", *shares[0], *shares[1]]) + " |",
        ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per cell")
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument(
        "--fraction",
        type=float,
        default=0.8,
        help="share of the peak for the p99 run (default 0.8)",
    )
    parser.add_argument("--ops", type=lambda s: s.split(","), default=list(OPS))
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; figures are medians")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    args = parser.parse_args()
    began, load_before = time.monotonic(), load()
    rounds = []
    for number in range(args.repeat):
        print(f"round {number + 1} of {args.repeat}: `{load()}`", file=sys.stderr, flush=True)
        bench = Bench(args)
        bench.all()
        rounds.append(bench.cells)
    cells = medians(rounds)
    text = "\n".join(
        [
            f"Machine: {machine()}",
            f"Load before: `{load_before}`; after: `{load()}`; "
            f"{args.seconds:g} s per cell after {args.warmup:g} s warm-up, concurrency "
            f"{args.concurrency}, medians of {args.repeat} round(s), "
            f"whole run {time.monotonic() - began:.0f} s.",
            "",
            table(cells, args.concurrency),
            "",
            ratios(cells),
            "",
            paired_shares(rounds, [op for op in OPS if op in args.ops]),
        ]
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
