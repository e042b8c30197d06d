"""The gateway's metric families: CloudWatch mirrors and the gateway's own.

One ``GatewayMetrics`` per app, on its own ``CollectorRegistry``. With several worker
processes, prometheus-client's multiprocess mode keeps every worker's values in shared
files that the scrape aggregates (``exposition.py``).

The hooks run on every request, so they count into plain-Python tallies (``tally.py``);
``flush()`` folds those into the metric objects. A worker flushes before it renders a
scrape, so its own values are never late; another worker's reach the shared files on that
worker's timer (``flushing.py``), at most ``FLUSH_SECONDS`` (0.5 s) late.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.metrics.tally import CounterTally, HistogramTally
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
        # The hooks' tallies, folded in by flush().
        self._calls: dict[tuple[str, str, str, str], int] = {}  # operation, quota, account, region
        self._usage_children: dict[tuple[str, ...], Counter] = {}
        self._throttled = CounterTally(self.throttled)
        self._errors = CounterTally(self.errors)
        self._key_state_refusals = CounterTally(self.key_state_refusals)
        self._latency = HistogramTally(self.requests, LATENCY_BUCKETS)
        self._batch_sizes = HistogramTally(self.batch_size, BATCH_BUCKETS)
        self._batch_seconds = HistogramTally(self.batch_seconds, BATCH_SECONDS_BUCKETS)

    # --- hooks: called on the event-loop thread, counted until the next flush() ---------
    def on_charge(
        self, account: str, region: str, quota: str, operation: str, throttled: bool
    ) -> None:
        """QuotaEnforcer's listener: one call per charge, throttled or not."""
        if throttled:
            self._throttled.count((quota, operation))
        if quota == KEY_STATE_CHANGES:
            return  # the hot-key rule is the gateway's own, not an AWS/Usage resource
        calls = self._calls
        key = (operation, quota, account, region)
        calls[key] = calls.get(key, 0) + 1

    def observe_request(
        self,
        operation: str,
        seconds: float,
        error_type: str | None,
        key_state: str | None = None,
    ) -> None:
        self._latency.observe(operation, seconds)
        if error_type is not None:
            self._errors.count((operation, error_type))
        if key_state is not None:
            self._key_state_refusals.count((operation, key_state))

    def on_batch(self, operation: str, items: int, seconds: float) -> None:
        self._batch_sizes.observe(operation, items)
        self._batch_seconds.observe(operation, seconds)

    # --- flush ----------------------------------------------------------------------------
    def flush(self) -> None:
        """Fold every tally into the metric objects (with several workers: the shared files)."""
        self._fold_calls()
        self._throttled.fold()
        self._errors.fold()
        self._key_state_refusals.fold()
        self._latency.fold()
        self._batch_sizes.fold()
        self._batch_seconds.fold()

    def _fold_calls(self) -> None:
        calls, self._calls = self._calls, {}
        for (operation, quota, account, region), count in calls.items():
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
                child = self._usage_children[ident] = self.call_count.labels(*ident)
                quota_value = self._table.value(quota, account, region)
                self.service_quota.labels(*ident).set(quota_value)
            child.inc(count)
