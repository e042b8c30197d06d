"""Crypto figures seen by the gateway, read from its Prometheus ``/metrics``: native batch
sizes and the ECDSA nonce pools' counters."""

from __future__ import annotations

import re
import urllib.request

_LINE = re.compile(r'^gateway_crypto_batch_size_(sum|count)\{operation="([^"]+)"\} (\S+)$', re.M)


_NONCE_LINE = re.compile(r"^gateway_ecdsa_signatures_(precomputed|pool_empty)_total (\S+)$", re.M)


def _scrape(url: str) -> str:
    """The /metrics text, or "" when the server does not answer it."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def batch_totals(url: str) -> dict[str, tuple[float, float]]:
    """operation -> (items, batches) so far; empty when the endpoint has no such metric."""
    text = _scrape(url)
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for kind, operation, value in _LINE.findall(text):
        (sums if kind == "sum" else counts)[operation] = float(value)
    return {op: (sums[op], counts.get(op, 0.0)) for op in sums}


def mean_batches(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> str:
    """Items per native call between two readings, per operation: "seal 1.0, sign 6.4"."""
    parts = []
    for op, (items, batches) in sorted(after.items()):
        items0, batches0 = before.get(op, (0.0, 0.0))
        if batches > batches0:
            parts.append(f"{op} {(items - items0) / (batches - batches0):.1f}")
    return ", ".join(parts)


def nonce_counters(url: str) -> dict[str, float]:
    """Signatures made with a precomputed ECDSA nonce ("precomputed") and without one
    ("pool_empty") so far; empty when the endpoint has no such metric."""
    return {kind: float(value) for kind, value in _NONCE_LINE.findall(_scrape(url))}
