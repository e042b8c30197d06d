"""Key lookup for the services: resolution of key ids, ARNs and aliases, with caches.

Metadata, alias targets and unwrapped material are cached in bounded LRU maps. A change
made by another worker process reaches this one through the store's change log, polled by
``run_refresher``: it is seen within one polling interval.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

from gateway.caller import Caller
from gateway.errors import InvalidArnException, KMSInternalException, NotFoundException
from gateway.keys.lru import MISSING, Lru
from gateway.keys.model import Alias, Key, WrappedMaterial, key_arn
from gateway.keys.rootkey import RootKey, RootKeyError, material_aad
from gateway.store.base import MissingError, Store

log = logging.getLogger("gateway.keys")

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
        max_keys: int = 200_000,
    ) -> None:
        self._store = store
        self._root_key = root_key
        # Entries never expire by time: another worker's writes reach this process through
        # the store's change log (refresh()), which drops exactly the stale entries.
        self._keys: Lru[tuple[str, str, str], Key | None] = Lru(max_keys)
        self._aliases: Lru[tuple[str, str, str], str | None] = Lru(max_keys)
        self._materials: Lru[tuple[str, str, str], dict[int, bytes]] = Lru(max_keys)
        # Wrapped material read along with the metadata, unwrapped on first use.
        self._wrapped: Lru[tuple[str, str, str], list[WrappedMaterial]] = Lru(max_keys)
        self._seen_change: int | None = None
        # Bumped by every refresh: a read that a refresh overtook is not cached, since the
        # change that made it stale may have been forgotten before the read's answer landed.
        self._epoch = 0

    @property
    def store(self) -> Store:
        return self._store

    # --- coherence across worker processes --------------------------------------------------
    async def refresh(self) -> None:
        """Drop what other processes changed since the last refresh."""
        latest, changes = await self._store.changes_since(self._seen_change)
        self._epoch += 1
        if changes is None:
            self._keys.clear()
            self._aliases.clear()
            self._materials.clear()
            self._wrapped.clear()
        else:
            for kind, account, region, name in changes:
                if kind == "alias":
                    self._aliases.pop((account, region, name))
                else:
                    self._keys.pop((account, region, name))
                    self._materials.pop((account, region, name))
                    self._wrapped.pop((account, region, name))
        self._seen_change = latest

    async def run_refresher(self, interval: float) -> None:
        clock = asyncio.get_running_loop().time
        while True:
            began = clock()
            try:
                await self.refresh()
            except Exception:
                log.exception("key cache refresh failed; dropping the whole cache")
                self._keys.clear()
                self._aliases.clear()
            # On a fixed beat: a refresh that waited behind this worker's own writes (one
            # store thread) does not push the next one later.
            await asyncio.sleep(max(0.0, interval - (clock() - began)))

    # --- metadata --------------------------------------------------------------------------
    async def get(self, account: str, region: str, key_id: str) -> Key | None:
        ident = (account, region, key_id)
        hit = self._keys.get(ident)
        if hit is not MISSING:
            return hit  # type: ignore[return-value]
        epoch = self._epoch
        key, wrapped = await self._store.get_key_with_materials(account, region, key_id)
        if epoch == self._epoch:
            self._keys.put(ident, key)
            if key is not None:
                self._wrapped.put(ident, wrapped)
        return key

    def remember(self, key: Key) -> None:
        """Cache a record this process just wrote, so its next read sees the change."""
        self._keys.put((key.account, key.region, key.key_id), key)

    def forget_alias(self, account: str, region: str, name: str) -> None:
        """Drop an alias this process just created, moved or deleted."""
        self._aliases.pop((account, region, name))

    def forget(self, account: str, region: str, key_id: str) -> None:
        self._keys.pop((account, region, key_id))
        self._materials.pop((account, region, key_id))
        self._wrapped.pop((account, region, key_id))

    async def modify(self, key: Key, change: Callable[[Key], Key]) -> Key:
        """Apply ``change`` to a key as stored and store the result, in one transaction.

        ``change`` may raise (a state check). It runs on the stored record, never on this
        worker's cached copy (``key`` only names the key): a stale copy could otherwise
        turn a real change into a no-op answered as a success, or refuse one the stored
        state allows. Concurrent changes, in any worker, apply one after another.
        """
        try:
            changed = await self._store.modify_key(key.account, key.region, key.key_id, change)
        except MissingError:
            raise NotFoundException(f"Key '{key.arn}' does not exist") from None
        self.remember(changed)
        return changed

    async def require(self, caller: Caller, key_id: str) -> Key:
        key = await self.get(caller.account, caller.region, key_id)
        if key is None:
            arn = key_arn(caller.region, caller.account, key_id)
            raise NotFoundException(f"Key '{arn}' does not exist")
        return key

    def cached(self, caller: Caller, ref: str) -> Key | None:
        """The key a bare key id names, if this process has it cached; else None.

        The hot operations try this before awaiting ``resolve`` (one coroutine fewer per
        request). Only a cached Key counts (a cached miss is keyed by whatever id was
        read), so every error is still answered by ``resolve``.
        """
        hit = self._keys.get((caller.account, caller.region, ref))
        return hit if hit.__class__ is Key else None  # type: ignore[return-value]

    async def resolve(self, caller: Caller, ref: str, *, aliases: bool = True) -> Key:
        """Find the key ``ref`` names in the caller's account and region.

        ``ref`` is a key id, a key ARN, or (where the operation accepts them, ``aliases``)
        an alias name or alias ARN, exactly the forms AWS accepts.
        """
        hit = self.cached(caller, ref)
        if hit is not None:
            return hit
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
        ident = (caller.account, caller.region, name)
        target = self._aliases.get(ident)
        if target is MISSING:
            epoch = self._epoch
            alias = await self._store.get_alias(caller.account, caller.region, name)
            target = alias.target_key_id if alias is not None else None
            if epoch == self._epoch:
                self._aliases.put(ident, target)
        if target is None:
            raise NotFoundException(f"Alias '{_alias_arn(caller, name)}' is not found.")
        return await self.require(caller, target)  # type: ignore[arg-type]

    # --- material --------------------------------------------------------------------------
    def cached_material(self, key: Key, version: int) -> bytes | None:
        """The plaintext material of one version if this process has it unwrapped already."""
        versions = self._materials.get((key.account, key.region, key.key_id))
        return None if versions is MISSING else versions.get(version)  # type: ignore[attr-defined]

    async def material(self, key: Key, version: int) -> bytes | None:
        """The plaintext material of one version, or None if that version doesn't exist."""
        ident = (key.account, key.region, key.key_id)
        versions = self._materials.get(ident)
        if versions is not MISSING and version in versions:  # type: ignore[operator]
            return versions[version]  # type: ignore[index]
        stored = self._wrapped.get(ident)
        if stored is MISSING or not any(w.version == version for w in stored):  # type: ignore[attr-defined]
            stored = await self._store.get_materials(key.account, key.region, key.key_id)
        for wrapped in stored:  # type: ignore[attr-defined]
            if wrapped.version != version:
                continue
            try:
                plain = self._root_key.unwrap(wrapped.wrapped, material_aad(key.arn, version))
            except RootKeyError:
                # Stored material that does not unwrap means a wrong root key or tampering:
                # an operator problem, never the caller's.
                raise KMSInternalException("Key material could not be unwrapped.") from None
            if versions is MISSING:
                versions = {}
                self._materials.put(ident, versions)  # type: ignore[arg-type]
            versions[version] = plain  # type: ignore[index]
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
