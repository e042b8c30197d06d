"""Start real gateway processes on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ACCOUNT = "111122223333"


def lifted_quotas_toml(value: float = 1_000_000) -> str:
    """A config lifting every request-rate quota, so only tests about quotas meet them."""
    from gateway.quotas.table import DEFAULT_QUOTAS

    return "".join(
        f'[[quota]]\nname = "{quota.id}"\nvalue = {value}\n'
        for quota in DEFAULT_QUOTAS.values()
        if quota.kind == "rate"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayProcess:
    """One ``python -m gateway serve`` process tree, with its data dir and log file."""

    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 1,
        extra_env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.workers = workers
        self.env = {
            **os.environ,
            "GATEWAY_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "GATEWAY_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "GATEWAY_DELETION_DAY_SECONDS": "0.2",
            "GATEWAY_DELETION_SWEEP_SECONDS": "0.2",
            **(extra_env or {}),
        }
        self.extra_args = extra_args or []
        if "--config" not in self.extra_args and "GATEWAY_CONFIG" not in self.env:
            # Functional tests make management calls faster than the documented 5/s; the
            # quota tests start their servers with quota configs of their own.
            config = data_dir.parent / f"lifted-quotas-{self.port}.toml"
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(lifted_quotas_toml())
            self.extra_args = [*self.extra_args, "--config", str(config)]
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"gateway-{self.port}.log"
        self.scheme = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> GatewayProcess:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--workers",
                str(self.workers),
                *self.extra_args,
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.log_path.read_text()}")
            if self.healthy():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"gateway did not become healthy:\n{self.log_path.read_text()}")

    def healthy(self) -> bool:
        if self.scheme != "http":
            return self._port_open()
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _port_open(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.log.close()

    def kill_hard(self) -> None:
        """SIGKILL the whole tree (a crash, not a shutdown)."""
        assert self.process is not None
        subprocess.run(["pkill", "-KILL", "-P", str(self.process.pid)], check=False)
        self.process.kill()
        self.process.wait()
        self.process = None
        self.log.close()

    def client(self, service: str = "kms", region: str = "us-east-1", **config: object):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            config=Config(**{"retries": {"max_attempts": 1}, **config}),
        )
