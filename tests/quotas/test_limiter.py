"""Behaviour both limiters share, run against each, plus a differential test between them."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.quotas.limiter import Limiter, LocalLimiter
from tests.quotas import ensure_quota_module

ensure_quota_module()

from gateway.quotas.shared import SharedLimiter, bucket_key  # noqa: E402


class FakeClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


MakeLimiter = Callable[..., Limiter]


@pytest.fixture(params=["local", "shared"])
def make_limiter(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeLimiter]:
    made: list[Limiter] = []

    def make(clock: Callable[[], float] | None = None) -> Limiter:
        clock = clock or FakeClock()
        limiter: Limiter
        if request.param == "local":
            limiter = LocalLimiter(clock=clock)
        else:
            limiter = SharedLimiter.create(tmp_path / f"quota-{len(made)}", clock=clock)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        limiter.close()


def test_burst_at_the_window_edge_gets_capacity_twice(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert [limiter.try_take("b", 5, now=9.999) for _ in range(6)] == [True] * 5 + [False]
    assert [limiter.try_take("b", 5, now=10.0) for _ in range(6)] == [True] * 5 + [False]
    assert not limiter.try_take("b", 5, now=10.5)
    assert limiter.try_take("b", 5, now=11.0)


def test_quarter_rate_allows_one_per_epoch_aligned_four_seconds(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert limiter.try_take("b", 0.25, now=9.0)  # window [8, 12)
    assert not limiter.try_take("b", 0.25, now=11.999)
    assert limiter.try_take("b", 0.25, now=12.0)
    assert not limiter.try_take("b", 0.25, now=15.5)
    assert limiter.try_take("b", 0.25, now=16.0)


def test_tenth_rate_allows_one_per_ten_seconds(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert limiter.try_take("b", 0.1, now=20.0)
    assert not limiter.try_take("b", 0.1, now=29.9)
    assert limiter.try_take("b", 0.1, now=30.0)


def test_multi_count_take_is_all_or_nothing(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert limiter.try_take("b", 3, 2, now=5.0)
    assert not limiter.try_take("b", 3, 2, now=5.0)
    assert limiter.try_take("b", 3, 1, now=5.0)
    assert not limiter.try_take("b", 3, 1, now=5.0)


def test_count_above_capacity_is_refused_without_creating_a_bucket(
    make_limiter: MakeLimiter,
) -> None:
    limiter = make_limiter()
    assert not limiter.try_take("b", 3, 4, now=5.0)
    assert limiter.live_buckets(now=5.0) == 0


def test_give_back_undoes_a_take_in_the_same_window(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert limiter.try_take("b", 2, 2, now=5.0)
    assert not limiter.try_take("b", 2, now=5.1)
    limiter.give_back("b", 2, now=5.2)
    assert limiter.try_take("b", 2, now=5.3)
    assert not limiter.try_take("b", 2, now=5.4)


def test_give_back_never_goes_below_zero(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert limiter.try_take("b", 2, now=5.0)
    limiter.give_back("b", 2, 2, now=5.0)
    limiter.give_back("unknown", 2, now=5.0)
    assert [limiter.try_take("b", 2, now=5.0) for _ in range(3)] == [True, True, False]


def test_give_back_in_a_later_window_changes_nothing(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert limiter.try_take("b", 2, 2, now=5.0)
    limiter.give_back("b", 2, 2, now=6.0)
    assert [limiter.try_take("b", 2, now=6.0) for _ in range(3)] == [True, True, False]


def test_buckets_are_independent(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert limiter.try_take("acct-1|us-east-1|kms:crypto", 1, now=5.0)
    assert limiter.try_take("acct-2|us-east-1|kms:crypto", 1, now=5.0)
    assert not limiter.try_take("acct-1|us-east-1|kms:crypto", 1, now=5.0)
    assert not limiter.try_take("acct-2|us-east-1|kms:crypto", 1, now=5.0)


def test_a_late_clock_reading_counts_in_the_newer_window(make_limiter: MakeLimiter) -> None:
    # Another worker read its clock just before a window edge but charges after this one
    # moved the bucket on: it counts in the window [11, 12), never reopening [10, 11), and
    # is refused only if that window is full.
    limiter = make_limiter()
    assert limiter.try_take("b", 5, count=4, now=11.0)
    assert limiter.try_take("b", 5, now=10.9)
    assert not limiter.try_take("b", 5, now=11.5)
    assert not limiter.try_take("b", 5, now=10.95)
    assert limiter.try_take("b", 5, now=12.0)


def test_default_clock_is_the_injected_one(make_limiter: MakeLimiter) -> None:
    clock = FakeClock(100.2)
    limiter = make_limiter(clock)
    assert limiter.try_take("b", 1)
    assert not limiter.try_take("b", 1)
    limiter.give_back("b", 1)
    assert limiter.try_take("b", 1)
    assert limiter.live_buckets() == 1
    clock.now = 101.0
    assert limiter.live_buckets() == 0
    assert limiter.try_take("b", 1)


def test_live_buckets_counts_only_unfinished_windows(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    assert limiter.try_take("fast", 5, now=10.5)  # window ends at 11
    assert limiter.try_take("slow", 0.1, now=10.5)  # window ends at 20
    assert limiter.live_buckets(now=10.9) == 2
    assert limiter.live_buckets(now=11.0) == 1
    assert limiter.live_buckets(now=20.0) == 0


@pytest.mark.parametrize(("rate", "count"), [(0, 1), (-5, 1), (5, 0), (5, -1), (5, 1.5)])
def test_invalid_arguments_raise(make_limiter: MakeLimiter, rate: float, count: int) -> None:
    limiter = make_limiter()
    with pytest.raises(ValueError):
        limiter.try_take("b", rate, count, now=5.0)
    with pytest.raises(ValueError):
        limiter.give_back("b", rate, count, now=5.0)


def test_local_limiter_stays_bounded() -> None:
    limiter = LocalLimiter(clock=FakeClock(), max_buckets=100)
    for i in range(1000):
        assert limiter.try_take(f"b{i}", 5, now=50.0 + i / 100)
        assert len(limiter) <= 100


def test_local_limiter_drops_finished_windows_before_live_ones() -> None:
    limiter = LocalLimiter(clock=FakeClock(), max_buckets=10)
    assert limiter.try_take("live", 1, now=10.0)  # window ends at 11
    for i in range(9):
        assert limiter.try_take(f"old{i}", 1, now=5.0)  # windows ended at 6
    assert limiter.try_take("new", 1, now=10.5)  # full: the nine finished windows go
    assert len(limiter) == 2
    assert not limiter.try_take("live", 1, now=10.6)  # its count survived


def _probe_starts_apart(names: list[str], nslots: int) -> bool:
    starts = sorted(bucket_key(name) % nslots for name in names)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)] + [
        starts[0] + nslots - starts[-1]
    ]
    return min(gaps) > 32


_NAMES = [f"acct-{i}|eu-west-1|kms:crypto" for i in range(4)]
# The differential test relies on the shared table never reclaiming one name's slot for
# another (then both limiters agree even for clock readings in any order).
assert _probe_starts_apart(_NAMES, 65536)

_RATES = [5500, 5, 3, 1, 0.5, 0.25, 0.1, 0.3]
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["take", "take", "take", "give_back"]),
        st.sampled_from(_NAMES),
        st.sampled_from(_RATES),
        st.integers(1, 4),
        st.floats(1000.0, 1030.0, allow_nan=False),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=_OPS, monotonic=st.booleans())
def test_local_and_shared_limiters_agree(
    ops: list[tuple[str, str, float, int, float]], monotonic: bool
) -> None:
    if monotonic:
        ops = sorted(ops, key=lambda op: op[4])
    local = LocalLimiter(clock=FakeClock())
    with tempfile.TemporaryDirectory() as tmp:
        shared = SharedLimiter.create(Path(tmp) / "quota", clock=FakeClock())
        try:
            for kind, name, rate, count, now in ops:
                if kind == "take":
                    assert local.try_take(name, rate, count, now) == shared.try_take(
                        name, rate, count, now
                    )
                else:
                    local.give_back(name, rate, count, now)
                    shared.give_back(name, rate, count, now)
                assert local.live_buckets(now) == shared.live_buckets(now)
        finally:
            shared.close()
