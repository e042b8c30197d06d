"""SharedLimiter specifics: the table file, reclamation, table full, and exactness across
processes (multiprocessing "spawn", as the gateway starts its workers)."""

from __future__ import annotations

import math
import multiprocessing
import platform
import shutil
import stat
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.quotas import ensure_quota_module

ensure_quota_module()

from gateway import _quota  # type: ignore[attr-defined]  # noqa: E402
from gateway.quotas.shared import SharedLimiter, bucket_key  # noqa: E402

PROCESSES = 4
NOW = 1_700_000_000.25  # one fixed instant inside one window


def test_create_makes_a_private_zeroed_table(tmp_path: Path) -> None:
    path = tmp_path / "quota"
    limiter = SharedLimiter.create(path, nslots=128)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.stat().st_size == 128 * 16
        assert path.read_bytes() == bytes(128 * 16)
        assert limiter.nslots == 128
    finally:
        limiter.close()


def test_create_replaces_an_old_table_with_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "quota"
    old = SharedLimiter.create(path, nslots=64)
    assert old.try_take("b", 1, now=NOW)
    new = SharedLimiter.create(path, nslots=64)
    try:
        assert new.try_take("b", 1, now=NOW)
        assert not old.try_take("b", 1, now=NOW)  # the old mapping is still valid memory
    finally:
        old.close()
        new.close()
    assert [p.name for p in tmp_path.iterdir()] == ["quota"]


def test_attached_limiters_share_counts(tmp_path: Path) -> None:
    path = tmp_path / "quota"
    parent = SharedLimiter.create(path, nslots=64)
    worker = SharedLimiter.attach(path)
    try:
        assert worker.nslots == 64
        assert parent.try_take("b", 2, now=NOW)
        assert worker.try_take("b", 2, now=NOW)
        assert not parent.try_take("b", 2, now=NOW)
        worker.give_back("b", 2, now=NOW)
        assert parent.try_take("b", 2, now=NOW)
        assert worker.live_buckets(now=NOW) == 1
    finally:
        parent.close()
        worker.close()


@pytest.mark.parametrize("size", [0, 24])
def test_attach_rejects_a_file_that_is_not_a_table(tmp_path: Path, size: int) -> None:
    path = tmp_path / "quota"
    path.write_bytes(bytes(size))
    with pytest.raises(ValueError):
        SharedLimiter.attach(path)


@pytest.mark.parametrize("nslots", [0, -1, 1 << 32, 2.0])
def test_create_rejects_bad_slot_counts(tmp_path: Path, nslots: int) -> None:
    with pytest.raises(ValueError):
        SharedLimiter.create(tmp_path / "quota", nslots=nslots)


def test_a_closed_limiter_refuses_to_work(tmp_path: Path) -> None:
    limiter = SharedLimiter.create(tmp_path / "quota", nslots=64)
    limiter.close()
    limiter.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        limiter.try_take("b", 1, now=NOW)
    with pytest.raises(ValueError, match="closed"):
        limiter.live_buckets(now=NOW)


def test_bucket_keys_are_stable_and_never_reserved() -> None:
    assert bucket_key("acct|us-east-1|kms:crypto") == bucket_key("acct|us-east-1|kms:crypto")
    assert bucket_key("a") != bucket_key("b")
    assert all(bucket_key(f"b{i}") not in (0, (1 << 64) - 1) for i in range(1000))


def test_native_take_rejects_reserved_keys_and_zero_counts(tmp_path: Path) -> None:
    table = _quota.ffi.new("char[]", 64 * 16)
    take = _quota.lib.gw_quota_take
    bad = _quota.lib.GW_QUOTA_BAD_ARGUMENT
    assert take(table, 64, 0, 10, 5, 1, 9) == bad
    assert take(table, 64, (1 << 64) - 1, 10, 5, 1, 9) == bad
    assert take(table, 64, 7, 10, 5, 0, 9) == bad
    assert take(table, 0, 7, 10, 5, 1, 9) == bad
    assert take(table, 64, 7, 10, 5, 1, 9) == _quota.lib.GW_QUOTA_TAKEN


def test_a_tiny_table_keeps_working_as_windows_pass(tmp_path: Path) -> None:
    limiter = SharedLimiter.create(tmp_path / "quota", nslots=64)
    try:
        # 16 new buckets a second: the last two windows' 32 buckets are never reclaimable
        # together with the current ones, everything older is.
        for second in range(200):
            now = 1000.0 + second
            for i in range(16):
                name = f"s{second}-b{i}"
                assert limiter.try_take(name, 2, now=now)
                assert limiter.try_take(name, 2, now=now)
                assert not limiter.try_take(name, 2, now=now)
            assert limiter.live_buckets(now=now) == 16
        assert limiter.table_full_total == 0
    finally:
        limiter.close()


