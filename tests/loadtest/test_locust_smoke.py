"""The locustfile runs headless against a live gateway: requests made, nothing fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.server import ACCESS_KEY_ID, SECRET_ACCESS_KEY, GatewayProcess

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"

pytestmark = pytest.mark.skipif(
    shutil.which("locust") is None, reason="locust is not installed (pip install locust)"
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    server = GatewayProcess(tmp_path_factory.mktemp("locust") / "data").start()
    yield server
    server.stop()


def _run_locust(url: str, seconds: int = 4) -> list[dict]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KMS_LOADTEST_", "AWS_"))},
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": "us-east-1",
        "KMS_LOADTEST_CONTEXT": '{"purpose": "smoke"}',
    }
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "4",
         "-r", "4", "--run-time", f"{seconds}s", "--host", url, "--json", "--only-summary",
         "--stop-timeout", "5"],
        env=env, capture_output=True, text=True, timeout=90, cwd=ROOT,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    stats = json.loads(result.stdout)
    assert isinstance(stats, list), result.stdout[-2000:]
    return stats


def test_default_mix_makes_requests_without_failures(gateway: GatewayProcess) -> None:
    stats = _run_locust(gateway.url)
    by_name = {entry["name"]: entry for entry in stats}
    # Throttling is reported under its own name and never as a failure.
    failures = {name: e["num_failures"] for name, e in by_name.items() if e["num_failures"]}
    assert failures == {}, stats
    made = {name.split(" [")[0] for name, e in by_name.items() if e["num_requests"] > 0}
    assert {"GenerateDataKey", "Decrypt", "Encrypt", "ReEncrypt"} <= made
    assert sum(e["num_requests"] for e in stats) >= 40
