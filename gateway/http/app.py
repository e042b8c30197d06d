"""The application factory: builds every stateful part once and wires the routes."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from prometheus_client import ProcessCollector, disable_created_metrics

from gateway.bootstrap import database_path
from gateway.config import Settings, idle_ecdsa_thread
from gateway.crypto.batcher import CryptoBatcher
from gateway.crypto.ecdsa import nonce_stats, start_nonce_precompute, stop_nonce_precompute
from gateway.http import request_target
from gateway.http.answer import as_response
from gateway.http.connections import ConnectionCap
from gateway.http.endpoint import KmsEndpoint
from gateway.iam.credentials import Credentials
from gateway.keys.repository import KeyRepository
from gateway.keys.rootkey import RootKey
from gateway.kms.deletion import run_deletion_sweeper
from gateway.kms.rotation import run_rotation_sweeper
from gateway.kms.service import Kms
from gateway.metrics import process
from gateway.metrics.exposition import multiprocess_dir, render
from gateway.metrics.flushing import flush_periodically
from gateway.metrics.live import LiveValue, register_live_values, sample_live_values
from gateway.metrics.stored import snapshot
from gateway.metrics.usage import GatewayMetrics
from gateway.quotas.enforcer import QuotaEnforcer
from gateway.quotas.limiter import Limiter, LocalLimiter
from gateway.quotas.shared import SharedLimiter
from gateway.quotas.table import QuotaTable
from gateway.store.sqlite import SqliteStore

SETTINGS = web.AppKey("settings", Settings)
KMS = web.AppKey("kms", Kms)
CREDENTIALS = web.AppKey("credentials", Credentials)
ENDPOINT = web.AppKey("kms_endpoint", KmsEndpoint)
METRICS = web.AppKey("metrics", GatewayMetrics)
CONNECTIONS = web.AppKey("connections", ConnectionCap)

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def _aws_json(request: web.Request) -> web.StreamResponse:
    return as_response(await request.app[ENDPOINT].handle(request))


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(request: web.Request) -> web.Response:
    app = request.app
    stored = await snapshot(app[KMS].store)
    app[METRICS].flush()  # this worker's own counts are never late
    body = render(app[METRICS].registry, stored)
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})


def _live_values(
    endpoint: KmsEndpoint, crypto: CryptoBatcher, connections: ConnectionCap
) -> list[LiveValue]:
    return [
        LiveValue(
            "gateway_in_flight_requests",
            "Requests being handled right now.",
            lambda: endpoint.in_flight,
        ),
        LiveValue(
            "gateway_open_connections",
            "Client connections open right now.",
            lambda: connections.open,
        ),
        LiveValue(
            "gateway_connections_refused_total",
            "Connections closed as soon as they were accepted, because their worker had "
            "max_connections open (drops when a worker restarts).",
            lambda: connections.refused,
        ),
        LiveValue(
            "gateway_crypto_queue_depth",
            "Crypto items waiting for their batch.",
            lambda: crypto.pending,
        ),
        LiveValue(
            "gateway_crypto_in_flight",
            "Crypto items inside a native call.",
            lambda: crypto.in_flight,
        ),
        LiveValue(
            "gateway_ecdsa_nonces_ready",
            "ECDSA nonces precomputed and waiting for a signature, all curves.",
            lambda: (stats := nonce_stats()).ready_p256 + stats.ready_p384,
        ),
        LiveValue(
            "gateway_ecdsa_signatures_precomputed_total",
            "ECDSA signatures made with a precomputed nonce.",
            lambda: nonce_stats().signed_precomputed,
        ),
        LiveValue(
            "gateway_ecdsa_signatures_pool_empty_total",
            "ECDSA signatures that found their curve's nonce pool empty (or being refilled "
            "at that instant) and paid in full.",
            lambda: nonce_stats().signed_pool_empty,
        ),
        LiveValue(
            "gateway_worker_resident_memory_bytes",
            "Resident memory of the worker processes.",
            process.resident_memory_bytes,
        ),
        LiveValue(
            "gateway_worker_cpu_seconds_total",
            "CPU time used by the worker processes (drops when a worker restarts).",
            process.cpu_seconds,
        ),
    ]


def create_app(settings: Settings, *, shared_quotas: Path | None = None) -> web.Application:
    """The app of one worker; ``shared_quotas`` is the bucket table the workers share."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    # Attached to the server once the runner has made it (gateway/cli.py).
    app[CONNECTIONS] = ConnectionCap(settings.max_connections)
    # The *_created series double every counter and appear only in single-process mode;
    # without them the output is the same whatever the number of workers.
    disable_created_metrics()

    async def services(app: web.Application) -> AsyncIterator[None]:
        root_key = RootKey.load(settings.data_dir, env=os.environ)
        store = SqliteStore(database_path(settings.data_dir))
        await store.open()
        table = QuotaTable(settings.quota_overrides)
        metrics = GatewayMetrics(table)
        crypto = CryptoBatcher(
            inline_ecdsa_max=settings.ecdsa_inline_max,
            idle_ecdsa_thread=idle_ecdsa_thread(settings),
            on_batch=metrics.on_batch,
        )
        if settings.ecdsa_precompute:
            start_nonce_precompute(settings.ecdsa_precompute)
        limiter: Limiter = (
            SharedLimiter.attach(shared_quotas) if shared_quotas is not None else LocalLimiter()
        )
        quotas = QuotaEnforcer(table, limiter, listener=metrics.on_charge)
        kms = Kms(
            store=store,
            keys=KeyRepository(store, root_key),
            root_key=root_key,
            crypto=crypto,
            quotas=quotas,
            day_seconds=settings.deletion_day_seconds,
        )
        credentials = Credentials(store, root_key)
        endpoint = KmsEndpoint(
            kms,
            credentials,
            max_body_bytes=settings.max_body_bytes,
            body_timeout=settings.body_timeout_seconds,
            max_in_flight=settings.max_in_flight,
            metrics=metrics,
        )
        app[KMS], app[CREDENTIALS], app[ENDPOINT], app[METRICS] = (
            kms,
            credentials,
            endpoint,
            metrics,
        )
        tasks = [
            asyncio.create_task(run_deletion_sweeper(kms, settings.deletion_sweep_seconds)),
            # Due rotations are looked for as often as due deletions.
            asyncio.create_task(run_rotation_sweeper(kms, settings.deletion_sweep_seconds)),
            asyncio.create_task(kms.keys.run_refresher(settings.key_cache_seconds)),
        ]
        live = _live_values(endpoint, crypto, app[CONNECTIONS])
        if multiprocess_dir() is None:
            register_live_values(metrics.registry, live)
            ProcessCollector(registry=metrics.registry)
        else:
            tasks.append(asyncio.create_task(sample_live_values(metrics.registry, live)))
            # The other workers' scrapes read this worker's counts from the shared files.
            tasks.append(asyncio.create_task(flush_periodically(metrics.flush)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await crypto.close()
            stop_nonce_precompute()  # after the last batch: no signature waits on it
            metrics.flush()  # after the batcher's last batches, so no count is lost
            kms.handles.close()  # native key handles, once no batch can still use them
            limiter.close()
            await store.close()

    app.router.add_post("/", _aws_json)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    request_target.add_route(app)
    app.cleanup_ctx.append(services)
    return app
