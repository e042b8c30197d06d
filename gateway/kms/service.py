"""What every KMS operation handler receives: the services of one app, wired once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.crypto.batcher import CryptoBatcher
from gateway.keys.repository import KeyRepository
from gateway.keys.rootkey import RootKey
from gateway.store.base import Store


@dataclass(frozen=True, slots=True)
class ResourceLimits:
    """The documented resource quotas (kms-digest §7.1)."""

    keys_per_region: int = 100_000
    aliases_per_key: int = 50
    tags_per_key: int = 50
    policy_bytes: int = 32_768


@dataclass(slots=True)
class Kms:
    store: Store
    keys: KeyRepository
    root_key: RootKey
    crypto: CryptoBatcher
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    # Length of one "day" of a deletion waiting period; shorter only in rehearsals and tests.
    day_seconds: float = 86_400.0
    clock: Callable[[], float] = time.time
