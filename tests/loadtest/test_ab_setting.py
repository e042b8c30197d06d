"""The A/B summary table on known figures."""

from __future__ import annotations

from loadtest.ab_setting import table


def test_table_gives_medians_and_paired_shares():
    runs = {
        "256": [
            {"Encrypt": (10_000.0, 80.0), "Sign": (9_000.0, 100.0)},
            {"Encrypt": (12_000.0, 70.0), "Sign": (9_600.0, 110.0)},
            {"Encrypt": (8_000.0, 90.0), "Sign": (7_600.0, None)},
        ],
        "0": [
            {"Encrypt": (10_000.0, None), "Sign": (7_000.0, None)},
        ],
    }
    lines = table("GATEWAY_ECDSA_PRECOMPUTE", ["Encrypt", "Sign"], runs)
    assert lines[0].startswith("| GATEWAY_ECDSA_PRECOMPUTE | operation |")
    rows = {tuple(cell.strip() for cell in line.split("|")[1:3]): line for line in lines[2:]}
    # Sign's share is paired per run: 90 %, 80 %, 95 %, median 90 %.
    assert rows[("256", "Sign")].endswith("| 90%, 80%, 95% | 90% |")
    assert "| 9,000, 9,600, 7,600 | 9,000 | 105 |" in rows[("256", "Sign")]
    assert "| 10,000, 12,000, 8,000 | 10,000 | 80 |" in rows[("256", "Encrypt")]
    assert "| 7,000 | 7,000 | - | 70% | 70% |" in rows[("0", "Sign")]
