"""Key lookup for the services: resolution of key ids, ARNs and aliases, with caches.

Metadata is cached for a short time (``cache_seconds``) so that a change made by another
worker process is seen within that bound; unwrapped material is cached until the key is
destroyed, because a material version never changes once written.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from gateway.caller import Caller
from gateway.errors import InvalidArnException, KMSInternalException, NotFoundException
from gateway.keys.model import Alias, Key, key_arn
from gateway.keys.rootkey import RootKey, RootKeyError, material_aad
from gateway.store.base import ConflictError, Store

_ARN_PREFIX = "arn:aws:kms:"
# The canonical lower-case form AWS gives key ids (a regex is 10x cheaper than uuid.UUID).
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_key_id(text: str) -> bool:
    """A bare key id: a UUID, or "mrk-" and 32 hex digits for multi-Region keys."""
    if text.startswith("mrk-"):
        rest = text[4:]
        return len(rest) == 32 and all(c in "0123456789abcdef" for c in rest)
    return _UUID.fullmatch(text) is not None


class KeyRepository:
    def __init__(
        self,
        store: Store,
        root_key: RootKey,
        *,
        cache_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._root_key = root_key
        self._ttl = cache_seconds
        self._clock = clock
        self._keys: dict[tuple[str, str, str], tuple[float, Key | None]] = {}
        self._materials: dict[tuple[str, str, str, int], bytes] = {}

    @property
    def store(self) -> Store:
        return self._store

    # --- metadata --------------------------------------------------------------------------
    async def get(self, account: str, region: str, key_id: str) -> Key | None:
        ident = (account, region, key_id)
        hit = self._keys.get(ident)
        now = self._clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        key = await self._store.get_key(account, region, key_id)
        if len(self._keys) > 100_000:
            self._keys.clear()  # bound memory; entries are cheap to reload
        self._keys[ident] = (now + self._ttl, key)
        if key is None:
            self._drop_materials(ident)
        return key

    def remember(self, key: Key) -> None:
        """Cache a record this process just wrote, so its next read sees the change."""
        self._keys[(key.account, key.region, key.key_id)] = (self._clock() + self._ttl, key)

    def forget(self, account: str, region: str, key_id: str) -> None:
        self._keys.pop((account, region, key_id), None)
        self._drop_materials((account, region, key_id))

    def _drop_materials(self, ident: tuple[str, str, str]) -> None:
        for cached in [m for m in self._materials if m[:3] == ident]:
            del self._materials[cached]

    async def modify(self, key: Key, change: Callable[[Key], Key]) -> Key:
        """Apply ``change`` to a key and store the result, safely against other workers.

        ``change`` may raise (a state check); it runs again on the stored record whenever
        this worker's copy turns out to be stale, so no concurrent change is ever undone.
        """
        for _ in range(5):
            changed = change(key)
            if changed == key:
                return key
            try:
                await self._store.update_key(changed, expected=key)
            except ConflictError:
                fresh = await self._store.get_key(key.account, key.region, key.key_id)
                if fresh is None:
                    raise NotFoundException(f"Key '{key.arn}' does not exist") from None
                key = fresh
                continue
            self.remember(changed)
            return changed
        raise KMSInternalException("The key is being changed concurrently; retry.")

    async def require(self, caller: Caller, key_id: str) -> Key:
        key = await self.get(caller.account, caller.region, key_id)
        if key is None:
            arn = key_arn(caller.region, caller.account, key_id)
            raise NotFoundException(f"Key '{arn}' does not exist")
        return key

    async def resolve(self, caller: Caller, ref: str, *, aliases: bool = True) -> Key:
        """Find the key ``ref`` names in the caller's account and region.

        ``ref`` is a key id, a key ARN, or (where the operation accepts them, ``aliases``)
        an alias name or alias ARN, exactly the forms AWS accepts.
        """
        if ref.startswith(_ARN_PREFIX):
            region, account, resource = _split_arn(ref)
            if resource.startswith("key/"):
                if region != caller.region or account != caller.account:
                    raise NotFoundException(f"Key '{ref}' does not exist")
                key_id = resource[4:]
                if not is_key_id(key_id):
                    raise NotFoundException(f"Invalid keyId '{ref}'")
                return await self.require(caller, key_id)
            if resource.startswith("alias/") and aliases:
                if region != caller.region or account != caller.account:
                    raise NotFoundException(f"Alias '{ref}' is not found.")
                return await self._by_alias(caller, resource)
            raise NotFoundException(f"Invalid keyId '{ref}'")
        if ref.startswith("alias/") and aliases:
            return await self._by_alias(caller, ref)
        if not is_key_id(ref):
            raise NotFoundException(f"Invalid keyId '{ref}'")
        return await self.require(caller, ref)

    async def _by_alias(self, caller: Caller, name: str) -> Key:
        alias = await self._store.get_alias(caller.account, caller.region, name)
        if alias is None:
            raise NotFoundException(f"Alias '{_alias_arn(caller, name)}' is not found.")
        return await self.require(caller, alias.target_key_id)

    # --- material --------------------------------------------------------------------------
    async def material(self, key: Key, version: int) -> bytes | None:
        """The plaintext material of one version, or None if that version doesn't exist."""
        ident = (key.account, key.region, key.key_id, version)
        cached = self._materials.get(ident)
        if cached is not None:
            return cached
        for wrapped in await self._store.get_materials(key.account, key.region, key.key_id):
            if wrapped.version != version:
                continue
            try:
                plain = self._root_key.unwrap(wrapped.wrapped, material_aad(key.arn, version))
            except RootKeyError:
                # Stored material that does not unwrap means a wrong root key or tampering:
                # an operator problem, never the caller's.
                raise KMSInternalException("Key material could not be unwrapped.") from None
            self._materials[ident] = plain
            return plain
        return None


def _split_arn(arn: str) -> tuple[str, str, str]:
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5]:
        raise InvalidArnException(f"Invalid arn {arn}")
    return parts[3], parts[4], parts[5]


def _alias_arn(caller: Caller, name: str) -> str:
    return f"arn:aws:kms:{caller.region}:{caller.account}:{name}"


__all__ = ["Alias", "KeyRepository", "is_key_id"]
