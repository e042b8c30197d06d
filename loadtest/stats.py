"""Latency percentiles, throughput and error counts of one benchmark run."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``p`` % of the data at or
    below it. No interpolation, so every figure reported is a latency actually observed."""
    if not sorted_values:
        return math.nan
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    rank = math.ceil(p / 100 * len(sorted_values))
    return sorted_values[rank - 1]


@dataclass(slots=True)
class Summary:
    """What a run reports; latencies in seconds."""

    requests: int
    seconds: float
    p50: float
    p90: float
    p99: float
    max: float
    errors: Counter[str] = field(default_factory=Counter)
    server_cpu_seconds: float | None = None
    # The load generator's own CPU: on a shared 2-core box it competes with the server.
    client_cpu_seconds: float | None = None
    # Connections held by each server process as the run began, most first.
    connections: tuple[int, ...] = ()

    @property
    def rate(self) -> float:
        """Completed requests per second, errors included (they cost the server too)."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> int:
        return self.requests - sum(self.errors.values())

    @property
    def cpu_per_request(self) -> float | None:
        if self.server_cpu_seconds is None or self.requests == 0:
            return None
        return self.server_cpu_seconds / self.requests

    def describe(self) -> str:
        cpu = self.cpu_per_request
        errors = ", ".join(f"{k}={v}" for k, v in self.errors.most_common()) or "none"
        return (
            f"{self.rate:,.0f} req/s over {self.seconds:.1f}s ({self.requests} requests); "
            f"p50 {self.p50 * 1e3:.2f} ms, p90 {self.p90 * 1e3:.2f} ms, "
            f"p99 {self.p99 * 1e3:.2f} ms, max {self.max * 1e3:.2f} ms; "
            + (f"server CPU {cpu * 1e6:.0f} µs/req; " if cpu is not None else "")
            + (
                f"driver CPU {self.client_cpu_seconds / self.requests * 1e6:.0f} µs/req; "
                if self.client_cpu_seconds is not None and self.requests
                else ""
            )
            + (
                f"connections {'/'.join(map(str, self.connections))}; "
                if len(self.connections) > 1
                else ""
            )
            + f"errors: {errors}"
        )


def summarize(
    latencies: Sequence[float],
    seconds: float,
    errors: Counter[str] | None = None,
    server_cpu_seconds: float | None = None,
) -> Summary:
    ordered = sorted(latencies)
    return Summary(
        requests=len(ordered),
        seconds=seconds,
        p50=percentile(ordered, 50),
        p90=percentile(ordered, 90),
        p99=percentile(ordered, 99),
        max=ordered[-1] if ordered else math.nan,
        errors=Counter(errors or {}),
        server_cpu_seconds=server_cpu_seconds,
    )
