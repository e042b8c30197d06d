"""The driver's statistics on data whose answers are known by hand."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from loadtest.stats import percentile, summarize


def test_percentiles_of_one_to_a_hundred_are_the_ranks() -> None:
    data = [float(i) for i in range(1, 101)]
    random.Random(7).shuffle(data)
    summary = summarize(data, seconds=4.0)
    assert (summary.p50, summary.p90, summary.p99, summary.max) == (50.0, 90.0, 99.0, 100.0)
    assert summary.requests == 100
    assert summary.rate == 25.0


def test_nearest_rank_never_interpolates() -> None:
    ordered = [1.0, 2.0, 3.0, 4.0]
    assert percentile(ordered, 50) == 2.0
    assert percentile(ordered, 51) == 3.0
    assert percentile(ordered, 99) == 4.0
    assert percentile([7.0], 1) == 7.0


def test_percentile_of_nothing_is_nan_and_bad_p_is_refused() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 0)


def test_errors_count_in_the_rate_but_not_as_ok() -> None:
    errors = Counter({"ThrottlingException": 3, "KMSInternalException": 1})
    summary = summarize([0.001] * 10, seconds=2.0, errors=errors, server_cpu_seconds=0.005)
    assert summary.ok == 6
    assert summary.rate == 5.0
    assert summary.cpu_per_request == pytest.approx(0.0005)
    assert "ThrottlingException=3" in summary.describe()
