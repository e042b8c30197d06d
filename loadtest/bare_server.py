"""The ceiling of our stack: aiohttp on uvloop answering an Encrypt-sized JSON request.

It does what every gateway request must do at the least (read the body, parse the JSON,
serialise an answer of the same size) and nothing else: no SigV4, no keys, no crypto.
Run: python -m loadtest.bare_server --port 8081 --processes 2 [--fast-lane]

By default ``POST /`` goes through aiohttp's router, as the issue's bare handler does; with
``--fast-lane`` it is taken ahead of the router by the gateway's own lane
(``gateway/http/fast_lane.py``), so the gateway can also be compared with a ceiling on the
same path through aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import signal

import orjson
from aiohttp import web

from gateway.http import fast_lane

# The gateway's ciphertext blob of a 32-byte plaintext is 82 bytes: answer the same size.
_BLOB = base64.b64encode(os.urandom(82)).decode()
_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/" + "0" * 36


async def _encrypt_shaped(request: web.BaseRequest) -> web.Response:
    params = orjson.loads(await request.read())
    body = orjson.dumps(
        {
            "CiphertextBlob": _BLOB,
            "KeyId": params.get("KeyId", _KEY_ARN),
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }
    )
    return web.Response(body=body, content_type="application/x-amz-json-1.1")


async def start(port: int, reuse_port: bool, lane: bool) -> web.AppRunner:
    """The bare server listening on 127.0.0.1:``port`` (0: any free port)."""
    app = web.Application()
    app.router.add_post("/", _encrypt_shaped)
    app.router.add_get("/", _ok)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    if lane:
        assert runner.server is not None
        fast_lane.install(app, runner.server, _encrypt_shaped)
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_port=reuse_port, backlog=1024)
    await site.start()
    return runner


async def _serve(port: int, reuse_port: bool, lane: bool) -> None:
    runner = await start(port, reuse_port, lane)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _worker(port: int, reuse_port: bool, lane: bool) -> None:
    import uvloop

    uvloop.run(_serve(port, reuse_port, lane))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--fast-lane", action="store_true", help="POST / ahead of the router")
    args = parser.parse_args()
    if args.processes == 1:
        _worker(args.port, False, args.fast_lane)
        return
    # The same shape as `gateway serve --workers N`: spawned processes on one SO_REUSEPORT port.
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker, args=(args.port, True, args.fast_lane))
        for _ in range(args.processes)
    ]
    for process in workers:
        process.start()

    def stop(signum: int, frame: object) -> None:
        for process in workers:
            process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in workers:
        process.join()


if __name__ == "__main__":
    main()
