"""The in-process handler benchmark drives real signed requests through the endpoint."""

from __future__ import annotations

import pytest

from loadtest import bench_handler
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY


@pytest.mark.parametrize("op", bench_handler.OPS)
async def test_every_operation_is_answered_without_an_error(op: str, monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    monkeypatch.setenv("GATEWAY_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
    # _measure stops with SystemExit if any answer is an AWS error.
    samples = await bench_handler._measure(op, rounds=1, concurrency=4)
    assert len(samples) == bench_handler.LOTS_PER_ROUND
    assert all(sample > 0 for sample in samples)
