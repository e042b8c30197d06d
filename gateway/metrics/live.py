"""Values that live in objects (requests in flight, batcher queue), read at scrape time.

In one process a collector reads them when scraped. With several worker processes a
scrape reaches only one of them, so each worker copies its values into shared
("livesum") gauges every ``interval`` seconds, and the scrape adds them up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


@dataclass(frozen=True, slots=True)
class LiveValue:
    name: str
    documentation: str
    read: Callable[[], float]


class LiveCollector(Collector):
    def __init__(self, values: list[LiveValue]) -> None:
        self._values = values

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for value in self._values:
            yield GaugeMetricFamily(value.name, value.documentation, value=value.read())


def register_live_values(registry: CollectorRegistry, values: list[LiveValue]) -> None:
    registry.register(LiveCollector(values))


async def sample_live_values(
    registry: CollectorRegistry, values: list[LiveValue], interval: float = 0.5
) -> None:
    """Multiprocess mode: publish this worker's values for the other workers' scrapes."""
    gauges = [
        (Gauge(v.name, v.documentation, registry=registry, multiprocess_mode="livesum"), v)
        for v in values
    ]
    while True:
        for gauge, value in gauges:
            gauge.set(value.read())
        await asyncio.sleep(interval)
