"""``gateway serve`` and ``gateway admin``: the command line.

``serve`` prepares the data dir once, then runs one worker in this process or pre-forks
``--workers N`` processes that share the port through SO_REUSEPORT and the store.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, Settings, load_settings
from gateway.logs import configure_logging

log = logging.getLogger("gateway")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="address to listen on (GATEWAY_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (GATEWAY_PORT, default 8080)")
    serve.add_argument("--data-dir", help="where keys live (GATEWAY_DATA_DIR)")
    serve.add_argument("--workers", type=int, help="worker processes (GATEWAY_WORKERS, default 1)")
    serve.add_argument("--config", help="TOML config file (GATEWAY_CONFIG)")
    serve.add_argument("--tls-cert", help="PEM certificate chain; enables TLS 1.2+")
    serve.add_argument("--tls-key", help="PEM private key for --tls-cert")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING (GATEWAY_LOG_LEVEL)")
    admin = commands.add_parser("admin", help="maintenance commands")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_commands.add_parser(
        "create-access-key", help="create an access key and print it once"
    )
    create.add_argument("--data-dir")
    create.add_argument("--config")
    create.add_argument("--user", default="root", help="IAM user name (default: root)")
    quotas = commands.add_parser("quotas", help="print the effective quota table")
    quotas.add_argument("--config", help="TOML config file with [[quota]] overrides")
    quotas.add_argument("--account", help="account id (default: GATEWAY_ACCOUNT_ID)")
    quotas.add_argument("--region", default="us-east-1", help="region (default: us-east-1)")
    return parser


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


async def _serve_worker(settings: Settings, reuse_port: bool, shared_quotas: Path | None) -> None:
    from gateway.http.app import create_app
    from gateway.http.connections import ensure_descriptors
    from gateway.http.runner import start_runner

    ensure_descriptors(settings.max_connections)
    app = create_app(settings, shared_quotas=shared_quotas)
    runner = await start_runner(app, settings)
    assert runner.server is not None
    loop = asyncio.get_running_loop()
    tls = _tls_context(settings)
    # The listening socket is made here rather than by aiohttp's TCPSite, which passes no
    # TLS handshake timeout: a connection stalled in its handshake is idle too, and is
    # closed after the same GATEWAY_IDLE_TIMEOUT_SECONDS (asyncio's own default is 60 s).
    listener = await loop.create_server(
        runner.server,
        settings.host,
        settings.port,
        ssl=tls,
        ssl_handshake_timeout=settings.idle_timeout_seconds if tls is not None else None,
        reuse_port=reuse_port,
        backlog=1024,
    )
    # Everything built so far (service models, validators) lives as long as the process:
    # take it out of the collector's sight, or every full collection walks it (a 15 ms
    # pause was measured under load without this).
    gc.collect()
    gc.freeze()
    scheme = "https" if settings.tls_cert else "http"
    log.info("serving", extra={"url": f"{scheme}://{settings.host}:{settings.port}"})
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    listener.close()  # no new connections; then the runner closes the open ones
    await runner.cleanup()


def _worker_main(settings: Settings, reuse_port: bool, shared_quotas: Path | None) -> None:
    import uvloop

    configure_logging(settings.log_level)
    uvloop.run(_serve_worker(settings, reuse_port, shared_quotas))


def serve(settings: Settings) -> int:
    from gateway.bootstrap import prepare_data_dir

    message = asyncio.run(prepare_data_dir(settings))
    if message:
        print(message, flush=True)
    if settings.workers == 1:
        _worker_main(settings, False, None)
        return 0
    return _supervise(settings)


def _runtime_path(suffix: str) -> Path:
    # tmpfs when there is one: shared state that is hot and never worth writing to disk.
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    return base / f"kms-gateway-{os.getpid()}.{suffix}"


def _supervise(settings: Settings) -> int:
    """Run N workers on one port; restart one that dies, stop all on SIGTERM/SIGINT."""
    from gateway.quotas.shared import SharedLimiter

    context = multiprocessing.get_context("spawn")
    stopping = False
    # One bucket table for all workers keeps the quotas exact across them.
    quota_path = _runtime_path("quotas")
    SharedLimiter.create(quota_path).close()
    # Every worker's metric values go to files here; a scrape of any worker sums them all.
    metrics_dir = _runtime_path("metrics")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    def start() -> Any:
        process = context.Process(
            target=_worker_main, args=(settings, True, quota_path), daemon=False
        )
        process.start()
        return process

    workers = [start() for _ in range(settings.workers)]

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in workers:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    from multiprocessing.connection import wait

    while not stopping:
        wait([p.sentinel for p in workers], timeout=1.0)
        for i, process in enumerate(workers):
            if not process.is_alive() and not stopping:
                log.error("worker exited; restarting", extra={"exitcode": process.exitcode})
                _forget_worker_metrics(process.pid)
                workers[i] = start()
    for process in workers:
        process.join(timeout=10)
    quota_path.unlink(missing_ok=True)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _forget_worker_metrics(pid: int | None) -> None:
    """A dead worker's live gauges must stop counting in the sums."""
    from prometheus_client import multiprocess

    if pid is not None:
        multiprocess.mark_process_dead(pid)


def _create_access_key(args: argparse.Namespace) -> int:
    from gateway.bootstrap import database_path
    from gateway.iam.credentials import Credentials
    from gateway.keys.rootkey import RootKey
    from gateway.store.sqlite import SqliteStore

    settings = load_settings({"data_dir": args.data_dir, "config": args.config})

    async def create() -> str:
        import os

        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        root_key = RootKey.load(settings.data_dir, env=os.environ)
        store = SqliteStore(database_path(settings.data_dir))
        await store.open()
        try:
            active = await Credentials(store, root_key).create(settings.account_id, args.user)
        finally:
            await store.close()
        return (
            f"aws_access_key_id = {active.record.access_key_id}\n"
            f"aws_secret_access_key = {active.secret}"
        )

    print(asyncio.run(create()))
    return 0


def _print_quotas(args: argparse.Namespace) -> int:
    from gateway.quotas.table import QuotaTable

    settings = load_settings({"config": args.config})
    account = args.account or settings.account_id
    table = QuotaTable(settings.quota_overrides)
    print(f"Effective quotas for account {account} in {args.region}")
    print(f"{'quota':48} {'value':>10}  unit")
    for quota, value in table.rows(account, args.region):
        unit = "requests/s" if quota.kind == "rate" else "count"
        shown = f"{value:g}"
        marker = "" if quota.adjustable else "  (not adjustable)"
        print(f"{quota.id:48} {shown:>10}  {unit}{marker}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            flags = {
                name: getattr(args, name)
                for name in (
                    "host",
                    "port",
                    "data_dir",
                    "workers",
                    "config",
                    "tls_cert",
                    "tls_key",
                    "log_level",
                )
            }
            settings = load_settings(flags)
            configure_logging(settings.log_level)
            return serve(settings)
        if args.command == "quotas":
            return _print_quotas(args)
        return _create_access_key(args)
    except ConfigError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
