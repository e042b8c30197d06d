"""CPU per request of the gateway's own work: ``KmsEndpoint.handle`` driven in process.

No sockets and no HTTP parsing: aiohttp's mocked requests carry botocore-signed Encrypt,
Decrypt, GenerateDataKey or Sign requests straight into the endpoint, 32 at a time (so the
crypto batcher coalesces them as it does under load), and the batcher's flush is counted
in. The figure is process CPU time per request, median of the rounds; it drifts far less
than requests/s over HTTP on a shared machine, so it is the one to compare two trees with
(run this file from each checkout, alternately).

Usage: python -m loadtest.bench_handler [--op Encrypt] [--rounds 7] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from botocore.credentials import Credentials
from multidict import CIMultiDict

from loadtest import operations
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, SignedRequest, Signer

OPS = ("Encrypt", "Decrypt", "GenerateDataKey", "Sign")
HOST = "127.0.0.1:8080"
DISTINCT = 256  # distinct signed requests cycled through
LOTS_PER_ROUND = 40


class _Body:
    """The request body as aiohttp's payload stream hands it over: all of it, then b""."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def readany(self) -> bytes:
        body, self._body = self._body, b""
        return body


def _headers(request: SignedRequest) -> CIMultiDict[str]:
    return CIMultiDict({**request.headers, "Host": HOST, "Content-Length": str(len(request.body))})


def _mocked(app: web.Application, headers: CIMultiDict[str], body: bytes) -> web.Request:
    payload: Any = _Body(body)  # stands in for aiohttp's StreamReader: readany() only
    return make_mocked_request("POST", "/", headers=headers, app=app, payload=payload)


async def _measure(op: str, rounds: int, concurrency: int) -> list[float]:
    # Imported here: the environment must hold the bootstrap credentials first.
    from gateway.config import Settings
    from gateway.quotas.table import Override

    lifted = ("kms:CryptographicOperationsSymmetric", "kms:CryptographicOperationsEcc")
    with tempfile.TemporaryDirectory(prefix="bench-handler-") as data_dir:
        settings = Settings(
            data_dir=Path(data_dir),
            quota_overrides=tuple(Override(quota, 1e7) for quota in lifted),
            log_level="WARNING",
        )
        return await _measure_in(settings, op, rounds, concurrency)


async def _measure_in(settings: Any, op: str, rounds: int, concurrency: int) -> list[float]:
    from gateway.bootstrap import prepare_data_dir
    from gateway.http import app as gateway_app

    await prepare_data_dir(settings)
    app = gateway_app.create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    endpoint = app[gateway_app.ENDPOINT]
    signer = Signer(f"http://{HOST}", Credentials(TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY))

    async def call(request: SignedRequest) -> Any:
        mocked = _mocked(app, _headers(request), request.body)
        answer = orjson.loads((await endpoint.handle(mocked)).body)  # type: ignore[arg-type]
        if "__type" in answer:
            raise SystemExit(f"{op}: the gateway answered {answer}")
        return answer

    try:
        created = await call(
            signer.sign("CreateKey", operations.CREATE_KEY[operations.KEY_KIND[op]])
        )
        params = await _params(op, created["KeyMetadata"]["KeyId"], signer, call)
        signed = [signer.sign(op, params) for _ in range(DISTINCT)]
        await call(signed[0])  # warm the caches
        built = [(_headers(r), r.body) for r in signed]
        per_request: list[float] = []
        for _ in range(rounds):
            for lot in range(LOTS_PER_ROUND):
                start = lot * concurrency % DISTINCT
                requests = [_mocked(app, h, b) for h, b in built[start : start + concurrency]]
                began = time.process_time()
                await asyncio.gather(*(endpoint.handle(r) for r in requests))
                per_request.append((time.process_time() - began) / len(requests) * 1e6)
        return per_request
    finally:
        await runner.cleanup()


async def _params(op: str, key_id: str, signer: Signer, call: Any) -> dict[str, Any]:
    shape = operations.Shape(plaintext_bytes=32)
    if op == "Encrypt":
        return operations.encrypt(key_id, shape)
    if op == "Decrypt":
        sealed = await call(signer.sign("Encrypt", operations.encrypt(key_id, shape)))
        return {"CiphertextBlob": sealed["CiphertextBlob"], "KeyId": key_id}
    if op == "Sign":
        return operations.sign(key_id, shape)
    return {"KeyId": key_id, "KeySpec": "AES_256"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--op", choices=OPS, default="Encrypt")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("GATEWAY_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    os.environ.setdefault("GATEWAY_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
    samples = uvloop.run(_measure(args.op, args.rounds, args.concurrency))
    print(
        f"{args.op}: KmsEndpoint.handle {statistics.median(samples):.1f} µs CPU/request "
        f"(median of {len(samples)} lots of {args.concurrency}; "
        f"quartiles {statistics.quantiles(samples, n=4)[0]:.1f}-"
        f"{statistics.quantiles(samples, n=4)[2]:.1f})"
    )


if __name__ == "__main__":
    main()
