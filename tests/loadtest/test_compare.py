"""The compare tool's paired shares, on made-up rounds whose answers are known by hand."""

from __future__ import annotations

from collections import Counter

from loadtest.compare import Cell, medians, paired_shares, ratios, table
from loadtest.stats import Summary


def _cell(target: str, procs: int, op: str, rate: float, errors: int = 0) -> Cell:
    summary = Summary(
        requests=int(rate * 5),
        seconds=5.0,
        p50=0.001,
        p90=0.002,
        p99=0.003,
        max=0.004,
        errors=Counter({"ThrottlingException": errors}) if errors else Counter(),
    )
    return Cell(target, procs, op, summary)


def test_shares_pair_each_round_with_its_own_ceiling() -> None:
    rounds = [
        # A slow round: both halve, the share does not move.
        [_cell("ceiling", 1, "Encrypt-shaped", 10_000), _cell("gateway", 1, "Encrypt", 5_000)],
        [_cell("ceiling", 1, "Encrypt-shaped", 20_000), _cell("gateway", 1, "Encrypt", 10_000)],
        [_cell("ceiling", 1, "Encrypt-shaped", 20_000), _cell("gateway", 1, "Encrypt", 12_000)],
    ]
    text = paired_shares(rounds, ["Encrypt"])
    row = text.splitlines()[2]
    assert row == "| Encrypt | 50%, 50%, 60% | 50% | - | - |"


def test_the_gateway_is_also_shared_against_the_lane_ceiling() -> None:
    rounds = [
        [
            _cell("ceiling", 1, "Encrypt-shaped", 20_000),
            _cell("ceiling-lane", 1, "Encrypt-shaped", 25_000),
            _cell("gateway", 1, "Encrypt", 15_000),
        ],
    ]
    lines = paired_shares(rounds, ["Encrypt"]).splitlines()
    assert lines[2] == "| Encrypt | 75% | 75% | - | - |"
    assert lines[4].startswith("| operation | gw 1w / ceiling-lane 1p")
    assert lines[6] == "| Encrypt | 60% | 60% | - | - |"


def test_a_round_with_errors_or_a_missing_cell_is_left_out() -> None:
    rounds = [
        [_cell("ceiling", 2, "Encrypt-shaped", 10_000), _cell("gateway", 2, "Decrypt", 7_000)],
        [_cell("ceiling", 2, "Encrypt-shaped", 10_000), _cell("gateway", 2, "Decrypt", 9_000, 3)],
        [_cell("gateway", 2, "Decrypt", 9_000)],
    ]
    row = paired_shares(rounds, ["Decrypt"]).splitlines()[2]
    assert row == "| Decrypt | - | - | 70% | 70% |"


def test_sign_is_paired_with_the_same_rounds_encrypt() -> None:
    rounds = [
        [_cell("gateway", 1, "Encrypt", 10_000), _cell("gateway", 1, "Sign", 8_000)],
        # A slow round: both drop, the share does not move.
        [_cell("gateway", 1, "Encrypt", 5_000), _cell("gateway", 1, "Sign", 4_000)],
        [_cell("gateway", 1, "Encrypt", 10_000), _cell("gateway", 1, "Sign", 7_000)],
        [_cell("gateway", 2, "Encrypt", 10_000), _cell("gateway", 2, "Sign", 9_000)],
    ]
    lines = paired_shares(rounds, ["Encrypt", "Sign"]).splitlines()
    assert lines[-1] == "| Sign / Encrypt | 80%, 80%, 70% | 80% | 90% | 90% |"


def test_no_sign_row_without_both_operations() -> None:
    rounds = [[_cell("gateway", 1, "Encrypt", 10_000), _cell("gateway", 1, "Sign", 8_000)]]
    assert "Sign / Encrypt" not in paired_shares(rounds, ["Sign"])


def test_the_table_shows_how_the_connections_were_spread_least_even_round_first() -> None:
    rounds = []
    # The least even first; the largest tuple is another round's.
    for spread in ((16, 14), (17, 17), (16, 16)):
        cell = _cell("gateway", 2, "Encrypt", 10_000)
        assert cell.summary is not None
        cell.summary.connections = spread
        rounds.append([cell, _cell("gateway", 1, "Encrypt", 8_000)])
    merged = medians(rounds)
    assert merged[0].summary is not None and merged[0].summary.connections == (16, 14)
    two, one = table(merged, 32).splitlines()[2:]
    assert "| c=32 (16/14) |" in two
    assert "| c=32 |" in one  # one process: nothing to spread


def test_the_ratios_give_both_ceilings_in_req_s_and_cpu() -> None:
    cells = [
        _cell("ceiling", 1, "Encrypt-shaped", 20_000),
        _cell("ceiling-lane", 1, "Encrypt-shaped", 25_000),
        _cell("gateway", 1, "Encrypt", 15_000),
    ]
    for cell, cpu in zip(cells, (48e-6, 32e-6, 64e-6), strict=True):
        assert cell.summary is not None
        cell.summary.server_cpu_seconds = cpu * cell.summary.requests
    row = ratios(cells).splitlines()[2]
    assert "| 75% (75%) | - (-) | 60% (50%) | - (-) |" in row
