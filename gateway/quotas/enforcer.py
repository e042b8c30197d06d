"""Charges requests to their quotas and answers ThrottlingException as AWS does.

Buckets are per (account, region, quota), plus per key for the hot-key rule; the limiter
behind them is in-process or shared across worker processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.errors import ThrottlingException
from gateway.quotas.table import KEY_STATE_CHANGES, QuotaTable

if TYPE_CHECKING:
    from gateway.quotas.limiter import Limiter

_MESSAGES = {
    "kms": "You have exceeded the rate at which you may call KMS. "
    "Reduce the frequency of your calls.",
    "acm": "Rate exceeded",
}


_MAX_CACHED_BUCKETS = 4096


@dataclass(frozen=True, slots=True)
class Charge:
    """``count`` requests against ``quota`` in ``region`` (a multi-region call has several)."""

    quota: str
    count: int = 1
    region: str | None = None  # None: the request's own region


# Called with (account, region, quota, operation, throttled) for every charge: metrics hook.
ChargeListener = Callable[[str, str, str, str, bool], None]


class QuotaEnforcer:
    def __init__(
        self,
        table: QuotaTable,
        limiter: Limiter,
        *,
        listener: ChargeListener | None = None,
    ) -> None:
        self.table = table
        self._limiter = limiter
        self._listener = listener
        # (account, region, quota) -> (bucket name, rate): both fixed once the table is built.
        self._buckets: dict[tuple[str, str, str], tuple[str, float]] = {}

    def charge(
        self, account: str, region: str, operation: str, charges: tuple[Charge, ...]
    ) -> None:
        """Take every charge or none; raise ThrottlingException if one bucket is empty."""
        taken: list[tuple[str, float, int]] = []
        for charge in charges:
            where = charge.region or region
            bucket, rate = self._bucket(account, where, charge.quota)
            ok = self._limiter.try_take(bucket, rate, charge.count)
            if self._listener is not None:
                self._listener(account, where, charge.quota, operation, not ok)
            if not ok:
                for bucket_taken, rate_taken, count in taken:
                    self._limiter.give_back(bucket_taken, rate_taken, count)
                raise ThrottlingException(_MESSAGES[charge.quota.partition(":")[0]])
            taken.append((bucket, rate, charge.count))

    def _bucket(self, account: str, region: str, quota: str) -> tuple[str, float]:
        ident = (account, region, quota)
        found = self._buckets.get(ident)
        if found is None:
            if len(self._buckets) >= _MAX_CACHED_BUCKETS:
                self._buckets.clear()  # regions are the client's choice: stay bounded
            found = (f"{account}|{region}|{quota}", self.table.value(quota, account, region))
            self._buckets[ident] = found
        return found

    def charge_key_state_change(self, account: str, region: str, key_id: str) -> None:
        """The guide's "hot key" rule: bursts of state changes on one key are throttled."""
        rate = self.table.value(KEY_STATE_CHANGES, account, region)
        if not self._limiter.try_take(f"{account}|{region}|{KEY_STATE_CHANGES}|{key_id}", rate):
            if self._listener is not None:
                self._listener(account, region, KEY_STATE_CHANGES, "KeyStateChange", True)
            raise ThrottlingException(_MESSAGES["kms"])
