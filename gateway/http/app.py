"""The application factory: builds every stateful part once and wires the routes."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from gateway.bootstrap import database_path
from gateway.config import Settings
from gateway.crypto.batcher import CryptoBatcher
from gateway.http.endpoint import KmsEndpoint
from gateway.iam.credentials import Credentials
from gateway.keys.repository import KeyRepository
from gateway.keys.rootkey import RootKey
from gateway.kms.deletion import run_deletion_sweeper
from gateway.kms.service import Kms
from gateway.quotas.enforcer import QuotaEnforcer
from gateway.quotas.limiter import Limiter, LocalLimiter
from gateway.quotas.shared import SharedLimiter
from gateway.quotas.table import QuotaTable
from gateway.store.sqlite import SqliteStore

SETTINGS = web.AppKey("settings", Settings)
KMS = web.AppKey("kms", Kms)
CREDENTIALS = web.AppKey("credentials", Credentials)
ENDPOINT = web.AppKey("kms_endpoint", KmsEndpoint)


async def _aws_json(request: web.Request) -> web.Response:
    return await request.app[ENDPOINT].handle(request)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Settings, *, shared_quotas: Path | None = None) -> web.Application:
    """The app of one worker; ``shared_quotas`` is the bucket table the workers share."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings

    async def services(app: web.Application) -> AsyncIterator[None]:
        root_key = RootKey.load(settings.data_dir, env=os.environ)
        store = SqliteStore(database_path(settings.data_dir))
        await store.open()
        crypto = CryptoBatcher()
        limiter: Limiter = (
            SharedLimiter.attach(shared_quotas) if shared_quotas is not None else LocalLimiter()
        )
        quotas = QuotaEnforcer(QuotaTable(settings.quota_overrides), limiter)
        kms = Kms(
            store=store,
            keys=KeyRepository(store, root_key, cache_seconds=settings.key_cache_seconds),
            root_key=root_key,
            crypto=crypto,
            quotas=quotas,
            day_seconds=settings.deletion_day_seconds,
        )
        credentials = Credentials(store, root_key)
        app[KMS] = kms
        app[CREDENTIALS] = credentials
        endpoint = KmsEndpoint(
            kms,
            credentials,
            max_body_bytes=settings.max_body_bytes,
            max_in_flight=settings.max_in_flight,
        )
        app[ENDPOINT] = endpoint
        sweeper = asyncio.create_task(run_deletion_sweeper(kms, settings.deletion_sweep_seconds))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await crypto.close()
            limiter.close()
            await store.close()

    app.router.add_post("/", _aws_json)
    app.router.add_get("/healthz", _healthz)
    app.cleanup_ctx.append(services)
    return app
