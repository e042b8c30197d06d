"""Cost per request of the gateway's own work: ``KmsEndpoint.handle`` driven in process.

No sockets and no HTTP parsing: aiohttp's mocked requests carry botocore-signed Encrypt,
Decrypt, GenerateDataKey or Sign requests straight into the endpoint, 32 at a time (so the
crypto batcher coalesces them as it does under load), and the batcher's flush is counted
in. The default figure is process CPU time per request, median of the rounds; it drifts far
less than requests/s over HTTP on a shared machine, so it is the one to compare two trees
with (run this file from each checkout, alternately). With ``--instructions`` the script
re-runs itself under valgrind's callgrind and prints instructions per request instead:
reproducible to a fraction of a percent, at the price of a minute or two per run.

With ``--without PART[,PART]`` (``loadtest/ablation.py``) those parts of the path are replaced
by stand-ins first, so the difference from a full run is what they cost.

GATEWAY_* variables set the gateway's settings as for `gateway serve` (for example
GATEWAY_ECDSA_PRECOMPUTE=0); CPU mode also prints the event-loop thread's own CPU.

Usage: python -m loadtest.bench_handler [--op Encrypt] [--rounds 7] [--concurrency 32]
       python -m loadtest.bench_handler --instructions [--op Encrypt] [--lots 20]
           [--without sigv4,quota,crypto,metrics]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import uvloop
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from botocore.credentials import Credentials
from multidict import CIMultiDict

from loadtest import ablation, operations
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, SignedRequest, Signer

OPS = ("Encrypt", "Decrypt", "GenerateDataKey", "Sign")
HOST = "127.0.0.1:8080"
DISTINCT = 256  # distinct signed requests cycled through
LOTS_PER_ROUND = 40
# callgrind counts only while this C function of libpython is on the stack: the measured
# lots run inside functools.reduce, so imports, setup and signing are left out.
COUNTED_FUNCTION = "functools_reduce"
# Under valgrind everything runs ~50 times slower: the background tasks that wake every
# second or minute (the key refresher polling the store's change log, the deletion sweeper)
# would run inside the counted region and add work that differs from run to run.
CALLGRIND_QUIET_SECONDS = 3600.0


class _Body:
    """The request body as aiohttp's payload stream holds a small one: all of it arrived
    with the headers (the stream is at EOF), read at once or in one chunk and then b""."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def is_eof(self) -> bool:
        return True

    def read_nowait(self) -> bytes:
        body, self._body = self._body, b""
        return body

    async def readany(self) -> bytes:
        return self.read_nowait()


@dataclasses.dataclass
class _Bench:
    """A running gateway app and the signed requests to drive its endpoint with."""

    app: web.Application
    endpoint: Any
    built: list[tuple[CIMultiDict[str], bytes]]  # headers and body of DISTINCT requests

    def lot(self, index: int, concurrency: int) -> list[web.Request]:
        # Wraps around, so every lot holds `concurrency` requests whatever DISTINCT is.
        start = index * concurrency
        picked = (self.built[(start + i) % DISTINCT] for i in range(concurrency))
        return [_mocked(self.app, headers, body) for headers, body in picked]


def _headers(request: SignedRequest) -> CIMultiDict[str]:
    return CIMultiDict({**request.headers, "Host": HOST, "Content-Length": str(len(request.body))})


def _mocked(app: web.Application, headers: CIMultiDict[str], body: bytes) -> web.Request:
    payload: Any = _Body(body)  # stands in for aiohttp's StreamReader
    return make_mocked_request("POST", "/", headers=headers, app=app, payload=payload)


def _settings(data_dir: str, **overrides: Any) -> Any:
    """The gateway's settings from GATEWAY_* variables, as `gateway serve` reads them, with
    a scratch data directory, quiet logs and the crypto quotas out of the way."""
    # Imported here: the environment must hold the bootstrap credentials first.
    from gateway.config import load_settings
    from gateway.quotas.table import Override

    lifted = ("kms:CryptographicOperationsSymmetric", "kms:CryptographicOperationsEcc")
    return dataclasses.replace(
        load_settings({}, env=os.environ),
        data_dir=Path(data_dir),
        quota_overrides=tuple(Override(quota, 1e7) for quota in lifted),
        log_level="WARNING",
        **overrides,
    )


