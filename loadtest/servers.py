"""Start and stop the servers under test as child processes on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from loadtest import sockets
from loadtest.signing import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY

ROOT = Path(__file__).resolve().parent.parent
# Quotas lifted so that a benchmark measures throughput, not the limiter saying no.
UNTHROTTLED_TOML = """\
[[quota]]
name = "kms:CryptographicOperationsSymmetric"
value = 1000000
[[quota]]
name = "kms:CryptographicOperationsEcc"
value = 1000000
[[quota]]
name = "kms:CreateKey"
value = 1000000
[[quota]]
name = "kms:KeysPerRegion"
value = 10000000
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A child process tree serving HTTP on 127.0.0.1:``port``, from ``processes``
    processes sharing the port (SO_REUSEPORT)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        *,
        cwd: Path = ROOT,
        env: dict[str, str] | None = None,
        ready_path: str = "/",
        processes: int = 1,
    ) -> None:
        self.name, self.argv, self.port, self.cwd = name, argv, port, cwd
        self.processes = processes
        self.env = {**os.environ, **(env or {})}
        self.ready_path = ready_path
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.gettempdir()) / f"loadtest-{name}-{port}.log"
        self.started_in: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 120.0) -> Server:
        begin = time.monotonic()
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        while time.monotonic() - begin < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log.read_text()[-3000:]}")
            # Ready once every process listens: a connection made before the last one
            # listens is hashed among the others only.
            if self._answers() and sockets.listeners(self.port) >= self.processes:
                self.started_in = time.monotonic() - begin
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer in {timeout}s:\n{self.log.read_text()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer means it serves
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def gateway_source() -> Path:
    """The tree whose ``gateway`` package is run: this checkout, or KMS_LOADTEST_GATEWAY_SRC
    (e.g. another worktree); ``python -m`` puts the working directory first on sys.path."""
    return Path(os.environ.get("KMS_LOADTEST_GATEWAY_SRC", ROOT)).resolve()


def gateway(
    data_dir: Path,
    workers: int = 1,
    config: Path | None = None,
    port: int | None = None,
    *,
    without: str = "",
) -> Server:
    """``gateway serve``; with ``without`` (e.g. "sigv4,quota"), the ablated gateway of
    ``loadtest/ablated_gateway.py``, which has those parts stood in and one worker."""
    port = port or free_port()
    entry = ["gateway"] if not without else ["loadtest.ablated_gateway", "--without", without]
    argv = [
        sys.executable,
        "-m",
        *entry,
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--workers",
        str(workers),
        "--log-level",
        "WARNING",
    ]
    if config is not None:
        argv += ["--config", str(config)]
    env = {
        "GATEWAY_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "GATEWAY_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
    }
    name = f"gateway-{workers}w" + (f"-without-{without.replace(',', '-')}" if without else "")
    return Server(
        name,
        argv,
        port,
        cwd=gateway_source(),
        env=env,
        ready_path="/healthz",
        processes=1 if without else workers,
    )


def unthrottled_config(directory: Path) -> Path:
    path = directory / "unthrottled.toml"
    path.write_text(UNTHROTTLED_TOML)
    return path


def moto(port: int | None = None) -> Server:
    port = port or free_port()
    return Server(
        "moto",
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        port,
        ready_path="/moto-api/",
    )


def bare(processes: int = 1, port: int | None = None, *, fast_lane: bool = False) -> Server:
    """The bare ceiling; ``fast_lane`` takes ``POST /`` ahead of the router, as the
    gateway does."""
    port = port or free_port()
    argv = [
        sys.executable,
        "-m",
        "loadtest.bare_server",
        "--port",
        str(port),
        "--processes",
        str(processes),
        *(["--fast-lane"] if fast_lane else []),
    ]
    name = f"bare-{processes}p" + ("-lane" if fast_lane else "")
    return Server(name, argv, port, processes=processes)
