"""render() and the live values: one process, and several processes sharing files.

prometheus-client picks its value class when it is imported, from PROMETHEUS_MULTIPROC_DIR,
so each multiprocess case runs in fresh child interpreters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import ProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics.exposition import MULTIPROC_ENV, multiprocess_dir, render
from gateway.metrics.live import LiveValue, register_live_values
from gateway.metrics.stored import StoredSnapshot
from gateway.metrics.usage import GatewayMetrics
from gateway.quotas.table import SYMMETRIC, QuotaTable

ACCOUNT = "111122223333"
ROOT = Path(__file__).resolve().parents[2]
ENCRYPT = {"service": "KMS", "type": "API", "resource": "Encrypt", "class": "Symmetric",
           "account": ACCOUNT, "region": "us-east-1"}
LIVE_NAMES = ("gateway_in_flight_requests", "gateway_crypto_queue_depth")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(text: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    return samples(text).get((name, frozenset((labels or {}).items())))


class Counts:
    """Stands in for the endpoint and the batcher: plain attributes read at scrape time."""

    in_flight = 0
    pending = 0


def test_live_values_are_read_when_scraped_not_when_registered(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    metrics = GatewayMetrics(QuotaTable())
    counts = Counts()
    register_live_values(metrics.registry, [
        LiveValue("gateway_in_flight_requests", "in flight", lambda: counts.in_flight),
        LiveValue("gateway_crypto_queue_depth", "queued", lambda: counts.pending),
    ])
    counts.in_flight, counts.pending = 3, 17
    first = render(metrics.registry, StoredSnapshot()).decode()
    counts.in_flight, counts.pending = 0, 2
    second = render(metrics.registry, StoredSnapshot()).decode()

    assert sample(first, "gateway_in_flight_requests") == 3
    assert sample(first, "gateway_crypto_queue_depth") == 17
    assert sample(second, "gateway_in_flight_requests") == 0
    assert sample(second, "gateway_crypto_queue_depth") == 2


def test_single_process_render_has_the_app_registry_the_store_and_process_metrics(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    assert multiprocess_dir() is None
    metrics = GatewayMetrics(QuotaTable())
    ProcessCollector(registry=metrics.registry)
    metrics.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Encrypt", False)
    metrics.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Encrypt", False)
    metrics.observe_request("Encrypt", 0.001, None)
    metrics.flush()
    stored = StoredSnapshot(key_states=[(ACCOUNT, "us-east-1", "Enabled", 4)])

    text = render(metrics.registry, stored).decode()

    assert sample(text, "aws_usage_call_count_total", ENCRYPT) == 2
    assert sample(text, "aws_usage_service_quota", ENCRYPT) == 50_000
    assert sample(text, "gateway_request_duration_seconds_count", {"operation": "Encrypt"}) == 1
    assert sample(
        text, "gateway_kms_keys", {"account": ACCOUNT, "region": "us-east-1", "state": "Enabled"}
    ) == 4
    assert (sample(text, "process_resident_memory_bytes") or 0) > 0
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"aws_kms_seconds_until_key_material_expiration",
            "aws_certificatemanager_days_to_expiry"} <= names


def test_an_empty_multiproc_dir_variable_means_single_process(monkeypatch):
    monkeypatch.setenv(MULTIPROC_ENV, "")
    assert multiprocess_dir() is None


# --- multiprocess mode ------------------------------------------------------------------

_WORKER = """
import asyncio, sys
from gateway.metrics.live import LiveValue, sample_live_values
from gateway.metrics.usage import GatewayMetrics
from gateway.quotas.table import SYMMETRIC, QuotaTable

encrypts, in_flight = int(sys.argv[1]), float(sys.argv[2])
metrics = GatewayMetrics(QuotaTable())
for _ in range(encrypts):
    metrics.on_charge("111122223333", "us-east-1", SYMMETRIC, "Encrypt", False)
    metrics.observe_request("Encrypt", 0.0003, None)
metrics.on_charge("111122223333", "us-east-1", "kms:DescribeKey", "DescribeKey", True)
metrics.observe_request("DescribeKey", 0.0001, "ThrottlingException")
metrics.on_batch("seal", encrypts, 0.00002)
metrics.flush()  # into the shared files, as the worker's timer and its shutdown do
values = [
    LiveValue("gateway_in_flight_requests", "in flight", lambda: in_flight),
    LiveValue("gateway_crypto_queue_depth", "queued", lambda: 2 * in_flight),
]

