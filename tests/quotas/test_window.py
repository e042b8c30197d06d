from __future__ import annotations

import math

import pytest

from gateway.quotas.window import MAX_COUNT, check_count, window_at, window_for


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (5500, (1, 5500)),
        (5, (1, 5)),
        (1, (1, 1)),
        (2.7, (1, 2)),
        (0.5, (2, 1)),
        (0.25, (4, 1)),
        (0.1, (10, 1)),
        (0.3, (4, 1)),  # 1/0.3 is not an integer: the window rounds up
    ],
)
def test_window_for_derives_window_and_capacity(rate: float, expected: tuple[int, int]) -> None:
    assert window_for(rate) == expected


@pytest.mark.parametrize("rate", [0, -1, math.inf, math.nan, float(MAX_COUNT + 1)])
def test_window_for_rejects_unusable_rates(rate: float) -> None:
    with pytest.raises(ValueError):
        window_for(rate)


@pytest.mark.parametrize(
    ("rate", "now", "expires"),
    [
        (5, 9.999, 10),
        (5, 10.0, 11),
        (0.25, 8.0, 12),
        (0.25, 11.999, 12),
        (0.25, 12.0, 16),
        (0.1, 29.9, 30),
        (0.1, 1_700_000_003.5, 1_700_000_010),
    ],
)
def test_window_at_aligns_windows_on_epoch_multiples(rate: float, now: float, expires: int) -> None:
    assert window_at(rate, now) == (expires, window_for(rate)[1])


@pytest.mark.parametrize("now", [-0.5, math.nan, float(1 << 32)])
def test_window_at_rejects_clock_readings_out_of_range(now: float) -> None:
    with pytest.raises(ValueError):
        window_at(1, now)


@pytest.mark.parametrize("count", [0, -1, MAX_COUNT + 1, True, 1.0])
def test_check_count_rejects_non_counts(count: object) -> None:
    with pytest.raises(ValueError):
        check_count(count)  # type: ignore[arg-type]
