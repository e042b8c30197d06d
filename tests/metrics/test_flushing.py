"""When the hooks' tallies reach the metrics: on a timer, before a scrape, at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.config import Settings
from gateway.http.app import METRICS, create_app
from gateway.metrics.exposition import MULTIPROC_ENV
from gateway.metrics.flushing import flush_periodically
from gateway.metrics.usage import GatewayMetrics
from gateway.quotas.table import QuotaTable

ENCRYPT = {"operation": "Encrypt"}
REQUESTS = "gateway_request_duration_seconds_count"


def requests_seen(metrics: GatewayMetrics) -> float | None:
    return metrics.registry.get_sample_value(REQUESTS, ENCRYPT)


async def until(condition: Callable[[], bool], what: str) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), timeout=10)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


async def test_the_timer_flushes_again_and_again():
    metrics = GatewayMetrics(QuotaTable())
    task = asyncio.create_task(flush_periodically(metrics.flush, interval=0.001))
    try:
        metrics.observe_request("Encrypt", 0.001, None)
        await until(lambda: requests_seen(metrics) == 1, "the first timed flush")
        metrics.observe_request("Encrypt", 0.001, None)
        await until(lambda: requests_seen(metrics) == 2, "the next timed flush")
    finally:
        task.cancel()


async def test_a_failing_flush_is_logged_and_the_timer_goes_on(caplog):
    flushes = 0

    def flush() -> None:
        nonlocal flushes
        flushes += 1
        if flushes == 1:
            raise RuntimeError("disk full")

    task = asyncio.create_task(flush_periodically(flush, interval=0.001))
    try:
        with caplog.at_level(logging.ERROR, logger="gateway.metrics.flushing"):
            await until(lambda: flushes >= 2, "the flush after the failed one")
    finally:
        task.cancel()
    assert "metrics flush failed" in caplog.text


# --- the app's flush points ------------------------------------------------------------

@pytest.fixture
async def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    client = TestClient(TestServer(create_app(Settings(data_dir=data_dir))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_a_scrape_flushes_its_worker_first(client):
    metrics = client.app[METRICS]
    metrics.observe_request("Encrypt", 0.001, None)
    response = await client.get("/metrics")
    text = await response.text()
    assert 'gateway_request_duration_seconds_count{operation="Encrypt"} 1.0' in text


async def test_shutdown_flushes_what_was_counted_since_the_last_flush(client):
    metrics = client.app[METRICS]
    metrics.observe_request("Encrypt", 0.001, None)
    assert requests_seen(metrics) is None
    await client.close()
    assert requests_seen(metrics) == 1


async def test_with_several_workers_the_app_flushes_on_a_timer(tmp_path, monkeypatch):
    # prometheus-client chose its in-process values at import, so the flushed values
    # show in the app's registry rather than in the (empty) shared directory.
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    client = TestClient(TestServer(create_app(Settings(data_dir=data_dir))))
    await client.start_server()
    try:
        metrics = client.app[METRICS]
        metrics.observe_request("Encrypt", 0.001, None)
        await until(lambda: requests_seen(metrics) == 1, "the worker's timed flush")
    finally:
        await client.close()
