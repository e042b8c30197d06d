"""Plain-Python tallies for the per-request metric hooks, folded into prometheus-client.

Every prometheus-client update takes a lock (and in multiprocess mode writes a mmap'd
file), and a request makes several. Counting into a dict or a list costs a fraction of
that; ``fold()`` hands the counts to the metric objects, which happens when
``GatewayMetrics.flush`` runs. Hooks and folds run on the event-loop thread only.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client import Counter, Histogram

LabelValues = tuple[str, ...]


class CounterTally:
    """A labelled counter's increments since the last fold, by label values."""

    __slots__ = ("_counter", "_children", "_pending")

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._children: dict[LabelValues, Counter] = {}
        self._pending: dict[LabelValues, int] = {}

    def count(self, labels: LabelValues) -> None:
        pending = self._pending
        pending[labels] = pending.get(labels, 0) + 1

    def fold(self) -> None:
        # Taken before adding: a fold that fails half-way loses counts, never doubles them.
        pending, self._pending = self._pending, {}
        for labels, increments in pending.items():
            child = self._children.get(labels)
            if child is None:
                child = self._children[labels] = self._counter.labels(*labels)
            child.inc(increments)


class _Observations:
    """One histogram child's observations since start: a count per bucket and the sum."""

    __slots__ = ("counts", "total", "folded", "child")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        # Added one value at a time, in order, as Histogram.observe adds: the same float.
        self.total = 0.0
        self.folded = 0  # observations the child already shows
        self.child: Histogram | None = None


class HistogramTally:
    """A histogram with one label (the operation): observations by label value."""

    __slots__ = ("_histogram", "_bounds", "_by_label")

    def __init__(self, histogram: Histogram, buckets: Sequence[float]) -> None:
        self._histogram = histogram
        bounds = tuple(float(b) for b in buckets)
        # prometheus-client adds the +Inf bucket the same way.
        self._bounds = bounds if bounds[-1] == math.inf else (*bounds, math.inf)
        self._by_label: dict[str, _Observations] = {}

    def observe(self, label: str, value: float) -> None:
        observations = self._by_label.get(label)
        if observations is None:
            observations = self._by_label[label] = _Observations(len(self._bounds))
        # The first bound >= value: the bucket Histogram.observe increments.
        observations.counts[bisect_left(self._bounds, value)] += 1
        observations.total += value

    def fold(self) -> None:
        for label, observations in self._by_label.items():
            observed = sum(observations.counts)
            if observed == observations.folded:
                continue
            if observations.child is None:
                observations.child = self._histogram.labels(label)
            _mirror(observations.child, observations.counts, observations.total)
            observations.folded = observed


def _mirror(child: Histogram, counts: list[int], total: float) -> None:
    """Make a histogram child's values the totals of its tally (so folding is idempotent).

    The public API observes one value at a time; setting many at once needs the child's
    value objects, ``_buckets`` and ``_sum``, the same in every version pyproject.toml
    allows. tests/metrics/test_tally.py compares the result with Histogram.observe, so an
    upstream change breaks a test, not the metrics.
    """
    for value, count in zip(child._buckets, counts, strict=True):
        value.set(count)
    child._sum.set(total)
