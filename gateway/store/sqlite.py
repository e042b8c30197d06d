"""The embedded SQLite backend of the Store protocol (the zero-set-up default)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from gateway.keys.model import AccessKey, Alias, Key, KeyState, WrappedMaterial
from gateway.store.base import (
    ConflictError,
    DuplicateError,
    LimitReachedError,
    MissingError,
    StoreError,
)

T = TypeVar("T")

log = logging.getLogger("gateway.store.sqlite")


SCHEMA_VERSION = 4

# Several worker processes share one file; a writer waits this long for the lock.
BUSY_TIMEOUT_MS = 5000

# Migration n brings the schema from version n-1 to n. Append, never edit a shipped one.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE keys (
            account TEXT NOT NULL,
            region TEXT NOT NULL,
            key_id TEXT NOT NULL,
            created REAL NOT NULL,
            key_spec TEXT NOT NULL,
            key_usage TEXT NOT NULL,
            origin TEXT NOT NULL,
            state TEXT NOT NULL,
            description TEXT NOT NULL,
            policy TEXT NOT NULL,
            tags TEXT NOT NULL,
            deletion_date REAL,
            pending_window_days INTEGER,
            current_version INTEGER NOT NULL,
            multi_region INTEGER NOT NULL,
            PRIMARY KEY (account, region, key_id)
        ) STRICT""",
        # Only PendingDeletion keys are ever scanned by date, so index only those.
        """CREATE INDEX keys_pending_deletion ON keys (deletion_date)
            WHERE state = 'PendingDeletion'""",
        """CREATE TABLE materials (
            account TEXT NOT NULL,
            region TEXT NOT NULL,
            key_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            wrapped BLOB NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (account, region, key_id, version),
            FOREIGN KEY (account, region, key_id) REFERENCES keys (account, region, key_id)
        ) STRICT""",
        """CREATE TABLE aliases (
            account TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            target_key_id TEXT NOT NULL,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (account, region, name),
            FOREIGN KEY (account, region, target_key_id)
                REFERENCES keys (account, region, key_id)
        ) STRICT""",
        # Serves list_aliases/count_aliases filtered by key, and the FK check on key delete.
        "CREATE INDEX aliases_by_target ON aliases (account, region, target_key_id, name)",
        """CREATE TABLE access_keys (
            access_key_id TEXT NOT NULL PRIMARY KEY,
            account TEXT NOT NULL,
            user_name TEXT NOT NULL,
            wrapped_secret BLOB NOT NULL,
            status TEXT NOT NULL,
            created REAL NOT NULL
        ) STRICT""",
        "CREATE INDEX access_keys_by_account ON access_keys (account, access_key_id)",
    ),
    # Serves key_state_counts() (every metrics scrape) from the index alone.
    2: ("CREATE INDEX keys_by_state ON keys (account, region, state)",),
    # Keys per account and region, kept by triggers: CreateKey checks the quota in O(1).
    # A change log of keys and aliases, also kept by triggers, lets every worker process
    # drop exactly the cache entries another worker's writes made stale.
    3: (
        """CREATE TABLE key_counts (
            account TEXT NOT NULL,
            region TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (account, region)
        ) STRICT""",
        """INSERT INTO key_counts (account, region, count)
            SELECT account, region, count(*) FROM keys GROUP BY account, region""",
        """CREATE TABLE changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            account TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL
        ) STRICT""",
        """CREATE TRIGGER keys_inserted AFTER INSERT ON keys BEGIN
            INSERT INTO key_counts (account, region, count) VALUES (NEW.account, NEW.region, 1)
                ON CONFLICT (account, region) DO UPDATE SET count = count + 1;
            INSERT INTO changes (kind, account, region, name)
                VALUES ('key', NEW.account, NEW.region, NEW.key_id);
        END""",
        """CREATE TRIGGER keys_updated AFTER UPDATE ON keys BEGIN
            INSERT INTO changes (kind, account, region, name)
                VALUES ('key', NEW.account, NEW.region, NEW.key_id);
        END""",
        """CREATE TRIGGER keys_deleted AFTER DELETE ON keys BEGIN
            UPDATE key_counts SET count = count - 1
                WHERE account = OLD.account AND region = OLD.region;
            INSERT INTO changes (kind, account, region, name)
                VALUES ('key', OLD.account, OLD.region, OLD.key_id);
        END""",
        """CREATE TRIGGER aliases_inserted AFTER INSERT ON aliases BEGIN
            INSERT INTO changes (kind, account, region, name)
                VALUES ('alias', NEW.account, NEW.region, NEW.name);
        END""",
        """CREATE TRIGGER aliases_updated AFTER UPDATE ON aliases BEGIN
            INSERT INTO changes (kind, account, region, name)
                VALUES ('alias', NEW.account, NEW.region, NEW.name);
        END""",
        """CREATE TRIGGER aliases_deleted AFTER DELETE ON aliases BEGIN
            INSERT INTO changes (kind, account, region, name)
                VALUES ('alias', OLD.account, OLD.region, OLD.name);
        END""",
    ),
    # Key rotation: the schedule on the key, how each material version came to be, and an
    # index of the keys whose automatic rotation is scheduled (the sweep reads it).
    4: (
        "ALTER TABLE keys ADD COLUMN rotation_period_days INTEGER",
        "ALTER TABLE keys ADD COLUMN next_rotation REAL",
        "ALTER TABLE materials ADD COLUMN rotation_type TEXT",
        """CREATE INDEX keys_rotation_due ON keys (next_rotation)
            WHERE next_rotation IS NOT NULL""",
    ),
}

