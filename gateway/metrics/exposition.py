"""Builds the /metrics text: this app's registry (or every worker's, aggregated) plus the
store-derived families, in the Prometheus text format."""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from gateway.metrics.stored import StoredCollector, StoredSnapshot

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class _Forward(Collector):
    """Exposes another registry's metrics inside the per-scrape registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()


def render(app_registry: CollectorRegistry, stored: StoredSnapshot) -> bytes:
    scrape = CollectorRegistry(auto_describe=False)
    directory = multiprocess_dir()
    if directory is not None:
        MultiProcessCollector(scrape, path=directory)
    else:
        scrape.register(_Forward(app_registry))
    scrape.register(StoredCollector(stored))
    return generate_latest(scrape)