def test_a_full_table_refuses_only_new_buckets_until_windows_end(tmp_path: Path) -> None:
    limiter = SharedLimiter.create(tmp_path / "quota", nslots=4)
    try:
        for i in range(4):
            assert limiter.try_take(f"b{i}", 5, now=100.0)
        assert not limiter.try_take("newcomer", 5, now=100.5)
        assert limiter.table_full_total == 1
        assert limiter.try_take("b0", 5, now=100.5)  # existing buckets are unaffected
        assert limiter.try_take("b1", 5, now=101.0)  # and roll into new windows
        # At 102 the windows that ended at 101 are reclaimable (a second of slack).
        assert limiter.try_take("newcomer", 5, now=102.0)
    finally:
        limiter.close()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="cmpxchg16b is x86-64 only")
@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs binutils")
def test_the_128_bit_cas_is_inlined_cmpxchg16b() -> None:
    disassembly = subprocess.run(
        ["objdump", "-d", _quota.__file__], check=True, capture_output=True, text=True
    ).stdout
    assert "lock cmpxchg16b" in disassembly
    assert "__atomic_compare_exchange" not in disassembly


# --- exactness across processes ------------------------------------------------------------


def _hammer_one_window(path: str, buckets: list[str], rate: float, rounds: int, start) -> Counter:  # type: ignore[no-untyped-def]
    """Runs in a spawned process: take from every bucket `rounds` times at one instant."""
    limiter = SharedLimiter.attach(Path(path))
    start.wait()
    wins: Counter[str] = Counter()
    for _ in range(rounds):
        for bucket in buckets:
            if limiter.try_take(bucket, rate, now=NOW):
                wins[bucket] += 1
    limiter.close()
    return wins


def _hammer_windows(  # type: ignore[no-untyped-def]
    path: str, worker: int, seconds: int, per_second: int, skewed: bool, barrier
) -> tuple[Counter, Counter]:
    """Runs in a spawned process: many short-lived buckets over successive windows.

    All processes enter each second together (a barrier), so their clock readings differ
    by less than the one second the table's reclamation rule allows for. Skewed, half of
    them read the end of the previous second, so they race across a window boundary.
    Results are keyed by (bucket, window end).
    """
    limiter = SharedLimiter.attach(Path(path))
    wins: Counter[tuple[str, int]] = Counter()
    full: Counter[tuple[str, int]] = Counter()
    for second in range(seconds):
        barrier.wait()
        offset = (worker * 0.3 - 0.45) if skewed else worker * 0.2
        now = 5000.0 + second + offset
        expires = math.floor(now) + 1
        # New names every second keep claims racing reclamation of older slots; "steady"
        # lives through all windows. Workers walk the names in different orders.
        names = [f"w{second}-{i}" for i in range(per_second)] + ["steady"]
        if worker % 2:
            names.reverse()
        for _ in range(4):
            for name in names:
                before = limiter.table_full_total
                if limiter.try_take(name, 3, now=now):
                    wins[name, expires] += 1
                elif limiter.table_full_total != before:
                    full[name, expires] += 1
    limiter.close()
    return wins, full


def _run(target, args_for_worker) -> list:  # type: ignore[no-untyped-def]
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        return pool.starmap(target, [args_for_worker(context, w) for w in range(PROCESSES)])


@pytest.fixture(scope="module")
def spawn_manager():  # type: ignore[no-untyped-def]
    with multiprocessing.get_context("spawn").Manager() as manager:
        yield manager