async def publish_once():
    task = asyncio.create_task(sample_live_values(metrics.registry, values, interval=60))
    await asyncio.sleep(0.05)  # the sampler sets its gauges before its first sleep
    task.cancel()

asyncio.run(publish_once())
"""

_RENDER = """
import json, sys
from prometheus_client import multiprocess
from gateway.metrics.exposition import render
from gateway.metrics.stored import StoredSnapshot
from gateway.metrics.usage import GatewayMetrics
from gateway.quotas.table import QuotaTable

stored = StoredSnapshot(key_states=[("111122223333", "us-east-1", "Enabled", 5)])
# The scraping worker has its own registry and values; the files hold everyone's.
before = render(GatewayMetrics(QuotaTable()).registry, stored).decode()
multiprocess.mark_process_dead(int(sys.argv[1]))
after = render(GatewayMetrics(QuotaTable()).registry, stored).decode()
print(json.dumps([before, after]))
"""


def _child(code: str, args: list[str], directory: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, MULTIPROC_ENV: str(directory)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )


@pytest.fixture(scope="module")
def multiprocess_scrape(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    directory = tmp_path_factory.mktemp("multiproc")
    first = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_WORKER), "3", "1"],
        cwd=ROOT, env={**os.environ, MULTIPROC_ENV: str(directory)},
    )
    second = _child(_WORKER, ["5", "4"], directory)
    assert second.returncode == 0
    assert first.wait(timeout=60) == 0
    rendered = _child(_RENDER, [str(first.pid)], directory)
    before, after = json.loads(rendered.stdout)
    return before, after


def test_multiprocess_render_sums_every_processs_counters(multiprocess_scrape):
    text, _ = multiprocess_scrape
    assert sample(text, "aws_usage_call_count_total", ENCRYPT) == 8
    describe = {**ENCRYPT, "resource": "DescribeKey", "class": "None"}
    assert sample(text, "aws_usage_call_count_total", describe) == 2
    assert sample(
        text, "gateway_throttled_requests_total",
        {"quota": "kms:DescribeKey", "operation": "DescribeKey"},
    ) == 2
    assert sample(
        text, "gateway_errors_total",
        {"operation": "DescribeKey", "error_type": "ThrottlingException"},
    ) == 2


def test_multiprocess_render_sums_histograms(multiprocess_scrape):
    text, _ = multiprocess_scrape
    encrypt = {"operation": "Encrypt"}
    assert sample(text, "gateway_request_duration_seconds_count", encrypt) == 8
    assert sample(text, "gateway_request_duration_seconds_bucket", {**encrypt, "le": "0.0005"}) == 8
    assert sample(text, "gateway_request_duration_seconds_bucket", {**encrypt, "le": "0.0002"}) == 0
    assert sample(text, "gateway_crypto_batch_size_count", {"operation": "seal"}) == 2
    assert sample(text, "gateway_crypto_batch_size_sum", {"operation": "seal"}) == 8


def test_multiprocess_quota_gauge_is_the_quota_not_a_sum_over_workers(multiprocess_scrape):
    text, _ = multiprocess_scrape
    assert sample(text, "aws_usage_service_quota", ENCRYPT) == 50_000


def test_multiprocess_live_values_add_up_and_a_dead_worker_stops_counting(multiprocess_scrape):
    before, after = multiprocess_scrape
    assert sample(before, "gateway_in_flight_requests") == 5
    assert sample(before, "gateway_crypto_queue_depth") == 10
    assert sample(after, "gateway_in_flight_requests") == 4
    assert sample(after, "gateway_crypto_queue_depth") == 8
    # Counters keep a dead worker's counts: they happened.
    assert sample(after, "aws_usage_call_count_total", ENCRYPT) == 8


def test_multiprocess_render_has_the_stored_families_once(multiprocess_scrape):
    text, _ = multiprocess_scrape
    assert sample(
        text, "gateway_kms_keys", {"account": ACCOUNT, "region": "us-east-1", "state": "Enabled"}
    ) == 5
    assert text.count("# TYPE gateway_kms_keys gauge") == 1
    # Multiprocess mode has no per-process collector: its figures are the live gauges.
    assert "process_resident_memory_bytes" not in text
    assert "_created" not in text
