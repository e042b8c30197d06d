"""Metrics computed from the store at scrape time: keys per state and the CloudWatch
per-resource gauges (AWS/KMS SecondsUntilKeyMaterialExpiration, AWS/CertificateManager
DaysToExpiry). The store is shared, so one worker's scrape sees every worker's keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.store.base import Store


@dataclass(slots=True)
class StoredSnapshot:
    key_states: list[tuple[str, str, str, int]] = field(default_factory=list)
    # (key id, seconds): keys whose imported material expires. None exist until imported
    # key material lands; the family is exported empty so dashboards and alerts resolve.
    material_expiry: list[tuple[str, float]] = field(default_factory=list)
    # (certificate ARN, days): filled once ACM certificates land.
    certificate_expiry: list[tuple[str, float]] = field(default_factory=list)


async def snapshot(store: Store) -> StoredSnapshot:
    return StoredSnapshot(key_states=await store.key_state_counts())


class StoredCollector(Collector):
    def __init__(self, data: StoredSnapshot) -> None:
        self._data = data

    def collect(self) -> Iterator[GaugeMetricFamily]:
        keys = GaugeMetricFamily(
            "gateway_kms_keys",
            "KMS keys in the store, by account, region and key state.",
            labels=("account", "region", "state"),
        )
        for account, region, state, count in self._data.key_states:
            keys.add_metric((account, region, state), count)
        yield keys
        expiry = GaugeMetricFamily(
            "aws_kms_seconds_until_key_material_expiration",
            "AWS/KMS SecondsUntilKeyMaterialExpiration: seconds until imported key "
            "material expires (alarm on the Minimum).",
            labels=("key_id",),
        )
        for key_id, seconds in self._data.material_expiry:
            expiry.add_metric((key_id,), seconds)
        yield expiry
        days = GaugeMetricFamily(
            "aws_certificatemanager_days_to_expiry",
            "AWS/CertificateManager DaysToExpiry: days until the certificate expires.",
            labels=("certificate_arn",),
        )
        for arn, value in self._data.certificate_expiry:
            days.add_metric((arn,), value)
        yield days
