"""The gateway's metric families: CloudWatch mirrors and the gateway's own.

One ``GatewayMetrics`` per app, on its own ``CollectorRegistry``. With several worker
processes, prometheus-client's multiprocess mode keeps every worker's values in shared
files that the scrape aggregates (``exposition.py``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.quotas.table import (
    ECC,
    KEY_STATE_CHANGES,
    ML_DSA,
    ML_KEM,
    RSA,
    SM,
    SYMMETRIC,
    QuotaTable,
)

# AWS/Usage's Class dimension: KMS says which shared cryptographic quota a call counted
# against; everything else is "None", as in CloudWatch.
_CLASS_OF_QUOTA = {
    SYMMETRIC: "Symmetric",
    RSA: "RSA",
    ECC: "ECC",
    SM: "SM",
    ML_DSA: "MLDSA",
    ML_KEM: "MLKEM",
}
_USAGE_LABELS = ("service", "type", "resource", "class", "account", "region")

LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
BATCH_SECONDS_BUCKETS = (0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1)


class GatewayMetrics:
    def __init__(self, quota_table: QuotaTable, service: str = "KMS") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._table = quota_table
        self._service = service
        r = self.registry
        self.call_count = Counter(
            "aws_usage_call_count",
            "AWS/Usage CallCount: API calls counted against a quota (Sum per period).",
            _USAGE_LABELS,
            registry=r,
        )
        self.service_quota = Gauge(
            "aws_usage_service_quota",
            "The quota each AWS/Usage Resource counts against (SERVICE_QUOTA()), "
            "requests per second.",
            _USAGE_LABELS,
            registry=r,
            multiprocess_mode="max",
        )
        self.throttled = Counter(
            "gateway_throttled_requests",
            "Requests refused with ThrottlingException, by quota and operation.",
            ("quota", "operation"),
            registry=r,
        )
        self.errors = Counter(
            "gateway_errors",
            "Requests answered with an AWS error, by operation and error type.",
            ("operation", "error_type"),
            registry=r,
        )
        self.key_state_refusals = Counter(
            "gateway_key_state_refusals",
            "Requests refused by the key-state table, by operation and the key's state.",
            ("operation", "key_state"),
            registry=r,
        )
        self.requests = Histogram(
            "gateway_request_duration_seconds",
            "Time from request start to response, by operation.",
            ("operation",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "gateway_crypto_batch_size",
            "Items per native crypto call, by native operation.",
            ("operation",),
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "gateway_crypto_batch_duration_seconds",
            "Time spent in one native crypto call, by native operation.",
            ("operation",),
            buckets=BATCH_SECONDS_BUCKETS,
            registry=r,
        )
        # Label children are cached: labels() costs about as much as the increment.
        self._usage_children: dict[tuple[str, ...], Counter] = {}
        self._request_children: dict[str, Histogram] = {}

    # --- hooks --------------------------------------------------------------------------
    def on_charge(
        self, account: str, region: str, quota: str, operation: str, throttled: bool
    ) -> None:
        """QuotaEnforcer's listener: one call per charge, throttled or not."""
        if throttled:
            self.throttled.labels(quota, operation).inc()
        if quota == KEY_STATE_CHANGES:
            return  # the hot-key rule is the gateway's own, not an AWS/Usage resource
        ident = (
            self._service,
            "API",
            operation,
            _CLASS_OF_QUOTA.get(quota, "None"),
            account,
            region,
        )
        child = self._usage_children.get(ident)
        if child is None:
            child = self.call_count.labels(*ident)
            self._usage_children[ident] = child
            self.service_quota.labels(*ident).set(self._table.value(quota, account, region))
        child.inc()

    def observe_request(
        self,
        operation: str,
        seconds: float,
        error_type: str | None,
        key_state: str | None = None,
    ) -> None:
        child = self._request_children.get(operation)
        if child is None:
            child = self.requests.labels(operation)
            self._request_children[operation] = child
        child.observe(seconds)
        if error_type is not None:
            self.errors.labels(operation, error_type).inc()
        if key_state is not None:
            self.key_state_refusals.labels(operation, key_state).inc()

    def on_batch(self, operation: str, items: int, seconds: float) -> None:
        self.batch_size.labels(operation).observe(items)
        self.batch_seconds.labels(operation).observe(seconds)
