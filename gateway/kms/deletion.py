"""Destroys keys whose deletion waiting period has ended, as KMS's internal DeleteKey does."""

from __future__ import annotations

import logging

from gateway.kms.service import Kms
from gateway.kms.sweeping import sweep_forever
from gateway.store.base import MissingError

log = logging.getLogger("gateway.kms.deletion")


async def delete_due_keys(kms: Kms) -> int:
    """Delete every key past its deletion date; returns how many this call destroyed."""
    deleted = 0
    await kms.store.prune_changes()  # keep the change log bounded; rare, like this sweep
    now = kms.clock()
    for key in await kms.store.keys_due_for_deletion(now):
        try:
            # due_at: a deletion cancelled meanwhile by another worker is not carried out.
            await kms.store.delete_key(key.account, key.region, key.key_id, due_at=now)
        except MissingError:
            continue  # cancelled, or another worker process got there first
        kms.keys.forget(key.account, key.region, key.key_id)
        kms.handles.forget(key.account, key.region, key.key_id)
        deleted += 1
        log.info("key deleted", extra={"event": "DeleteKey", "key_arn": key.arn})
    return deleted


async def run_deletion_sweeper(kms: Kms, interval: float) -> None:
    await sweep_forever(delete_due_keys, kms, interval, log)
