"""GatewayMetrics: every family's values after known calls of its hooks and a flush."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics.usage import (
    BATCH_BUCKETS,
    BATCH_SECONDS_BUCKETS,
    LATENCY_BUCKETS,
    GatewayMetrics,
)
from gateway.quotas.table import (
    ECC,
    KEY_STATE_CHANGES,
    SYMMETRIC,
    Override,
    QuotaTable,
    key_pair_quota,
)

ACCOUNT = "111122223333"


def usage(operation: str, cls: str = "None", account: str = ACCOUNT,
          region: str = "us-east-1") -> dict[str, str]:
    return {"service": "KMS", "type": "API", "resource": operation, "class": cls,
            "account": account, "region": region}


@pytest.fixture
def metrics() -> GatewayMetrics:
    return GatewayMetrics(QuotaTable())


def value(metrics: GatewayMetrics, name: str, labels: dict[str, str] | None = None) -> float:
    metrics.flush()  # as a scrape does
    found = metrics.registry.get_sample_value(name, labels or {})
    assert found is not None, f"no sample {name}{labels}"
    return found


def test_call_count_counts_each_charge_per_resource_class_account_and_region(metrics):
    for _ in range(3):
        metrics.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Encrypt", False)
    metrics.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Decrypt", False)
    metrics.on_charge(ACCOUNT, "eu-north-1", SYMMETRIC, "Encrypt", False)
    metrics.on_charge("444455556666", "us-east-1", SYMMETRIC, "Encrypt", False)
    metrics.on_charge(ACCOUNT, "us-east-1", "kms:DescribeKey", "DescribeKey", False)
    metrics.on_charge(ACCOUNT, "us-east-1", ECC, "Sign", False)

    name = "aws_usage_call_count_total"
    assert value(metrics, name, usage("Encrypt", "Symmetric")) == 3
    assert value(metrics, name, usage("Decrypt", "Symmetric")) == 1
    assert value(metrics, name, usage("Encrypt", "Symmetric", region="eu-north-1")) == 1
    assert value(metrics, name, usage("Encrypt", "Symmetric", account="444455556666")) == 1
    assert value(metrics, name, usage("DescribeKey")) == 1
    assert value(metrics, name, usage("Sign", "ECC")) == 1


def test_service_quota_is_the_quota_the_resource_counts_against_per_second(metrics):
    metrics.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Encrypt", False)
    metrics.on_charge(ACCOUNT, "eu-north-1", SYMMETRIC, "Encrypt", False)
    metrics.on_charge(ACCOUNT, "us-east-2", SYMMETRIC, "GenerateDataKey", False)
    metrics.on_charge(ACCOUNT, "us-east-1", "kms:DescribeKey", "DescribeKey", False)
    pair = key_pair_quota("RSA_4096")
    metrics.on_charge(ACCOUNT, "us-east-1", pair, "GenerateDataKeyPair", False)

    name = "aws_usage_service_quota"
    assert value(metrics, name, usage("Encrypt", "Symmetric")) == 50_000
    assert value(metrics, name, usage("Encrypt", "Symmetric", region="eu-north-1")) == 5_500
    assert value(metrics, name, usage("GenerateDataKey", "Symmetric", region="us-east-2")) == 10_000
    assert value(metrics, name, usage("DescribeKey")) == 2000
    assert value(metrics, name, usage("GenerateDataKeyPair")) == 0.1


def test_service_quota_follows_the_config_overrides():
    table = QuotaTable([
        Override("kms:DescribeKey", 2),
        Override(SYMMETRIC, 40, account=ACCOUNT, region="us-east-1"),
    ])
    metrics = GatewayMetrics(table)
    metrics.on_charge(ACCOUNT, "us-east-1", "kms:DescribeKey", "DescribeKey", False)
    metrics.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Encrypt", False)
    metrics.on_charge(ACCOUNT, "us-west-2", SYMMETRIC, "Encrypt", False)

    assert value(metrics, "aws_usage_service_quota", usage("DescribeKey")) == 2
    assert value(metrics, "aws_usage_service_quota", usage("Encrypt", "Symmetric")) == 40
    assert value(
        metrics, "aws_usage_service_quota", usage("Encrypt", "Symmetric", region="us-west-2")
    ) == 50_000


def test_a_throttled_charge_counts_as_a_throttle_and_as_a_call(metrics):
    metrics.on_charge(ACCOUNT, "us-east-1", "kms:DescribeKey", "DescribeKey", False)
    metrics.on_charge(ACCOUNT, "us-east-1", "kms:DescribeKey", "DescribeKey", True)
    metrics.on_charge(ACCOUNT, "us-east-1", "kms:DescribeKey", "DescribeKey", True)

    throttled = {"quota": "kms:DescribeKey", "operation": "DescribeKey"}
    assert value(metrics, "gateway_throttled_requests_total", throttled) == 2
    assert value(metrics, "aws_usage_call_count_total", usage("DescribeKey")) == 3


def test_hot_key_throttles_are_counted_but_are_not_an_aws_usage_resource(metrics):
    metrics.on_charge(ACCOUNT, "us-east-1", KEY_STATE_CHANGES, "KeyStateChange", True)

    throttled = {"quota": KEY_STATE_CHANGES, "operation": "KeyStateChange"}
    assert value(metrics, "gateway_throttled_requests_total", throttled) == 1
    metrics.flush()
    families = {f.name for f in metrics.registry.collect() if f.samples}
    assert "aws_usage_call_count" not in families
    assert "aws_usage_service_quota" not in families


def test_observe_request_fills_the_latency_histogram_and_counts_errors(metrics):
    for seconds in (0.0001, 0.0004, 0.003, 0.2):
        metrics.observe_request("Encrypt", seconds, None)
    metrics.observe_request("Encrypt", 0.001, "NotFoundException")
    metrics.observe_request("Encrypt", 0.001, "NotFoundException")
    metrics.observe_request("-", 0.0005, "UnrecognizedClientException")

    hist = "gateway_request_duration_seconds"
    encrypt = {"operation": "Encrypt"}
    assert value(metrics, f"{hist}_count", encrypt) == 6
    assert value(metrics, f"{hist}_sum", encrypt) == pytest.approx(0.2055)
    assert value(metrics, f"{hist}_bucket", {**encrypt, "le": "0.0002"}) == 1
    assert value(metrics, f"{hist}_bucket", {**encrypt, "le": "0.0005"}) == 2
    assert value(metrics, f"{hist}_bucket", {**encrypt, "le": "0.001"}) == 4
    assert value(metrics, f"{hist}_bucket", {**encrypt, "le": "0.005"}) == 5
    assert value(metrics, f"{hist}_bucket", {**encrypt, "le": "0.1"}) == 5
    assert value(metrics, f"{hist}_bucket", {**encrypt, "le": "+Inf"}) == 6
    errors = "gateway_errors_total"
    assert value(metrics, errors, {"operation": "Encrypt", "error_type": "NotFoundException"}) == 2
    assert value(
        metrics, errors, {"operation": "-", "error_type": "UnrecognizedClientException"}
    ) == 1
    # A success is not an error of any type.
    assert sum(
        s.value for f in metrics.registry.collect() if f.name == "gateway_errors"
        for s in f.samples if s.name == errors
    ) == 3


def test_on_batch_records_items_and_native_seconds_per_operation(metrics):
    metrics.on_batch("seal", 1, 0.00002)
    metrics.on_batch("seal", 16, 0.0003)
    metrics.on_batch("seal", 300, 0.002)
    metrics.on_batch("sign", 4, 0.00008)

    size = "gateway_crypto_batch_size"
    assert value(metrics, f"{size}_count", {"operation": "seal"}) == 3
    assert value(metrics, f"{size}_sum", {"operation": "seal"}) == 317
    assert value(metrics, f"{size}_bucket", {"operation": "seal", "le": "1.0"}) == 1
    assert value(metrics, f"{size}_bucket", {"operation": "seal", "le": "16.0"}) == 2
    assert value(metrics, f"{size}_bucket", {"operation": "seal", "le": "256.0"}) == 2
    assert value(metrics, f"{size}_bucket", {"operation": "seal", "le": "512.0"}) == 3
    assert value(metrics, f"{size}_sum", {"operation": "sign"}) == 4
    seconds = "gateway_crypto_batch_duration_seconds"
    assert value(metrics, f"{seconds}_count", {"operation": "seal"}) == 3
    assert value(metrics, f"{seconds}_sum", {"operation": "seal"}) == pytest.approx(0.00232)
    assert value(metrics, f"{seconds}_bucket", {"operation": "sign", "le": "0.0001"}) == 1


def test_the_text_exposition_has_the_documented_names_types_and_buckets(metrics):
    metrics.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Encrypt", True)
    metrics.observe_request("Encrypt", 0.001, "ThrottlingException")
    metrics.on_batch("seal", 2, 0.0001)
    metrics.flush()

    text = generate_latest(metrics.registry).decode()
    # prometheus-client also writes a "<name>_created" gauge per counter and histogram
    # child in one process (not in multiprocess mode); those are its own, not ours.
    types = {
        f.name: f.type for f in text_string_to_metric_families(text)
        if not f.name.endswith("_created")
    }
    assert types == {
        "aws_usage_call_count": "counter",
        "aws_usage_service_quota": "gauge",
        "gateway_throttled_requests": "counter",
        "gateway_errors": "counter",
        "gateway_key_state_refusals": "counter",
        "gateway_request_duration_seconds": "histogram",
        "gateway_crypto_batch_size": "histogram",
        "gateway_crypto_batch_duration_seconds": "histogram",
    }
    assert "aws_usage_call_count_total{" in text
    buckets = [
        float(s.labels["le"])
        for f in text_string_to_metric_families(text)
        if f.name == "gateway_request_duration_seconds"
        for s in f.samples if s.name.endswith("_bucket")
    ]
    assert buckets == [*LATENCY_BUCKETS, float("inf")]
    batch_buckets = [
        float(s.labels["le"])
        for f in text_string_to_metric_families(text)
        if f.name == "gateway_crypto_batch_size"
        for s in f.samples if s.name.endswith("_bucket")
    ]
    assert batch_buckets == [*BATCH_BUCKETS, float("inf")]


def test_each_app_has_its_own_registry():
    first, second = GatewayMetrics(QuotaTable()), GatewayMetrics(QuotaTable())
    first.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Encrypt", False)
    first.flush()
    second.flush()
    assert second.registry.get_sample_value(
        "aws_usage_call_count_total", usage("Encrypt", "Symmetric")
    ) is None


def test_key_state_refusals_are_counted_by_state(metrics):
    metrics.observe_request("Encrypt", 0.001, "KMSInvalidStateException", "PendingDeletion")
    metrics.observe_request("Encrypt", 0.001, "DisabledException", "Disabled")
    metrics.observe_request("Encrypt", 0.001, "NotFoundException")
    name = "gateway_key_state_refusals_total"
    assert value(metrics, name, {"operation": "Encrypt", "key_state": "PendingDeletion"}) == 1
    assert value(metrics, name, {"operation": "Encrypt", "key_state": "Disabled"}) == 1


# --- the hooks count into tallies: after a flush, exactly the old direct updates' output --

class DirectHooks:
    """The hooks as they were before the tallies: every call straight into prometheus-client."""

    def __init__(self, metrics: GatewayMetrics, table: QuotaTable) -> None:
        self.metrics, self._table = metrics, table
        self._seen: set[tuple[str, ...]] = set()

    def on_charge(self, account: str, region: str, quota: str, operation: str,
                  throttled: bool) -> None:
        m = self.metrics
        if throttled:
            m.throttled.labels(quota, operation).inc()
        if quota == KEY_STATE_CHANGES:
            return
        ident = tuple(usage(operation, CLASSES[quota], account, region).values())
        if ident not in self._seen:  # the quota of the first charge of a resource
            self._seen.add(ident)
            m.service_quota.labels(*ident).set(self._table.value(quota, account, region))
        m.call_count.labels(*ident).inc()

    def observe_request(self, operation: str, seconds: float, error_type: str | None,
                        key_state: str | None) -> None:
        m = self.metrics
        m.requests.labels(operation).observe(seconds)
        if error_type is not None:
            m.errors.labels(operation, error_type).inc()
        if key_state is not None:
            m.key_state_refusals.labels(operation, key_state).inc()

    def on_batch(self, operation: str, items: int, seconds: float) -> None:
        self.metrics.batch_size.labels(operation).observe(items)
        self.metrics.batch_seconds.labels(operation).observe(seconds)


CLASSES = {SYMMETRIC: "Symmetric", ECC: "ECC", "kms:DescribeKey": "None",
           key_pair_quota("RSA_4096"): "None", KEY_STATE_CHANGES: "None"}
OPERATIONS = ("Encrypt", "Sign", "DescribeKey", "GenerateDataKeyPair")
charges = st.tuples(
    st.just("charge"), st.sampled_from((ACCOUNT, "444455556666")),
    st.sampled_from(("us-east-1", "eu-north-1")), st.sampled_from(list(CLASSES)),
    st.sampled_from(OPERATIONS), st.booleans(),
)
requests = st.tuples(
    st.just("request"), st.sampled_from(OPERATIONS),
    st.one_of(st.sampled_from(LATENCY_BUCKETS), st.floats(0, 5, allow_nan=False)),
    st.sampled_from((None, "NotFoundException", "DisabledException")),
    st.sampled_from((None, "Disabled", "PendingDeletion")),
)
batches = st.tuples(
    st.just("batch"), st.sampled_from(("seal", "sign")),
    st.one_of(st.sampled_from(BATCH_BUCKETS), st.integers(1, 2000)),
    st.one_of(st.sampled_from(BATCH_SECONDS_BUCKETS), st.floats(0, 0.2, allow_nan=False)),
)


def _exposition(metrics: GatewayMetrics) -> str:
    # The *_created samples are wall-clock times, different in any two registries.
    text = generate_latest(metrics.registry).decode()
    return "\n".join(line for line in text.splitlines() if "_created" not in line)


@settings(deadline=None)  # each example renders several expositions
@given(st.lists(st.one_of(charges, requests, batches, st.just(("flush",))), max_size=80))
def test_after_a_flush_the_hooks_expose_what_direct_prometheus_updates_give(calls):
    hooked = GatewayMetrics(QuotaTable())
    direct = DirectHooks(GatewayMetrics(QuotaTable()), QuotaTable())
    for kind, *args in [*calls, ("flush",)]:
        if kind == "flush":
            hooked.flush()
            assert _exposition(hooked) == _exposition(direct.metrics)
        elif kind == "charge":
            hooked.on_charge(*args)
            direct.on_charge(*args)
        elif kind == "request":
            hooked.observe_request(*args)
            direct.observe_request(*args)
        else:
            hooked.on_batch(*args)
            direct.on_batch(*args)


def test_flushing_twice_does_not_count_twice(metrics):
    metrics.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Encrypt", True)
    metrics.observe_request("Encrypt", 0.001, "NotFoundException", "Disabled")
    metrics.on_batch("seal", 3, 0.0001)
    metrics.flush()
    metrics.flush()

    assert value(metrics, "aws_usage_call_count_total", usage("Encrypt", "Symmetric")) == 1
    throttled = {"quota": SYMMETRIC, "operation": "Encrypt"}
    assert value(metrics, "gateway_throttled_requests_total", throttled) == 1
    errors = {"operation": "Encrypt", "error_type": "NotFoundException"}
    assert value(metrics, "gateway_errors_total", errors) == 1
    refusals = {"operation": "Encrypt", "key_state": "Disabled"}
    assert value(metrics, "gateway_key_state_refusals_total", refusals) == 1
    encrypt = {"operation": "Encrypt"}
    assert value(metrics, "gateway_request_duration_seconds_count", encrypt) == 1
    assert value(metrics, "gateway_crypto_batch_size_sum", {"operation": "seal"}) == 3


def test_hooks_alone_change_nothing_a_scrape_sees_until_the_flush(metrics):
    metrics.on_charge(ACCOUNT, "us-east-1", SYMMETRIC, "Encrypt", True)
    metrics.observe_request("Encrypt", 0.001, "NotFoundException")
    metrics.on_batch("seal", 3, 0.0001)
    assert all(not family.samples for family in metrics.registry.collect())
