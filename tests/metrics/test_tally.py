"""Tallies: after a fold, the exposition is exactly what the same increments and
observations straight through prometheus-client give, in one process and in
multiprocess mode (where the fold writes the shared files).

These pin the prometheus-client internals ``tally._mirror`` relies on: an upstream change
fails here.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.metrics.exposition import MULTIPROC_ENV
from gateway.metrics.tally import CounterTally, HistogramTally

ROOT = Path(__file__).resolve().parents[2]
BUCKETS = (0.0002, 0.001, 0.005, 0.1, 2.5)
OPERATIONS = ("Encrypt", "Decrypt", "Sign")
ERRORS = ("NotFoundException", "DisabledException")


def exposition(registry: CollectorRegistry) -> str:
    # The *_created samples are wall-clock times, different in any two registries.
    text = generate_latest(registry).decode()
    return "\n".join(line for line in text.splitlines() if "_created" not in line)


def histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram("t_seconds", "doc", ("operation",), buckets=BUCKETS, registry=registry)


def counter(registry: CollectorRegistry) -> Counter:
    return Counter("t_errors", "doc", ("operation", "error_type"), registry=registry)


# A value equal to a bound belongs to that bound's bucket: the bounds are drawn on purpose.
values = st.one_of(
    st.sampled_from((*BUCKETS, 0.0, -1.0, math.inf)),
    st.floats(min_value=-1.0, max_value=10.0, allow_nan=False),
)
observations = st.lists(
    st.one_of(st.tuples(st.sampled_from(OPERATIONS), values), st.just("fold")), max_size=60
)
increments = st.lists(
    st.one_of(st.tuples(st.sampled_from(OPERATIONS), st.sampled_from(ERRORS)), st.just("fold")),
    max_size=60,
)


@settings(deadline=None)  # each example renders several expositions
@given(observations)
def test_a_folded_histogram_tally_exposes_what_observe_gives(events):
    direct_registry, tally_registry = CollectorRegistry(), CollectorRegistry()
    direct = histogram(direct_registry)
    tally = HistogramTally(histogram(tally_registry), BUCKETS)
    for event in [*events, "fold"]:
        if event == "fold":
            tally.fold()
            assert exposition(tally_registry) == exposition(direct_registry)
        else:
            operation, value = event
            direct.labels(operation).observe(value)
            tally.observe(operation, value)


@settings(deadline=None)  # each example renders several expositions
@given(increments)
def test_a_folded_counter_tally_exposes_what_inc_gives(events):
    direct_registry, tally_registry = CollectorRegistry(), CollectorRegistry()
    direct = counter(direct_registry)
    tally = CounterTally(counter(tally_registry))
    for event in [*events, "fold"]:
        if event == "fold":
            tally.fold()
            assert exposition(tally_registry) == exposition(direct_registry)
        else:
            direct.labels(*event).inc()
            tally.count(event)


def test_folding_twice_does_not_count_twice():
    registry = CollectorRegistry()
    histograms = HistogramTally(histogram(registry), BUCKETS)
    counts = CounterTally(counter(registry))
    for seconds in (0.0001, 0.003, 7.0):
        histograms.observe("Encrypt", seconds)
        counts.count(("Encrypt", "NotFoundException"))
    for _ in range(3):
        histograms.fold()
        counts.fold()

    labels = {"operation": "Encrypt"}
    assert registry.get_sample_value("t_seconds_count", labels) == 3
    assert registry.get_sample_value("t_seconds_sum", labels) == 0.0001 + 0.003 + 7.0
    assert registry.get_sample_value("t_seconds_bucket", {**labels, "le": "0.0002"}) == 1
    errors = {**labels, "error_type": "NotFoundException"}
    assert registry.get_sample_value("t_errors_total", errors) == 3


def test_nothing_is_exposed_before_the_first_fold():
    registry = CollectorRegistry()
    HistogramTally(histogram(registry), BUCKETS).observe("Encrypt", 0.001)
    CounterTally(counter(registry)).count(("Encrypt", "NotFoundException"))
    assert all(not family.samples for family in registry.collect())


# --- multiprocess mode: the fold writes this process's values into the shared files ------

_WRITER = """
import random, sys
from prometheus_client import CollectorRegistry, Counter, Histogram
from gateway.metrics.tally import CounterTally, HistogramTally

mode = sys.argv[1]
buckets = (0.0002, 0.001, 0.005, 0.1, 2.5)
registry = CollectorRegistry()
histogram = Histogram("t_seconds", "doc", ("operation",), buckets=buckets, registry=registry)
counter = Counter("t_errors", "doc", ("operation", "error_type"), registry=registry)
histograms, counts = HistogramTally(histogram, buckets), CounterTally(counter)
draw = random.Random(7)
for _ in range(2000):
    operation = draw.choice(("Encrypt", "Decrypt", "Sign"))
    value = draw.choice((*buckets, draw.uniform(0, 3), draw.expovariate(1000)))
    error = draw.choice(("NotFoundException", "DisabledException"))
    folds = draw.choice((0,) * 98 + (1, 2))  # drawn in both modes: the same values follow
    if mode == "direct":
        histogram.labels(operation).observe(value)
        counter.labels(operation, error).inc()
    else:
        histograms.observe(operation, value)
        counts.count((operation, error))
        for _ in range(folds):
            histograms.fold()
            counts.fold()
histograms.fold()
counts.fold()
"""


def _write(mode: str, directory: Path) -> CollectorRegistry:
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_WRITER), mode],
        cwd=ROOT, env={**os.environ, MULTIPROC_ENV: str(directory)},
        capture_output=True, text=True, timeout=60, check=True,
    )
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    return registry


def test_multiprocess_files_after_folds_hold_what_direct_updates_write(tmp_path):
    (tmp_path / "direct").mkdir()
    (tmp_path / "tally").mkdir()
    direct = exposition(_write("direct", tmp_path / "direct"))
    folded = exposition(_write("tally", tmp_path / "tally"))
    assert 't_seconds_count{operation="Encrypt"}' in direct
    # The files are read in no fixed order, and so are the families and series.
    assert sorted(folded.splitlines()) == sorted(direct.splitlines())
