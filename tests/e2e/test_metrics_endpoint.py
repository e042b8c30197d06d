"""GET /metrics of a real gateway, one worker and two: known traffic, exact counts.

With two workers every request is sent over a connection pinned to a known worker, half
to each, and /metrics is read through both: each answer must hold the sums.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import ACCOUNT, GatewayProcess
from tests.e2e.test_workers import (
    PinnedKms,
    error_type,
    listening_workers,
    serving_worker,
    wait_until,
)

ENCRYPTS = 12
DATA_KEYS = 7
NOT_FOUND = 4
DESCRIBE_BURST = 10
DESCRIBE_QUOTA = 2
REGION = "us-east-1"
SECRET = b"metrics-e2e-plaintext-" + os.urandom(8).hex().encode()


class Connection(PinnedKms):
    """Signed KMS requests over one kept-alive connection (so: one worker), plus scrapes."""

    def get(self, path: str) -> str:
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        body = response.read().decode()
        assert response.status == 200, body
        return body


@dataclass
class Traffic:
    workers: int
    scrapes: list[str]  # /metrics as read through each connection (each worker)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    secrets: list[bytes] = field(default_factory=list)  # every plaintext sent or received


def _connections(server: GatewayProcess, workers: int) -> tuple[list[Connection], list[Connection]]:
    """(one connection per worker, every connection opened)."""
    if workers == 1:
        conn = Connection(server)
        return [conn], [conn]
    wait_until(lambda: len(listening_workers(server)) == workers, 20, "every worker to listen")
    by_worker: dict[int, Connection] = {}
    opened: list[Connection] = []
    for _ in range(64):
        conn = Connection(server)
        opened.append(conn)
        conn.get("/healthz")  # the worker has accepted the connection once it answers
        pid = serving_worker(server, conn.local_port)
        if pid is not None and pid not in by_worker:
            by_worker[pid] = conn
        if len(by_worker) == workers:
            break
    assert len(by_worker) == workers, f"64 connections were all served by {list(by_worker)}"
    return list(by_worker.values()), opened


def _send(conns: list[Connection], traffic: Traffic) -> None:
    turn = iter(range(1_000_000))

    def call(action: str, **params: object) -> dict:
        conn = conns[next(turn) % len(conns)]  # alternate between the workers
        status, result = conn.call(action, **params)
        outcome = "ok" if status == 200 else error_type(result)
        traffic.outcomes[(action, outcome)] += 1
        return result

    keys = [call("CreateKey", Description=f"metrics {i}")["KeyMetadata"]["KeyId"]
            for i in range(4)]
    used, _, disabled, doomed = keys
    call("DisableKey", KeyId=disabled)
    call("ScheduleKeyDeletion", KeyId=doomed, PendingWindowInDays=7)
    traffic.secrets.append(SECRET)
    plaintext = base64.b64encode(SECRET).decode()
    for _ in range(ENCRYPTS):
        assert "CiphertextBlob" in call("Encrypt", KeyId=used, Plaintext=plaintext)
    for _ in range(DATA_KEYS):
        result = call("GenerateDataKey", KeyId=used, NumberOfBytes=32)
        traffic.secrets.append(base64.b64decode(result["Plaintext"]))
    for _ in range(NOT_FOUND):
        call("Encrypt", KeyId=str(uuid.uuid4()), Plaintext=plaintext)
    call("Encrypt", KeyId=doomed, Plaintext=plaintext)  # "<arn> is pending deletion."
    call("Encrypt", KeyId=disabled, Plaintext=plaintext)
    for _ in range(DESCRIBE_BURST):
        call("DescribeKey", KeyId=used)


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def traffic(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    workers: int = request.param
    tmp = tmp_path_factory.mktemp(f"metrics-{workers}")
    config = tmp / "gateway.toml"
    config.write_text(f'[[quota]]\nname = "kms:DescribeKey"\nvalue = {DESCRIBE_QUOTA}\n')
    server = GatewayProcess(
        tmp / "data", workers=workers, extra_args=["--config", str(config)],
        # Keys scheduled for deletion stay PendingDeletion for the whole test.
        extra_env={"GATEWAY_DELETION_DAY_SECONDS": "86400"},
    )
    opened: list[Connection] = []
    try:
        server.start()
        conns, opened = _connections(server, workers)
        traffic = Traffic(workers, scrapes=[])
        _send(conns, traffic)
        # A worker's counts reach the other workers' scrapes on its flush timer (0.5 s).
        # The DescribeKey burst went last, to every worker: once each scrape counts all
        # of it, each worker's flush has brought everything sent before it too.
        # Live gauges (requests in flight, crypto queues) are sampled on a timer of their
        # own (0.5 s): a sample taken during the burst may still be the latest for a while.
        wait_until(
            lambda: all(_settled(conn.get("/metrics")) for conn in conns),
            10, "every worker's counts in the shared metric files, and its gauges at rest",
        )
        traffic.scrapes = [conn.get("/metrics") for conn in conns]
        yield traffic
    finally:
        for conn in opened:
            conn.close()
        server.stop()


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _settled(text: str) -> bool:
    values = parse(text)
    at_rest = all(
        values.get((name, frozenset())) == 0
        for name in (
            "gateway_in_flight_requests",
            "gateway_crypto_queue_depth",
            "gateway_crypto_in_flight",
        )
    )
    return at_rest and _describes(text) == DESCRIBE_BURST


def _describes(text: str) -> float | None:
    labels = frozenset({"operation": "DescribeKey"}.items())
    return parse(text).get(("gateway_request_duration_seconds_count", labels))


def usage(resource: str, cls: str = "None") -> dict[str, str]:
    return {"service": "KMS", "type": "API", "resource": resource, "class": cls,
            "account": ACCOUNT, "region": REGION}


def each_scrape(traffic: Traffic) -> Iterator[Callable[..., float | None]]:
    assert len(traffic.scrapes) == traffic.workers
    for text in traffic.scrapes:
        values = parse(text)
        yield lambda name, labels=None, _v=values: _v.get(
            (name, frozenset((labels or {}).items()))
        )


def test_the_traffic_went_as_planned(traffic):
    o = traffic.outcomes
    assert o[("Encrypt", "ok")] == ENCRYPTS
    assert o[("GenerateDataKey", "ok")] == DATA_KEYS
    assert o[("Encrypt", "NotFoundException")] == NOT_FOUND
    assert o[("Encrypt", "KMSInvalidStateException")] == 1
    assert o[("Encrypt", "DisabledException")] == 1
    assert o[("DescribeKey", "ThrottlingException")] >= 1, "the burst was never throttled"
    assert o[("DescribeKey", "ok")] >= 1


def test_call_counts_are_exact_and_summed_over_workers(traffic):
    # Encrypt counts against its key's quota, charged once the key is found: the calls
    # refused for a key's state count, the calls naming no key do not.
    encrypts = ENCRYPTS + 2
    for value in each_scrape(traffic):
        call_count = "aws_usage_call_count_total"
        assert value(call_count, usage("Encrypt", "Symmetric")) == encrypts
        assert value(call_count, usage("GenerateDataKey", "Symmetric")) == DATA_KEYS
        assert value(call_count, usage("DescribeKey")) == DESCRIBE_BURST
        assert value(call_count, usage("CreateKey")) == 4
        assert value(call_count, usage("DisableKey")) == 1
        assert value(call_count, usage("ScheduleKeyDeletion")) == 1
        assert value("aws_usage_service_quota", usage("DescribeKey")) == DESCRIBE_QUOTA
        assert value("aws_usage_service_quota", usage("Encrypt", "Symmetric")) == 50_000
        assert value("aws_usage_service_quota", usage("CreateKey")) == 5


def test_throttles_and_errors_match_what_the_clients_saw(traffic):
    throttled = traffic.outcomes[("DescribeKey", "ThrottlingException")]
    for value in each_scrape(traffic):
        assert value(
            "gateway_throttled_requests_total",
            {"quota": "kms:DescribeKey", "operation": "DescribeKey"},
        ) == throttled

        def errors(operation: str, error: str, _value=value) -> float | None:
            return _value("gateway_errors_total", {"operation": operation, "error_type": error})

        assert errors("DescribeKey", "ThrottlingException") == throttled
        assert errors("Encrypt", "NotFoundException") == NOT_FOUND
        assert errors("Encrypt", "KMSInvalidStateException") == 1
        assert errors("Encrypt", "DisabledException") == 1
        assert errors("GenerateDataKey", "NotFoundException") is None
        refusals = "gateway_key_state_refusals_total"
        assert value(refusals, {"operation": "Encrypt", "key_state": "PendingDeletion"}) == 1
        assert value(refusals, {"operation": "Encrypt", "key_state": "Disabled"}) == 1


def test_latency_and_batch_histograms_count_every_request(traffic):
    for value in each_scrape(traffic):
        def count(operation: str, _value=value) -> float | None:
            return _value("gateway_request_duration_seconds_count", {"operation": operation})

        assert count("Encrypt") == ENCRYPTS + NOT_FOUND + 2
        assert count("GenerateDataKey") == DATA_KEYS
        assert count("DescribeKey") == DESCRIBE_BURST
        assert count("CreateKey") == 4
        assert value(
            "gateway_request_duration_seconds_bucket", {"operation": "Encrypt", "le": "+Inf"}
        ) == ENCRYPTS + NOT_FOUND + 2
        # Sequential requests: every Encrypt and GenerateDataKey seals one item.
        assert value("gateway_crypto_batch_size_sum", {"operation": "seal"}) == (
            ENCRYPTS + DATA_KEYS
        )


def test_keys_per_state_match_the_store(traffic):
    for value in each_scrape(traffic):
        def keys(state: str, _value=value) -> float | None:
            return _value(
                "gateway_kms_keys", {"account": ACCOUNT, "region": REGION, "state": state}
            )

        assert keys("Enabled") == 2
        assert keys("Disabled") == 1
        assert keys("PendingDeletion") == 1


def test_live_gauges_are_exported(traffic):
    for value in each_scrape(traffic):
        assert value("gateway_in_flight_requests") == 0
        assert value("gateway_crypto_queue_depth") == 0
        assert value("gateway_crypto_in_flight") == 0
        assert (value("gateway_worker_resident_memory_bytes") or 0) > 0
    if traffic.workers == 1:
        assert "process_resident_memory_bytes" in traffic.scrapes[0]


def test_no_plaintext_reaches_metrics(traffic):
    assert len(traffic.secrets) == 1 + DATA_KEYS
    for text in traffic.scrapes:
        label_values = {
            v for family in text_string_to_metric_families(text)
            for s in family.samples for v in s.labels.values()
        }
        for secret in traffic.secrets:
            for form in (secret.hex(), base64.b64encode(secret).decode()):
                assert form not in text
            assert base64.b64encode(secret).decode() not in label_values
        assert SECRET.decode() not in text


def test_metrics_is_prometheus_text(traffic):
    # Every line is a comment or a sample the parser accepts (it raises otherwise).
    for text in traffic.scrapes:
        families = list(text_string_to_metric_families(text))
        assert {f.name for f in families} >= {
            "aws_usage_call_count", "aws_usage_service_quota", "gateway_throttled_requests",
            "gateway_errors", "gateway_request_duration_seconds", "gateway_crypto_batch_size",
            "gateway_crypto_batch_duration_seconds", "gateway_kms_keys",
            "aws_kms_seconds_until_key_material_expiration",
            "aws_certificatemanager_days_to_expiry",
        }
