"""The Store protocol: what the services need from durable storage.

Every method is a coroutine so that a network database fits behind the same interface;
the embedded SQLite backend runs its work on one dedicated thread. A method that creates,
changes or destroys key material or credentials returns only after its commit is durable.
Records are the plain dataclasses of ``gateway.keys.model``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from gateway.keys.model import AccessKey, Alias, Key, WrappedMaterial


class StoreError(Exception):
    """Base of the store's own errors; services translate them into AWS errors."""


class DuplicateError(StoreError):
    """A record with the same identity already exists."""


class MissingError(StoreError):
    """The record to change does not exist."""


class ConflictError(StoreError):
    """A compare-and-swap update found the record changed since it was read."""


class LimitReachedError(StoreError):
    """Creating the record would pass the resource quota given with the call."""


class Store(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    # --- keys -----------------------------------------------------------------------------
    async def create_key(
        self, key: Key, material: WrappedMaterial, *, max_keys: int | None = None
    ) -> None:
        """Insert a key and its first material version in one transaction.

        With ``max_keys``, raise LimitReachedError instead if the account and region already
        hold that many keys (checked in the same transaction).
        """

    async def get_key(self, account: str, region: str, key_id: str) -> Key | None: ...

    async def get_key_with_materials(
        self, account: str, region: str, key_id: str
    ) -> tuple[Key | None, list[WrappedMaterial]]:
        """A key and its wrapped material versions, read together (one snapshot)."""

    async def update_key(self, key: Key, *, expected: Key | None = None) -> None:
        """Replace the stored metadata of an existing key (MissingError if absent).

        With ``expected``, write only if the stored record still equals it, else raise
        ConflictError: worker processes update from cached copies, and a stale copy must
        never undo another worker's change.
        """

    async def modify_key(
        self, account: str, region: str, key_id: str, change: Callable[[Key], Key]
    ) -> Key:
        """Read a key, apply ``change`` and store its result in one write transaction.

        Changes from any process are applied one after another, each to the record the one
        before left, never to a cached copy: a stale copy can neither undo another change
        nor swallow this one as a no-op. ``change`` runs on the store's thread and must be
        quick and pure; if it raises (a state check), nothing is written and the error
        propagates. MissingError if the key is absent. Returns the record as stored.
        """

    async def list_keys(
        self, account: str, region: str, after: str | None, limit: int
    ) -> list[Key]:
        """Keys ordered by key_id, starting after ``after`` (exclusive), at most ``limit``."""

    async def count_keys(self, account: str, region: str) -> int: ...

    async def changes_since(
        self, after: int | None
    ) -> tuple[int, list[tuple[str, str, str, str]] | None]:
        """Keys and aliases written since change id ``after``, by any process (``None``:
        only where the log is now, for a cache that starts empty).

        Returns the latest change id and (kind "key" | "alias", account, region, key id or
        alias name) per change; None instead of the list if older changes were pruned and
        the caller cannot know what it missed.
        """

    async def prune_changes(self) -> None:
        """Drop old change-log entries (the log is bounded)."""

    async def key_state_counts(self) -> list[tuple[str, str, str, int]]:
        """(account, region, state, number of keys) for every non-empty combination."""

    async def delete_key(
        self, account: str, region: str, key_id: str, *, due_at: float | None = None
    ) -> None:
        """Destroy a key for good: metadata, every material version and its aliases.

        With ``due_at``, delete only if the key is still PendingDeletion with a deletion
        date <= due_at (MissingError otherwise), so a cancelled deletion is never carried out.
        """

    async def keys_due_for_deletion(self, now: float) -> list[Key]:
        """Keys in PendingDeletion whose deletion_date is <= now, in every account/region."""

    # --- key material ---------------------------------------------------------------------
    async def get_materials(
        self, account: str, region: str, key_id: str
    ) -> list[WrappedMaterial]: ...

    async def add_material(self, account: str, region: str, material: WrappedMaterial) -> None:
        """Add a new material version; DuplicateError if the version exists."""

    async def rotate_key(
        self,
        account: str,
        region: str,
        key_id: str,
        material_for: Callable[[int], WrappedMaterial],
        change: Callable[[Key], Key | None],
        *,
        max_of_type: int | None = None,
    ) -> Key | None:
        """In one write transaction: read a key, apply ``change`` to it (which may raise, or
        return None to leave the key as it is), add ``material_for(version)`` for the version
        after the current one and make it current. Concurrent rotations apply one after
        another. MissingError if the key is gone; LimitReachedError if the key has
        ``max_of_type`` versions of the new material's rotation type already."""

    async def keys_due_for_rotation(self, now: float) -> list[Key]:
        """Enabled keys whose automatic rotation is due at ``now``."""

    # --- aliases --------------------------------------------------------------------------
    async def create_alias(self, alias: Alias, *, max_per_key: int | None = None) -> None:
        """DuplicateError if (account, region, name) exists. With ``max_per_key``,
        LimitReachedError if the target key already has that many aliases (checked in the
        same transaction, so concurrent calls in several processes cannot pass it)."""

    async def get_alias(self, account: str, region: str, name: str) -> Alias | None: ...

    async def update_alias(self, alias: Alias, *, max_per_key: int | None = None) -> None:
        """MissingError if absent. With ``max_per_key``, LimitReachedError if the new target
        key already has that many other aliases (checked in the same transaction)."""

    async def delete_alias(self, account: str, region: str, name: str) -> None:
        """MissingError if absent."""

    async def list_aliases(
        self, account: str, region: str, key_id: str | None, after: str | None, limit: int
    ) -> list[Alias]:
        """Aliases ordered by name, optionally only those targeting key_id."""

    async def count_aliases(self, account: str, region: str, key_id: str) -> int: ...

    # --- access keys ----------------------------------------------------------------------
    async def create_access_key(self, access_key: AccessKey) -> None:
        """DuplicateError if the id exists."""

    async def get_access_key(self, access_key_id: str) -> AccessKey | None: ...

    async def list_access_keys(self, account: str) -> list[AccessKey]: ...

    async def update_access_key(self, access_key: AccessKey) -> None: ...

    async def delete_access_key(self, access_key_id: str) -> None: ...
