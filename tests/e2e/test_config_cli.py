"""Settings through the real ``python -m gateway serve`` command: precedence and errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ACCESS_KEY_ID, SECRET_ACCESS_KEY, free_port


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(GATEWAY_ACCESS_KEY_ID=ACCESS_KEY_ID, GATEWAY_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY)
    env.update(extra)
    return env


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Serve:
    """``gateway serve`` with exactly the given flags (GatewayProcess always adds --port)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def listens_on(self, port: int, args: list[str], env: dict[str, str],
                   not_on: tuple[int, ...] = ()) -> None:
        """Start, wait for /healthz on ``port``, check ``not_on`` stay silent, stop."""
        log = self.tmp_path / f"serve-{len(self.processes)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve",
                 "--data-dir", str(self.tmp_path / "data"), *args],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        try:
            deadline = time.monotonic() + 20
            while not healthy(port):
                if process.poll() is not None:
                    pytest.fail(f"gateway exited {process.returncode}:\n{log.read_text()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"nothing healthy on {port}:\n{log.read_text()}")
                time.sleep(0.05)
            for other in not_on:
                assert not healthy(other), f"also listening on {other}"
        finally:
            self.stop(process)

    @staticmethod
    def stop(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        for process in self.processes:
            self.stop(process)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    runner = Serve(tmp_path)
    try:
        yield runner
    finally:
        runner.close()


def test_port_precedence_flag_over_env_over_file(serve, tmp_path):
    p1, p2, p3 = free_port(), free_port(), free_port()
    assert len({p1, p2, p3}) == 3
    config = tmp_path / "gateway.toml"
    config.write_text(f"port = {p1}\n")

    serve.listens_on(p3, ["--config", str(config), "--port", str(p3)],
                     clean_env(GATEWAY_PORT=str(p2)), not_on=(p1, p2))
    serve.listens_on(p2, ["--config", str(config)], clean_env(GATEWAY_PORT=str(p2)),
                     not_on=(p1, p3))
    serve.listens_on(p1, ["--config", str(config)], clean_env(), not_on=(p2, p3))
    # GATEWAY_CONFIG names the file as well as --config does; a [gateway] table works too.
    config.write_text(f"[gateway]\nport = {p2}\n\n[quotas]\nrequests = 5\n")
    serve.listens_on(p2, [], clean_env(GATEWAY_CONFIG=str(config)), not_on=(p1, p3))


def run_serve_expecting_failure(tmp_path: Path, args: list[str],
                                env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--data-dir", str(tmp_path / "data"), *args],
        env=env, capture_output=True, text=True, timeout=30,
    )
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result


@pytest.mark.parametrize(
    ("toml", "env", "words"),
    [
        ('port = "abc"', {}, ["port", "'abc'", "config file"]),
        ("workers = 0", {}, ["workers", "1..256", "0"]),
        ("port = 70000", {}, ["port", "70000"]),
        ("", {"GATEWAY_PORT": "eighty"}, ["port", "GATEWAY_PORT", "'eighty'"]),
        ("", {"GATEWAY_WORKERS": "-1"}, ["workers", "-1"]),
        ('tls_cert = "/tmp/cert.pem"', {}, ["tls_cert", "tls_key"]),
        ('account_id = "12"', {}, ["account_id", "'12'"]),
        ("port = [", {}, ["config file"]),
    ],
    ids=["port-not-a-number", "workers-zero", "port-out-of-range", "env-port",
         "env-workers", "cert-without-key", "short-account", "toml-syntax"],
)
def test_invalid_settings_exit_2_with_a_message_naming_the_setting(tmp_path, toml, env, words):
    config = tmp_path / "bad.toml"
    config.write_text(toml + "\n")
    result = run_serve_expecting_failure(tmp_path, ["--config", str(config)], clean_env(**env))
    assert result.returncode == 2, result.stderr
    message = result.stderr.strip()
    assert message.startswith("gateway: "), message
    for word in words:
        assert word in message, (word, message)
    assert not (tmp_path / "data").exists(), "an invalid configuration created the data dir"


def test_missing_config_file_exits_2(tmp_path):
    missing = tmp_path / "nope.toml"
    result = run_serve_expecting_failure(tmp_path, ["--config", str(missing)], clean_env())
    assert result.returncode == 2
    assert str(missing) in result.stderr


def test_invalid_flag_value_exits_2_with_usage(tmp_path):
    result = run_serve_expecting_failure(tmp_path, ["--port", "abc"], clean_env())
    assert result.returncode == 2
    assert "--port" in result.stderr and "abc" in result.stderr
    result = run_serve_expecting_failure(tmp_path, ["--workers", "0"], clean_env())
    assert result.returncode == 2
    assert "workers" in result.stderr


def test_unknown_log_level_exits_2_naming_the_setting(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--data-dir", str(tmp_path / "data"),
         "--log-level", "LOUD"],
        env=clean_env(), capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert "log_level" in result.stderr and "Traceback" not in result.stderr