# The change log keeps this many most recent entries; a worker further behind than that
# drops its whole cache instead.
CHANGES_KEPT = 100_000

_KEY_COLUMN_NAMES = (
    "account",
    "region",
    "key_id",
    "created",
    "key_spec",
    "key_usage",
    "origin",
    "state",
    "description",
    "policy",
    "tags",
    "deletion_date",
    "pending_window_days",
    "current_version",
    "multi_region",
    "rotation_period_days",
    "next_rotation",
)
_KEY_COLUMNS = ", ".join(_KEY_COLUMN_NAMES)
_ALIAS_COLUMNS = "account, region, name, target_key_id, created, updated"
_MATERIAL_COLUMNS = "key_id, version, wrapped, created, rotation_type"
_ACCESS_KEY_COLUMNS = "access_key_id, account, user_name, wrapped_secret, status, created"


def _key_row(key: Key) -> tuple[Any, ...]:
    return (
        key.account,
        key.region,
        key.key_id,
        key.created,
        key.key_spec,
        key.key_usage,
        key.origin,
        KeyState(key.state).value,
        key.description,
        key.policy,
        # sort_keys keeps the stored text canonical; ensure_ascii survives any str.
        json.dumps(key.tags, sort_keys=True),
        key.deletion_date,
        key.pending_window_days,
        key.current_version,
        int(key.multi_region),
        key.rotation_period_days,
        key.next_rotation,
    )


def _key_from_row(row: tuple[Any, ...]) -> Key:
    return Key(
        account=row[0],
        region=row[1],
        key_id=row[2],
        created=row[3],
        key_spec=row[4],
        key_usage=row[5],
        origin=row[6],
        state=KeyState(row[7]),
        description=row[8],
        policy=row[9],
        tags=json.loads(row[10]),
        deletion_date=row[11],
        pending_window_days=row[12],
        current_version=row[13],
        multi_region=bool(row[14]),
        rotation_period_days=row[15],
        next_rotation=row[16],
    )


def _material_from_row(row: tuple[Any, ...]) -> WrappedMaterial:
    return WrappedMaterial(row[0], row[1], bytes(row[2]), row[3], row[4])


def _alias_from_row(row: tuple[Any, ...]) -> Alias:
    return Alias(
        account=row[0],
        region=row[1],
        name=row[2],
        target_key_id=row[3],
        created=row[4],
        updated=row[5],
    )


def _access_key_from_row(row: tuple[Any, ...]) -> AccessKey:
    return AccessKey(
        access_key_id=row[0],
        account=row[1],
        user_name=row[2],
        wrapped_secret=bytes(row[3]),
        status=row[4],
        created=row[5],
    )


def _check_limit(limit: int) -> None:
    # SQLite reads a negative LIMIT as "no limit"; never let that through by accident.
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")


