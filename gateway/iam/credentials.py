"""Access keys: creation, the bootstrap administrator, and the lookup SigV4 needs.

Secrets are stored wrapped under the root key (SigV4 recomputes an HMAC with the secret,
so it cannot be hashed) and kept unwrapped only in this process's cache.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gateway.caller import Caller
from gateway.keys.model import AccessKey
from gateway.keys.rootkey import RootKey, secret_aad
from gateway.store.base import Store

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
CREDENTIALS_FILE = "credentials"


def new_access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


@dataclass(frozen=True, slots=True)
class ActiveKey:
    record: AccessKey
    secret: str
    # The Caller of each region this key has signed for, built once rather than per
    # request. Regions are checked against AWS's fixed list first, so it stays small.
    _callers: dict[str, Caller] = field(default_factory=dict, repr=False, compare=False)

    def caller(self, region: str) -> Caller:
        """Who calls with this key, acting in ``region``."""
        caller = self._callers.get(region)
        if caller is None:
            record = self.record
            caller = Caller(record.account, region, record.principal_arn, record.access_key_id)
            self._callers[region] = caller
        return caller


class Credentials:
    def __init__(
        self,
        store: Store,
        root_key: RootKey,
        *,
        negative_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._root_key = root_key
        self._cache: dict[str, ActiveKey] = {}
        # Unknown ids are remembered briefly so a flood of bad ids doesn't hit the store.
        self._unknown: dict[str, float] = {}
        self._negative_seconds = negative_seconds
        self._clock = clock

    def cached(self, access_key_id: str) -> ActiveKey | None:
        """The active key if this process has it already: the request path tries this first."""
        return self._cache.get(access_key_id)

    async def lookup(self, access_key_id: str) -> ActiveKey | None:
        """The active key with this id and its secret, or None."""
        hit = self.cached(access_key_id)
        if hit is not None:
            return hit
        if not access_key_id.isascii():
            # Ids are ASCII; header bytes that are not UTF-8 arrive as lone surrogates,
            # which the store cannot even encode to look up.
            return None
        now = self._clock()
        if self._unknown.get(access_key_id, 0.0) > now:
            return None
        record = await self._store.get_access_key(access_key_id)
        if record is None or record.status != "Active":
            if len(self._unknown) > 10_000:
                self._unknown.clear()
            self._unknown[access_key_id] = now + self._negative_seconds
            return None
        secret = self._root_key.unwrap(record.wrapped_secret, secret_aad(access_key_id)).decode()
        active = ActiveKey(record, secret)
        self._cache[access_key_id] = active
        return active

    async def create(
        self,
        account: str,
        user_name: str,
        access_key_id: str | None = None,
        secret: str | None = None,
    ) -> ActiveKey:
        access_key_id = access_key_id or new_access_key_id()
        secret = secret or new_secret_access_key()
        record = AccessKey(
            access_key_id=access_key_id,
            account=account,
            user_name=user_name,
            wrapped_secret=self._root_key.wrap(secret.encode(), secret_aad(access_key_id)),
            status="Active",
            created=time.time(),
        )
        await self._store.create_access_key(record)
        return ActiveKey(record, secret)


async def bootstrap_admin(
    credentials: Credentials,
    store: Store,
    account: str,
    data_dir: Path,
    env: Mapping[str, str] = os.environ,
) -> str | None:
    """Give a new data dir its administrator key; returns a message to print once, or None.

    With GATEWAY_ACCESS_KEY_ID and GATEWAY_SECRET_ACCESS_KEY set, they become the key;
    otherwise a key pair is generated and written as an AWS shared-credentials file.
    """
    if await store.list_access_keys(account):
        return None
    given_id = env.get("GATEWAY_ACCESS_KEY_ID")
    given_secret = env.get("GATEWAY_SECRET_ACCESS_KEY")
    if given_id and given_secret:
        await credentials.create(account, "root", given_id, given_secret)
        return f"Administrator access key {given_id} taken from the environment."
    admin = await credentials.create(account, "root")
    path = data_dir / CREDENTIALS_FILE
    text = (
        "[default]\n"
        f"aws_access_key_id = {admin.record.access_key_id}\n"
        f"aws_secret_access_key = {admin.secret}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return (
        "Generated the administrator access key (shown once):\n"
        f"  aws_access_key_id     = {admin.record.access_key_id}\n"
        f"  aws_secret_access_key = {admin.secret}\n"
        f"Saved as an AWS shared-credentials file: AWS_SHARED_CREDENTIALS_FILE={path.resolve()}"
    )