@contextlib.asynccontextmanager
async def _started(settings: Any, op: str) -> AsyncIterator[_Bench]:
    """The app set up, a key created and DISTINCT `op` requests signed for it."""
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
        answer = orjson.loads((await endpoint.handle(mocked)).body)
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
        yield _Bench(app, endpoint, [(_headers(r), r.body) for r in signed])
    finally:
        await runner.cleanup()


async def _measure(op: str, rounds: int, concurrency: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory(prefix="bench-handler-") as data_dir:
        return await _measure_in(_settings(data_dir), op, rounds, concurrency)


async def _measure_in(
    settings: Any, op: str, rounds: int, concurrency: int
) -> tuple[list[float], list[float]]:
    """µs per request of the whole process and of the event-loop thread alone, per lot.

    Other threads' CPU (the ECDSA nonce filler's) reaches the process clock in
    scheduler-tick steps, too coarse for one lot: the loop's figure is the one to compare.
    """
    async with _started(settings, op) as bench:
        process: list[float] = []
        loop_thread: list[float] = []
        for _ in range(rounds):
            for lot in range(LOTS_PER_ROUND):
                requests = bench.lot(lot, concurrency)
                began, began_thread = time.process_time(), time.thread_time()
                await asyncio.gather(*(bench.endpoint.handle(r) for r in requests))
                process.append((time.process_time() - began) / len(requests) * 1e6)
                loop_thread.append((time.thread_time() - began_thread) / len(requests) * 1e6)
        return process, loop_thread


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


# --- Instructions per request: the child, which runs under callgrind ---


def _answers_counted(op: str, lots: int, concurrency: int) -> list[Any]:
    """Set up, then answer `lots` lots inside functools.reduce: all callgrind counts."""
    # One loop for setup and measurement: uvloop.run() would finalise the async generators
    # at its end, which runs the app's cleanup and closes the store.
    loop = uvloop.new_event_loop()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-handler-") as data_dir:
            settings = _settings(
                data_dir,
                key_cache_seconds=CALLGRIND_QUIET_SECONDS,
                deletion_sweep_seconds=CALLGRIND_QUIET_SECONDS,
            )
            return _answers_counted_in(loop, settings, op, lots, concurrency)
    finally:
        loop.close()


def _answers_counted_in(
    loop: asyncio.AbstractEventLoop, settings: Any, op: str, lots: int, concurrency: int
) -> list[Any]:
    stack = contextlib.AsyncExitStack()
    try:
        bench = loop.run_until_complete(stack.enter_async_context(_started(settings, op)))
        # Built beforehand: make_mocked_request goes through unittest.mock, which is costly.
        prepared = [bench.lot(index, concurrency) for index in range(lots + 1)]
        loop.run_until_complete(_answer(bench.endpoint, prepared[:1]))  # warm the loop's caches
        measured = prepared[1:]
        return functools.reduce(
            lambda _, __: loop.run_until_complete(_answer(bench.endpoint, measured)), [0], []
        )
    finally:
        loop.run_until_complete(stack.aclose())


async def _answer(endpoint: Any, lots: list[list[web.Request]]) -> list[Any]:
    answers: list[Any] = []
    for lot in lots:
        answers += await asyncio.gather(*(endpoint.handle(r) for r in lot))
    return answers


def _run_under_callgrind(op: str, lots: int, concurrency: int) -> None:
    answers = _answers_counted(op, lots, concurrency)
    failed = [a.body for a in answers if a.status != 200]
    if failed:
        raise SystemExit(f"{op}: {len(failed)} answers failed, the first: {failed[0]!r}")
    print(f"measured {len(answers)} requests")


# --- Instructions per request: the parent, which starts valgrind and reads its count ---


def _instructions(op: str, lots: int, concurrency: int, without: str) -> tuple[int, int]:
    """Total instructions callgrind counted, and how many requests they were spent on."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind on PATH (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as out_dir:
        out_file = Path(out_dir) / "callgrind.out"
        command = [
            valgrind, "--tool=callgrind", f"--toggle-collect={COUNTED_FUNCTION}",
            f"--callgrind-out-file={out_file}",
            _interpreter(), "-m", "loadtest.bench_handler", "--under-callgrind",
            "--op", op, "--lots", str(lots), "--concurrency", str(concurrency),
            "--without", without,
        ]  # fmt: skip
        child = subprocess.run(command, capture_output=True, text=True, env=_child_env())
        if child.returncode != 0:
            raise SystemExit(f"callgrind run failed ({child.returncode}):\n{child.stderr[-3000:]}")
        return _collected(out_file.read_text()), _requests_measured(child.stdout)


def _interpreter() -> str:
    # valgrind must start the interpreter itself, not a shell-script shim (pyenv's).
    python = os.path.realpath(sys.executable)
    with open(python, "rb") as binary:
        if binary.read(4) != b"\x7fELF":
            raise SystemExit(f"{python} is not an ELF binary; valgrind cannot run it")
    return python


def _child_env() -> dict[str, str]:
    # The child imports loadtest and gateway from the same tree as this process.
    tree = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, (tree, os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PYTHONPATH": path}


def _collected(callgrind_out: str) -> int:
    """The instruction total of a callgrind out file (its summary: or totals: line)."""
    found = re.search(r"^(?:summary|totals):\s*(\d+)", callgrind_out, re.MULTILINE)
    if found is None:
        raise SystemExit("no summary: or totals: line in the callgrind output")
    return int(found.group(1))


def _requests_measured(child_stdout: str) -> int:
    found = re.search(r"^measured (\d+) requests$", child_stdout, re.MULTILINE)
    if found is None:
        raise SystemExit(f"the callgrind child did not say what it measured:\n{child_stdout}")
    return int(found.group(1))


def _report_instructions(op: str, lots: int, concurrency: int, without: str) -> None:
    total, requests = _instructions(op, lots, concurrency, without)
    print(
        f"{op}{_without_label(without)}: KmsEndpoint.handle {round(total / requests):,} "
        f"instructions/request (callgrind, {requests} requests in {lots} lots of {concurrency})"
    )


def _report_cpu(op: str, rounds: int, concurrency: int, without: str) -> None:
    samples, loop_thread = uvloop.run(_measure(op, rounds, concurrency))
    quartiles = statistics.quantiles(samples, n=4)
    print(
        f"{op}{_without_label(without)}: KmsEndpoint.handle "
        f"{statistics.median(samples):.1f} µs CPU/request "
        f"(median of {len(samples)} lots of {concurrency}; "
        f"quartiles {quartiles[0]:.1f}-{quartiles[2]:.1f}); "
        f"event-loop thread alone {statistics.median(loop_thread):.1f}"
    )


def _without_label(without: str) -> str:
    return f" without {without}" if without else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--op", choices=OPS, default="Encrypt")
    parser.add_argument("--rounds", type=int, default=7, help="CPU-time mode")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under callgrind"
    )
    parser.add_argument("--lots", type=int, default=20, help="--instructions mode")
    parser.add_argument(
        "--without",
        default="",
        help=f"comma-separated parts to replace by stand-ins: {', '.join(ablation.PARTS)}",
    )
    parser.add_argument("--under-callgrind", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("GATEWAY_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    os.environ.setdefault("GATEWAY_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
    parts = [part for part in args.without.split(",") if part]
    unknown = sorted(set(parts) - set(ablation.PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(ablation.PARTS)}")
    if args.instructions and not args.under_callgrind:
        _report_instructions(args.op, args.lots, args.concurrency, ",".join(parts))
        return
    ablation.apply(parts)  # in the process that runs the endpoint
    if args.under_callgrind:
        _run_under_callgrind(args.op, args.lots, args.concurrency)
    else:
        _report_cpu(args.op, args.rounds, args.concurrency, ",".join(parts))


if __name__ == "__main__":
    main()
