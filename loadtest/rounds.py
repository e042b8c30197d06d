"""What the alternating A/B tools (``ab_setting``, ``ab_parts``) share: their run options,
the order of each round, and one drive of a server with the fast driver."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TypeVar

from loadtest import driver, servers
from loadtest.stats import Summary

T = TypeVar("T")


def add_options(parser: argparse.ArgumentParser, seconds: float) -> None:
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("-c", "--concurrency", type=int, default=32)


def in_order(variants: Sequence[T], round_index: int) -> list[T]:
    """The variants in the order of this round: flipped every other round, so drift on a
    shared machine falls on both sides."""
    return list(variants) if round_index % 2 == 0 else list(variants)[::-1]


def drive(args: argparse.Namespace, server: servers.Server, requests: list[bytes]) -> Summary:
    """One closed-loop run against ``server``, its process tree's CPU counted."""
    summary, _ = driver.run_sync(
        lambda: driver.drive(
            "127.0.0.1",
            server.port,
            requests,
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup=args.warmup,
            server_pids=[server.pid],
            processes=server.processes,
        )
    )
    return summary