@pytest.mark.parametrize("capacity", [1000, 6000])
def test_processes_hammering_one_bucket_get_exactly_its_capacity(
    tmp_path: Path, spawn_manager, capacity: int
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "quota"
    SharedLimiter.create(path, nslots=1024).close()
    start = spawn_manager.Barrier(PROCESSES)
    # 4 x 2000 offers: at 6000 the processes race for successes for most of the run.
    results = _run(_hammer_one_window, lambda _ctx, _w: (str(path), ["hot"], capacity, 2000, start))
    assert sum(r["hot"] for r in results) == capacity


def test_processes_hammering_several_buckets_get_exactly_each_capacity(
    tmp_path: Path, spawn_manager
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "quota"
    SharedLimiter.create(path, nslots=1024).close()
    start = spawn_manager.Barrier(PROCESSES)
    buckets = [f"acct-{i}|us-east-1|kms:crypto" for i in range(12)]
    results = _run(_hammer_one_window, lambda _ctx, _w: (str(path), buckets, 300, 200, start))
    totals: Counter[str] = sum(results, Counter())
    assert totals == Counter({bucket: 300 for bucket in buckets})


@pytest.mark.parametrize("skewed", [False, True])
def test_eviction_pressure_never_lets_a_bucket_exceed_its_capacity(
    tmp_path: Path, spawn_manager, skewed: bool
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "quota"
    SharedLimiter.create(path, nslots=64).close()
    barrier = spawn_manager.Barrier(PROCESSES)
    # 20 new buckets a second in 64 slots: the two newest windows hold up to 42 slots
    # that cannot be reclaimed yet, so claims constantly race reclamation of older ones.
    seconds, per_second = 60, 20
    results = _run(
        _hammer_windows,
        lambda _ctx, worker: (str(path), worker, seconds, per_second, skewed, barrier),
    )
    wins: Counter[tuple[str, int]] = sum((r[0] for r in results), Counter())
    full: Counter[tuple[str, int]] = sum((r[1] for r in results), Counter())
    # Each bucket is offered 16 takes per second against a capacity of 3.
    if skewed:
        # A lagging worker's take counts in the window the bucket has already reached
        # (its own or the next one), so wins are keyed by a window they may not have
        # been counted in: bound them over the windows they could have landed in.
        per_bucket: Counter[str] = Counter()
        for (name, _), n in wins.items():
            per_bucket[name] += n
        assert per_bucket["steady"] <= 3 * (seconds + 1)
        assert max(n for name, n in per_bucket.items() if name != "steady") <= 6
    else:
        assert max(wins.values()) <= 3
    if not skewed:  # unskewed, every offered (bucket, window) is offered 16 > 3 takes
        offered = [(f"w{s}-{i}", 5001 + s) for s in range(seconds) for i in range(per_second)]
        offered += [("steady", 5001 + s) for s in range(seconds)]
        for bucket_window in offered:
            if not full[bucket_window]:
                assert wins[bucket_window] == 3, bucket_window
    # Table-full refusals stay rare even at this load.
    assert sum(full.values()) < seconds * (per_second + 1) * 16 // 20


# Keys crafted so round r's bucket starts probing at slot 64 * r of a 65536-slot table.
_RACE_SLOTS = 65536
_RACE_ROUNDS = 1000
_RACE_T = 10_000  # even, so now_sec T and T + 1 share the 2-second window ending T + 2
_RACE_LIVE_BLOCKERS = 30  # make every probe scan long, so two scans really overlap


def _race_key(round_: int, which: int) -> int:
    return 64 * round_ + _RACE_SLOTS * which


def _claim_race(path: str, worker: int, arrived, outcomes) -> None:  # type: ignore[no-untyped-def]
    """Runs in a spawned process: one take per round on a fresh bucket, at the native level.

    Worker 1 reads now_sec T + 1, for which the blocker at the bucket's start slot is stale
    and can be reclaimed; worker 0 reads T, for which it is live, so it claims a slot past
    the live blockers: exactly the race that could leave two live slots for one bucket.
    A spin barrier (no sleeping) starts both scans within about a microsecond.
    """
    limiter = SharedLimiter.attach(Path(path))
    now_sec = _RACE_T + 1 if worker % 2 else _RACE_T
    counter = arrived.get_obj()
    for round_ in range(_RACE_ROUNDS):
        with arrived.get_lock():
            counter.value += 1
        while counter.value < 2 * (round_ + 1):
            pass
        outcomes[worker * _RACE_ROUNDS + round_] = _quota.lib.gw_quota_take(
            limiter._table, limiter.nslots, _race_key(round_, 1), _RACE_T + 2, 1, 1, now_sec
        )
    limiter.close()


def test_racing_claims_that_disagree_on_a_stale_slot_grant_one_take(tmp_path: Path) -> None:
    path = tmp_path / "quota"
    parent = SharedLimiter.create(path, nslots=_RACE_SLOTS)
    take = _quota.lib.gw_quota_take
    for round_ in range(_RACE_ROUNDS):
        # The start slot: a blocker whose window ends at T; then live blockers.
        assert take(parent._table, _RACE_SLOTS, _race_key(round_, 2), _RACE_T, 1, 1, 0) == 1
        for b in range(_RACE_LIVE_BLOCKERS):
            key = _race_key(round_, 3 + b)
            assert take(parent._table, _RACE_SLOTS, key, 1 << 31, 1, 1, 0) == 1
    parent.close()
    context = multiprocessing.get_context("spawn")
    arrived = context.Value("q", 0)
    outcomes = context.Array("i", 2 * _RACE_ROUNDS, lock=False)
    workers = [
        context.Process(target=_claim_race, args=(str(path), w, arrived, outcomes))
        for w in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    per_round = [outcomes[r] + outcomes[_RACE_ROUNDS + r] for r in range(_RACE_ROUNDS)]
    assert set(outcomes[:]) <= {0, 1}
    assert per_round == [1] * _RACE_ROUNDS