_SELECT_KEY = f"SELECT {_KEY_COLUMNS} FROM keys WHERE account = ? AND region = ? AND key_id = ?"
_UPDATE_KEY = (
    "UPDATE keys SET created = ?, key_spec = ?, key_usage = ?, origin = ?, "
    "state = ?, description = ?, policy = ?, tags = ?, deletion_date = ?, "
    "pending_window_days = ?, current_version = ?, multi_region = ?, "
    "rotation_period_days = ?, next_rotation = ? "
    "WHERE account = ? AND region = ? AND key_id = ?"
)


class SqliteStore:
    """Store backed by one SQLite file in WAL mode, safe to share between worker processes.

    Every call runs on one dedicated thread that owns the only connection, so the event loop
    never blocks on disk and the connection is never shared between threads. Reads run on the
    same thread too: the service layer keeps an in-memory cache, so reads are rare on the hot
    path and one thread keeps the ordering of a process's own writes and reads obvious.
    If the awaiting coroutine is cancelled, a write already handed to the thread still runs to
    its commit or rollback; it is never left half done.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # touched only on the executor thread
        # A read-only connection used on the event-loop thread for the point reads behind a
        # cache miss: in WAL mode they never wait for writers and take tens of microseconds,
        # while a hop to the store thread and back costs hundreds (two cross-core wake-ups).
        self._reader: sqlite3.Connection | None = None

    @property
    def path(self) -> str:
        return self._path

    # --- lifetime -------------------------------------------------------------------------
    async def open(self) -> None:
        if self._executor is not None:
            raise StoreError("store is already open")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        try:
            await self._run(self._open_sync)
            reader = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            reader.execute("PRAGMA busy_timeout = 1000")
            reader.execute("PRAGMA query_only = ON")
            self._reader = reader
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    async def close(self) -> None:
        if self._executor is None:
            return
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        try:
            await self._run(self._close_sync)
        finally:
            # The thread is idle once _close_sync has returned, so this join is immediate.
            self._executor.shutdown(wait=True)
            self._executor = None

    def _open_sync(self) -> None:
        # isolation_level=None: the module never opens transactions behind our back; every
        # write below says BEGIN IMMEDIATE itself.
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = _enable_wal(conn)
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"SQLite database {self._path!r} cannot use WAL mode (got {mode!r}); "
                    "put the data directory on a local file system"
                )
            # WAL + NORMAL may lose the last commits on power loss; key material and
            # credentials must be durable once the coroutine returns, so every commit syncs.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Freed pages and deleted cells are zeroed, so destroyed material leaves no copy.
            conn.execute("PRAGMA secure_delete = ON")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        # BEGIN IMMEDIATE serialises workers that start at the same moment on a fresh file.
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"SQLite database {self._path!r} has schema version {current}, newer than "
                    f"this gateway's {SCHEMA_VERSION}; upgrade the gateway"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- plumbing -------------------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("store is not open")
        return self._conn

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        # One statement in autocommit mode is one consistent read snapshot.
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite read failed: {_error_name(exc)}") from exc

    def _write(self, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run body in one short write transaction, committed durably before returning."""
        conn = self._connection()
        try:
            # IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a
            # transaction never fails half-way because another process started writing.
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = body(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError as exc:
            if _error_name(exc) in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"):
                raise DuplicateError(str(exc)) from exc
            raise StoreError(f"SQLite constraint failed: {_error_name(exc)}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite write failed: {_error_name(exc)}") from exc
        return result

    # --- keys -----------------------------------------------------------------------------
    async def create_key(
        self, key: Key, material: WrappedMaterial, *, max_keys: int | None = None
    ) -> None:
        if material.key_id != key.key_id:
            raise ValueError("material.key_id does not match key.key_id")

        def body(conn: sqlite3.Connection) -> None:
            if max_keys is not None:
                # Checked inside the write transaction: concurrent CreateKeys in several
                # worker processes cannot go past the quota together.
                row = conn.execute(
                    "SELECT count FROM key_counts WHERE account = ? AND region = ?",
                    (key.account, key.region),
                ).fetchone()
                if row is not None and row[0] >= max_keys:
                    raise LimitReachedError(f"{max_keys} keys in {key.account}/{key.region}")
            conn.execute(
                f"INSERT INTO keys ({_KEY_COLUMNS}) VALUES ({_marks(len(_KEY_COLUMN_NAMES))})",
                _key_row(key),
            )
            _insert_material(conn, key.account, key.region, material)

        await self._run(self._write, body)

    async def get_key(self, account: str, region: str, key_id: str) -> Key | None:
        rows = await self._run(
            self._read,
            _SELECT_KEY,
            (account, region, key_id),
        )
        return _key_from_row(rows[0]) if rows else None

    async def get_key_with_materials(
        self, account: str, region: str, key_id: str
    ) -> tuple[Key | None, list[WrappedMaterial]]:
        ident = (account, region, key_id)
        conn = self._reader
        if conn is None:
            raise StoreError("store is not open")

        def read() -> tuple[Key | None, list[WrappedMaterial]]:
            # On the loop thread (see _reader), one snapshot for both reads.
            try:
                conn.execute("BEGIN")
                try:
                    row = conn.execute(
                        _SELECT_KEY,
                        ident,
                    ).fetchone()
                    materials = conn.execute(
                        f"SELECT {_MATERIAL_COLUMNS} FROM materials "
                        "WHERE account = ? AND region = ? AND key_id = ? ORDER BY version",
                        ident,
                    ).fetchall()
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite read failed: {_error_name(exc)}") from exc
            if row is None:
                return None, []
            wrapped = [_material_from_row(r) for r in materials]
            return _key_from_row(row), wrapped

        return read()

    async def modify_key(
        self, account: str, region: str, key_id: str, change: Callable[[Key], Key]
    ) -> Key:
        """One write transaction: read the key, apply ``change``, write the result (see the
        protocol). BEGIN IMMEDIATE serialises it with every other writer, in any process."""

        def body(conn: sqlite3.Connection) -> Key:
            row = conn.execute(_SELECT_KEY, (account, region, key_id)).fetchone()
            if row is None:
                raise MissingError(f"key {key_id} not found")
            current = _key_from_row(row)
            changed = change(current)
            if changed == current:
                return current
            if (changed.account, changed.region, changed.key_id) != (account, region, key_id):
                raise ValueError("a change must keep the key's identity")
            conn.execute(_UPDATE_KEY, (*_key_row(changed)[3:], account, region, key_id))
            return changed

        return await self._run(self._write, body)

    async def update_key(self, key: Key, *, expected: Key | None = None) -> None:
        """Replace a key's metadata; MissingError if absent.

        With ``expected`` (an extension of the protocol) the write is a compare-and-swap: it
        happens only if the stored record still equals ``expected``, else ConflictError. Worker
        processes write back records from their own caches, so without it a stale copy could
        silently undo another worker's DisableKey or ScheduleKeyDeletion.
        """
        row = _key_row(key)
        if expected is not None and (expected.account, expected.region, expected.key_id) != (
            key.account,
            key.region,
            key.key_id,
        ):
            raise ValueError("expected must be the same key")
        sql = _UPDATE_KEY
        params: tuple[Any, ...] = (*row[3:], *row[:3])
        if expected is not None:
            # IS compares NULLs as equal; tags are canonical JSON, so text equality is dict
            # equality.
            sql += "".join(f" AND {column} IS ?" for column in _KEY_COLUMN_NAMES[3:])
            params += _key_row(expected)[3:]

        def body(conn: sqlite3.Connection) -> None:
            if conn.execute(sql, params).rowcount == 0:
                _require_key(conn, key.account, key.region, key.key_id)
                raise ConflictError(f"key {key.key_id} changed since it was read")

        await self._run(self._write, body)

    async def list_keys(
        self, account: str, region: str, after: str | None, limit: int
    ) -> list[Key]:
        _check_limit(limit)
        sql = f"SELECT {_KEY_COLUMNS} FROM keys WHERE account = ? AND region = ?"
        params: tuple[Any, ...] = (account, region)
        if after is not None:
            sql += " AND key_id > ?"
            params += (after,)
        sql += " ORDER BY key_id LIMIT ?"
        rows = await self._run(self._read, sql, (*params, limit))
        return [_key_from_row(r) for r in rows]

    async def count_keys(self, account: str, region: str) -> int:
        rows = await self._run(
            self._read,
            "SELECT count FROM key_counts WHERE account = ? AND region = ?",
            (account, region),
        )
        return int(rows[0][0]) if rows else 0

    async def changes_since(
        self, after: int | None
    ) -> tuple[int, list[tuple[str, str, str, str]] | None]:
        """(latest change id, changes after ``after``), or None for the changes when some
        were already pruned: the caller must then forget everything it cached."""

        def read() -> tuple[int, list[tuple[str, str, str, str]] | None]:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
                try:
                    low, high = conn.execute("SELECT min(id), max(id) FROM changes").fetchone()
                    if high is None:
                        return after or 0, []
                    if after is None:
                        return high, []  # a fresh cache has nothing to forget
                    if low > after + 1:
                        return high, None
                    rows = conn.execute(
                        "SELECT kind, account, region, name FROM changes WHERE id > ? ORDER BY id",
                        (after,),
                    ).fetchall()
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite read failed: {_error_name(exc)}") from exc
            return high, [(str(k), str(a), str(r), str(n)) for k, a, r, n in rows]

        return await self._run(read)

    async def prune_changes(self) -> None:
        def body(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM changes WHERE id <= (SELECT max(id) FROM changes) - ?",
                (CHANGES_KEPT,),
            )

        await self._run(self._write, body)

    async def key_state_counts(self) -> list[tuple[str, str, str, int]]:
        rows = await self._run(
            self._read,
            "SELECT account, region, state, count(*) FROM keys GROUP BY account, region, state",
            (),
        )
        return [(str(a), str(r), str(s), int(n)) for a, r, s, n in rows]

    async def delete_key(
        self, account: str, region: str, key_id: str, *, due_at: float | None = None
    ) -> None:
        """Destroy a key, its materials and aliases in one transaction; MissingError if absent.

        With ``due_at`` (an extension of the protocol) the key is destroyed only if it is still
        PendingDeletion with deletion_date <= due_at, else MissingError: the deletion sweeper
        must not destroy a key whose deletion another worker cancelled after the sweep read it.
        """
        ident = (account, region, key_id)

        def body(conn: sqlite3.Connection) -> None:
            if due_at is not None:
                row = conn.execute(
                    "SELECT 1 FROM keys WHERE account = ? AND region = ? AND key_id = ? "
                    "AND state = 'PendingDeletion' AND deletion_date <= ?",
                    (*ident, due_at),
                ).fetchone()
                if row is None:
                    raise MissingError(f"key {key_id} is not due for deletion")
            conn.execute(
                "DELETE FROM aliases WHERE account = ? AND region = ? AND target_key_id = ?",
                ident,
            )
            conn.execute(
                "DELETE FROM materials WHERE account = ? AND region = ? AND key_id = ?", ident
            )
            cur = conn.execute(
                "DELETE FROM keys WHERE account = ? AND region = ? AND key_id = ?", ident
            )
            if cur.rowcount == 0:
                raise MissingError(f"key {key_id} not found")

        await self._run(self._write, body)
        await self._run(self._scrub_wal)

    def _scrub_wal(self) -> None:
        # secure_delete zeroes destroyed material (or a secret) in the database pages, but
        # the WAL still holds older page images until it is reset. Checkpoint and truncate it
        # now so the destroyed bytes are gone from disk. Best effort: if another process is
        # mid-read the WAL is only partly reset, and old frames are overwritten as it is
        # reused. This may wait up to busy_timeout for readers: fine for a rare deletion.
        try:
            self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            # The deletion itself has committed; failing the call now would make the caller
            # believe it had not.
            log.warning("WAL checkpoint after a deletion failed: %s", _error_name(exc))

    async def keys_due_for_deletion(self, now: float) -> list[Key]:
        rows = await self._run(
            self._read,
            f"SELECT {_KEY_COLUMNS} FROM keys "
            "WHERE state = 'PendingDeletion' AND deletion_date <= ? "
            "ORDER BY deletion_date, account, region, key_id",
            (now,),
        )
        return [_key_from_row(r) for r in rows]

    async def keys_due_for_rotation(self, now: float) -> list[Key]:
        rows = await self._run(
            self._read,
            f"SELECT {_KEY_COLUMNS} FROM keys "
            "WHERE next_rotation <= ? AND state = 'Enabled' "
            "ORDER BY next_rotation, account, region, key_id",
            (now,),
        )
        return [_key_from_row(r) for r in rows]

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
        """One write transaction: read the key, apply ``change`` (None: no rotation after all),
        add ``material_for(next version)`` and make that version current. LimitReachedError
        if the key has ``max_of_type`` versions of the new material's rotation type."""

        def body(conn: sqlite3.Connection) -> Key | None:
            row = conn.execute(_SELECT_KEY, (account, region, key_id)).fetchone()
            if row is None:
                raise MissingError(f"key {key_id} not found")
            current = _key_from_row(row)
            changed = change(current)
            if changed is None:
                return None
            material = material_for(current.current_version + 1)
            if max_of_type is not None:
                (count,) = conn.execute(
                    "SELECT count(*) FROM materials WHERE account = ? AND region = ? "
                    "AND key_id = ? AND rotation_type = ?",
                    (account, region, key_id, material.rotation_type),
                ).fetchone()
                if count >= max_of_type:
                    raise LimitReachedError(f"{count} {material.rotation_type} rotations")
            changed = changed.copy(current_version=material.version)
            _insert_material(conn, account, region, material)
            conn.execute(_UPDATE_KEY, (*_key_row(changed)[3:], account, region, key_id))
            return changed

        return await self._run(self._write, body)

    # --- key material ---------------------------------------------------------------------
    async def get_materials(self, account: str, region: str, key_id: str) -> list[WrappedMaterial]:
        rows = await self._run(
            self._read,
            f"SELECT {_MATERIAL_COLUMNS} FROM materials "
            "WHERE account = ? AND region = ? AND key_id = ? ORDER BY version",
            (account, region, key_id),
        )
        return [_material_from_row(r) for r in rows]

    async def add_material(self, account: str, region: str, material: WrappedMaterial) -> None:
        def body(conn: sqlite3.Connection) -> None:
            _require_key(conn, account, region, material.key_id)
            _insert_material(conn, account, region, material)

        await self._run(self._write, body)

    # --- aliases --------------------------------------------------------------------------
    async def create_alias(self, alias: Alias, *, max_per_key: int | None = None) -> None:
        def body(conn: sqlite3.Connection) -> None:
            # Checked inside the transaction: a key deleted by another worker a moment ago
            # must not get a dangling alias, nor a key more aliases than its quota.
            _require_key(conn, alias.account, alias.region, alias.target_key_id)
            _check_alias_room(conn, alias, max_per_key)
            conn.execute(
                f"INSERT INTO aliases ({_ALIAS_COLUMNS}) VALUES ({_marks(6)})",
                (
                    alias.account,
                    alias.region,
                    alias.name,
                    alias.target_key_id,
                    alias.created,
                    alias.updated,
                ),
            )

        await self._run(self._write, body)

    async def get_alias(self, account: str, region: str, name: str) -> Alias | None:
        # Behind a cache miss on the hot path: a point read on the loop thread (see _reader).
        conn = self._reader
        if conn is None:
            raise StoreError("store is not open")
        try:
            row = conn.execute(
                f"SELECT {_ALIAS_COLUMNS} FROM aliases "
                "WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite read failed: {_error_name(exc)}") from exc
        return _alias_from_row(row) if row else None

    async def update_alias(self, alias: Alias, *, max_per_key: int | None = None) -> None:
        def body(conn: sqlite3.Connection) -> None:
            _require_key(conn, alias.account, alias.region, alias.target_key_id)
            _check_alias_room(conn, alias, max_per_key)
            cur = conn.execute(
                "UPDATE aliases SET target_key_id = ?, created = ?, updated = ? "
                "WHERE account = ? AND region = ? AND name = ?",
                (
                    alias.target_key_id,
                    alias.created,
                    alias.updated,
                    alias.account,
                    alias.region,
                    alias.name,
                ),
            )
            if cur.rowcount == 0:
                raise MissingError(f"alias {alias.name} not found")

        await self._run(self._write, body)

    async def delete_alias(self, account: str, region: str, name: str) -> None:
        def body(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "DELETE FROM aliases WHERE account = ? AND region = ? AND name = ?",
                (account, region, name),
            )
            if cur.rowcount == 0:
                raise MissingError(f"alias {name} not found")

        await self._run(self._write, body)

    async def list_aliases(
        self, account: str, region: str, key_id: str | None, after: str | None, limit: int
    ) -> list[Alias]:
        _check_limit(limit)
        sql = f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account = ? AND region = ?"
        params: tuple[Any, ...] = (account, region)
        if key_id is not None:
            sql += " AND target_key_id = ?"
            params += (key_id,)
        if after is not None:
            sql += " AND name > ?"
            params += (after,)
        sql += " ORDER BY name LIMIT ?"
        rows = await self._run(self._read, sql, (*params, limit))
        return [_alias_from_row(r) for r in rows]

    async def count_aliases(self, account: str, region: str, key_id: str) -> int:
        rows = await self._run(
            self._read,
            "SELECT count(*) FROM aliases WHERE account = ? AND region = ? AND target_key_id = ?",
            (account, region, key_id),
        )
        return int(rows[0][0])

    # --- access keys ----------------------------------------------------------------------
    async def create_access_key(self, access_key: AccessKey) -> None:
        def body(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO access_keys ({_ACCESS_KEY_COLUMNS}) VALUES ({_marks(6)})",
                (
                    access_key.access_key_id,
                    access_key.account,
                    access_key.user_name,
                    access_key.wrapped_secret,
                    access_key.status,
                    access_key.created,
                ),
            )

        await self._run(self._write, body)

    async def get_access_key(self, access_key_id: str) -> AccessKey | None:
        rows = await self._run(
            self._read,
            f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?",
            (access_key_id,),
        )
        return _access_key_from_row(rows[0]) if rows else None

    async def list_access_keys(self, account: str) -> list[AccessKey]:
        rows = await self._run(
            self._read,
            f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE account = ? "
            "ORDER BY access_key_id",
            (account,),
        )
        return [_access_key_from_row(r) for r in rows]

    async def update_access_key(self, access_key: AccessKey) -> None:
        """Replace an access key's record; MissingError if absent."""

        def body(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE access_keys SET account = ?, user_name = ?, wrapped_secret = ?, "
                "status = ?, created = ? WHERE access_key_id = ?",
                (
                    access_key.account,
                    access_key.user_name,
                    access_key.wrapped_secret,
                    access_key.status,
                    access_key.created,
                    access_key.access_key_id,
                ),
            )
            if cur.rowcount == 0:
                raise MissingError(f"access key {access_key.access_key_id} not found")

        await self._run(self._write, body)

    async def delete_access_key(self, access_key_id: str) -> None:
        """Destroy an access key and its wrapped secret; MissingError if absent."""

        def body(conn: sqlite3.Connection) -> None:
            cur = conn.execute("DELETE FROM access_keys WHERE access_key_id = ?", (access_key_id,))
            if cur.rowcount == 0:
                raise MissingError(f"access key {access_key_id} not found")

        await self._run(self._write, body)
        await self._run(self._scrub_wal)


def _enable_wal(conn: sqlite3.Connection) -> str:
    """Switch the file to WAL (a persistent setting) and return the resulting mode."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            # Switching a fresh file to WAL needs an exclusive lock, and SQLite returns BUSY
            # at once instead of calling the busy handler; workers starting together retry.
            if _error_name(exc) != "SQLITE_BUSY" or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _error_name(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", None) or type(exc).__name__


def _check_alias_room(conn: sqlite3.Connection, alias: Alias, max_per_key: int | None) -> None:
    """LimitReachedError if ``alias``'s target key has ``max_per_key`` aliases besides it."""
    if max_per_key is None:
        return
    (count,) = conn.execute(
        "SELECT count(*) FROM aliases "
        "WHERE account = ? AND region = ? AND target_key_id = ? AND name != ?",
        (alias.account, alias.region, alias.target_key_id, alias.name),
    ).fetchone()
    if count >= max_per_key:
        raise LimitReachedError(f"{max_per_key} aliases on key {alias.target_key_id}")


def _require_key(conn: sqlite3.Connection, account: str, region: str, key_id: str) -> None:
    row = conn.execute(
        "SELECT 1 FROM keys WHERE account = ? AND region = ? AND key_id = ?",
        (account, region, key_id),
    ).fetchone()
    if row is None:
        raise MissingError(f"key {key_id} not found")


def _insert_material(
    conn: sqlite3.Connection, account: str, region: str, material: WrappedMaterial
) -> None:
    conn.execute(
        "INSERT INTO materials (account, region, key_id, version, wrapped, created, "
        "rotation_type) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            account,
            region,
            material.key_id,
            material.version,
            material.wrapped,
            material.created,
            material.rotation_type,
        ),
    )
