"""A bounded cache of loaded private/public key objects, per (account, region, key, version).

P-256 and P-384 keys load into native handles (the C core signs and verifies with them in
batches, grouped by handle identity, so every request on one key must share one handle);
every other asymmetric spec loads into a ``cryptography`` key object. Native handles are
closed when evicted or when their key is destroyed, after a grace period so that items
already queued in the batcher on that handle still run.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from gateway.crypto.ecdsa import EcPrivateKey
from gateway.errors import KMSInternalException
from gateway.keys.model import Key
from gateway.keys.repository import KeyRepository
from gateway.kms import keymaterial
from gateway.kms.keyspecs import SIGN_VERIFY, spec_of

Ident = tuple[str, str, str, int]

# Seconds an evicted native handle stays open for work the batcher queued on it.
CLOSE_GRACE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class LoadedKey:
    private: Any  # EcPrivateKey when native, else a cryptography private key
    public: Any  # EcPublicKey when native, else a cryptography public key
    spki: bytes
    native: bool

    def close(self) -> None:
        if self.native:
            self.private.close()
            self.public.close()


def _load(material: bytes, native: bool) -> LoadedKey:
    if native:
        private = EcPrivateKey.from_pkcs8(material)
        public = private.public_key()
        return LoadedKey(private, public, public.spki(), True)
    key = keymaterial.load_private(material)
    return LoadedKey(key, key.public_key(), keymaterial.spki(key.public_key()), False)


class KeyHandles:
    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._entries: OrderedDict[Ident, LoadedKey] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, key: Key, version: int = 1) -> LoadedKey | None:
        """The loaded key if it is here already: Sign and Verify try this before ``load``."""
        ident = (key.account, key.region, key.key_id, version)
        hit = self._entries.get(ident)
        if hit is not None:
            self._entries.move_to_end(ident)
        return hit

    async def load(self, keys: KeyRepository, key: Key, version: int = 1) -> LoadedKey:
        """The loaded key pair of one material version, from the cache or the store."""
        hit = self.cached(key, version)
        if hit is not None:
            return hit
        ident = (key.account, key.region, key.key_id, version)
        material = await keys.material(key, version)
        if material is None:
            raise KMSInternalException("The key has no key material.")
        # Only signing goes through the C core; ECDH keys on the same curves use cryptography.
        native = spec_of(key.key_spec).native and key.key_usage == SIGN_VERIFY
        # Native loads are microseconds; cryptography's (RSA key checks) are not.
        loaded = (
            _load(material, True) if native else await asyncio.to_thread(_load, material, False)
        )
        return self._put(ident, loaded)

    def _put(self, ident: Ident, loaded: LoadedKey) -> LoadedKey:
        existing = self._entries.get(ident)
        if existing is not None:  # another request loaded it meanwhile: share that one
            loaded.close()
            return existing
        self._entries[ident] = loaded
        while len(self._entries) > self._max:
            _, evicted = self._entries.popitem(last=False)
            _retire(evicted)
        return loaded

    def forget(self, account: str, region: str, key_id: str) -> None:
        """Drop (and close) every version of a destroyed key."""
        for ident in [i for i in self._entries if i[:3] == (account, region, key_id)]:
            _retire(self._entries.pop(ident))

    def close(self) -> None:
        while self._entries:
            self._entries.popitem()[1].close()


def _retire(loaded: LoadedKey) -> None:
    if not loaded.native:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loaded.close()
        return
    loop.call_later(CLOSE_GRACE_SECONDS, loaded.close)
