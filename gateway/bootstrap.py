"""First-start preparation of a data dir: root key, database schema, administrator key.

Runs once in the parent process before any worker starts, so workers never race to
create these.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.config import Settings
from gateway.iam.credentials import Credentials, bootstrap_admin
from gateway.keys.rootkey import RootKey
from gateway.store.sqlite import SqliteStore

DATABASE_FILE = "gateway.db"


def database_path(data_dir: Path) -> Path:
    return data_dir / DATABASE_FILE


async def prepare_data_dir(settings: Settings) -> str | None:
    """Create what a new data dir lacks; returns the one-time message for the operator."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    root_key = RootKey.load(settings.data_dir, env=os.environ)
    store = SqliteStore(database_path(settings.data_dir))
    await store.open()
    try:
        credentials = Credentials(store, root_key)
        return await bootstrap_admin(credentials, store, settings.account_id, settings.data_dir)
    finally:
        await store.close()
