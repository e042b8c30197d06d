"""The parts A/B: its summary on known figures, and the ablated gateway it drives."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from loadtest import servers, workload
from loadtest.ab_parts import table
from loadtest.ablated_gateway import serve_argv
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, Signer


def test_table_pairs_savings_and_shares_within_each_round() -> None:
    rounds = {
        "ceiling": [(20_000.0, 50.0), (10_000.0, 100.0), (20_000.0, 50.0)],
        "gateway": [(12_000.0, 80.0), (6_000.0, 160.0), (13_000.0, 76.0)],
        "without sigv4": [(15_000.0, 66.0), (7_000.0, 140.0), (16_000.0, 62.0)],
    }
    lines = table(rounds)
    rows = {line.split("|")[1].strip(): line for line in lines[2:]}
    assert rows["ceiling"].endswith("| 50.0 | - | - | - |")
    # Shares of each round's own ceiling: 60 %, 60 %, 65 %; the slow round does not move it.
    assert rows["gateway"].endswith("| 60%, 60%, 65% | 60% |")
    # Saved against the same round's whole gateway: 14, 20, 14 µs, median 14.
    assert "| 66.0, 140.0, 62.0 | 66.0 | 14.0 | 75%, 70%, 80% | 75% |" in rows["without sigv4"]


def test_the_ablated_gateway_is_forced_onto_loopback_and_one_worker() -> None:
    argv = serve_argv(["serve", "--host", "0.0.0.0", "--workers", "4", "--port", "9"])
    # argparse keeps an option's last value: the forced ones come last.
    assert argv[-4:] == ["--host", "127.0.0.1", "--workers", "1"]
    with pytest.raises(SystemExit):
        serve_argv(["create-access-key"])


def _encrypt_with_a_wrong_signature(signer: Signer, key_id: str) -> int:
    request = signer.sign(
        "Encrypt", {"KeyId": key_id, "Plaintext": base64.b64encode(b"x" * 32).decode()}
    )
    headers = dict(request.headers)
    auth = headers["Authorization"]
    headers["Authorization"] = auth[: -len("0" * 64)] + "0" * 64
    http = urllib.request.Request(signer.url + "/", data=request.body, headers=headers)
    try:
        with urllib.request.urlopen(http, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        assert json.loads(err.read())["__type"] == "InvalidSignatureException"
        return int(err.code)


def test_without_sigv4_over_http_the_stand_in_takes_the_signature_check_out(
    tmp_path: Path,
) -> None:
    # What the tool measures must be what it says: the whole gateway refuses a wrong
    # signature, the ablated one (after its first, real, authentication) does not check it.
    config = servers.unthrottled_config(tmp_path)
    statuses = {}
    for without in ("", "sigv4"):
        data = tmp_path / f"data-{without or 'whole'}"
        with servers.gateway(data, 1, config, without=without) as server:
            signer = Signer(server.url, Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY))
            key_id = workload.create_key(signer)
            statuses[without] = _encrypt_with_a_wrong_signature(signer, key_id)
    assert statuses == {"": 400, "sigv4": 200}
