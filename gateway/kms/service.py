"""What every KMS operation handler receives: the services of one app, wired once."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.caller import Caller
from gateway.crypto.batcher import CryptoBatcher
from gateway.keys.repository import KeyRepository
from gateway.keys.rootkey import RootKey
from gateway.kms.handles import KeyHandles
from gateway.quotas.enforcer import Charge, QuotaEnforcer
from gateway.quotas.kms import crypto_quota
from gateway.store.base import Store


@dataclass(slots=True)
class Kms:
    store: Store
    keys: KeyRepository
    root_key: RootKey
    crypto: CryptoBatcher
    quotas: QuotaEnforcer
    # Length of one "day" of a deletion waiting period; shorter only in rehearsals and tests.
    day_seconds: float = 86_400.0
    clock: Callable[[], float] = time.time
    # Loaded asymmetric keys (native handles for P-256/P-384), bounded.
    handles: KeyHandles = field(default_factory=KeyHandles)

    def limit(self, caller: Caller, quota_id: str) -> int:
        """A resource quota's value for the caller's account and region."""
        return int(self.quotas.table.value(quota_id, caller.account, caller.region))

    def charge_crypto(self, caller: Caller, operation: str, key_spec: str) -> None:
        """Charge a key-typed cryptographic operation to its key type's shared quota."""
        self.quotas.charge(caller.account, caller.region, operation, _crypto_charges(key_spec))


@functools.cache
def _crypto_charges(key_spec: str) -> tuple[Charge, ...]:
    return (Charge(crypto_quota(key_spec)),)
