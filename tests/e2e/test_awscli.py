"""The AWS CLI (awscli v1) against a real gateway process."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.e2e.server import ACCESS_KEY_ID, SECRET_ACCESS_KEY, GatewayProcess


def cli_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """An environment with no AWS settings but the ones given: no profile, no user files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "no-such-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-such-credentials"),
        # The shared gateway enforces CreateKey's 5/s quota across all tests; the CLI's
        # own retries on ThrottlingException are part of what is exercised.
        AWS_RETRY_MODE="standard",
        AWS_MAX_ATTEMPTS="10",
    )
    env.update(overrides)
    return env


def aws(server: GatewayProcess, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--endpoint-url", server.url],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, f"aws {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def test_cli_creates_key_and_round_trips_a_file(gateway, tmp_path):
    env = cli_env(
        tmp_path, AWS_ACCESS_KEY_ID=ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY
    )
    meta = json.loads(aws(gateway, env, "kms", "create-key", "--description", "cli"))[
        "KeyMetadata"
    ]
    assert meta["KeyState"] == "Enabled" and meta["Description"] == "cli"
    plaintext = os.urandom(3000) + b"\x00\n\r end"
    (tmp_path / "plain.bin").write_bytes(plaintext)

    encrypted = json.loads(aws(
        gateway, env, "kms", "encrypt", "--key-id", meta["KeyId"],
        "--plaintext", f"fileb://{tmp_path / 'plain.bin'}",
        "--encryption-context", "purpose=cli-test",
    ))
    assert encrypted["KeyId"] == meta["Arn"]
    blob = base64.b64decode(encrypted["CiphertextBlob"])
    assert plaintext not in blob
    (tmp_path / "cipher.bin").write_bytes(blob)

    decrypted = aws(
        gateway, env, "kms", "decrypt",
        "--ciphertext-blob", f"fileb://{tmp_path / 'cipher.bin'}",
        "--encryption-context", "purpose=cli-test",
        "--output", "text", "--query", "Plaintext",
    )
    assert base64.b64decode(decrypted.strip()) == plaintext


def test_cli_enables_rotation_and_rotates_on_demand(gateway, tmp_path):
    env = cli_env(
        tmp_path, AWS_ACCESS_KEY_ID=ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY
    )
    key_id = json.loads(aws(gateway, env, "kms", "create-key"))["KeyMetadata"]["KeyId"]
    aws(gateway, env, "kms", "enable-key-rotation", "--key-id", key_id,
        "--rotation-period-in-days", "180")  # fmt: skip
    status = json.loads(aws(gateway, env, "kms", "get-key-rotation-status", "--key-id", key_id))
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    aws(gateway, env, "kms", "rotate-key-on-demand", "--key-id", key_id)
    rotations = json.loads(aws(gateway, env, "kms", "list-key-rotations", "--key-id", key_id))
    assert [r["RotationType"] for r in rotations["Rotations"]] == ["ON_DEMAND"]


def test_cli_reports_a_wrong_encryption_context_as_invalid_ciphertext(gateway, tmp_path):
    env = cli_env(
        tmp_path, AWS_ACCESS_KEY_ID=ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY
    )
    kms = boto3.client(
        "kms", region_name="us-east-1", endpoint_url=gateway.url,
        aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    (tmp_path / "cipher.bin").write_bytes(blob)
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "kms", "decrypt", "--endpoint-url", gateway.url,
         "--ciphertext-blob", f"fileb://{tmp_path / 'cipher.bin'}",
         "--encryption-context", "a=2"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "InvalidCiphertextException" in result.stderr


@pytest.fixture
def generated_credentials_server(tmp_path: Path) -> Iterator[GatewayProcess]:
    """A gateway started with no administrator key in its environment."""
    server = GatewayProcess(tmp_path / "data")
    server.env.pop("GATEWAY_ACCESS_KEY_ID", None)
    server.env.pop("GATEWAY_SECRET_ACCESS_KEY", None)
    try:
        yield server.start()
    finally:
        server.stop()


def read_shared_credentials(path: Path) -> tuple[str, str]:
    values = dict(
        line.split(" = ", 1) for line in path.read_text().splitlines() if " = " in line
    )
    assert path.read_text().startswith("[default]\n")
    return values["aws_access_key_id"], values["aws_secret_access_key"]


def stdout_lines(server: GatewayProcess) -> list[str]:
    """The lines that are not JSON log records (those go to stderr, merged into the log)."""
    return [
        line for line in server.log_path.read_text().splitlines()
        if not line.startswith("{")
    ]


def test_generated_credentials_file_is_private_printed_once_and_works_with_cli(
    generated_credentials_server, tmp_path
):
    server = generated_credentials_server
    path = server.data_dir / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    access_key_id, secret = read_shared_credentials(path)
    assert access_key_id != ACCESS_KEY_ID and len(secret) >= 30

    printed = "\n".join(stdout_lines(server))
    assert printed.count(secret) == 1 and access_key_id in printed
    assert str(path) in printed
    json_lines = [line for line in server.log_path.read_text().splitlines()
                  if line.startswith("{")]
    assert not any(secret in line for line in json_lines), "the secret reached the JSON log"

    env = cli_env(tmp_path, AWS_SHARED_CREDENTIALS_FILE=str(path))
    key_id = json.loads(aws(server, env, "kms", "create-key"))["KeyMetadata"]["KeyId"]
    listed = json.loads(aws(server, env, "kms", "list-keys"))["Keys"]
    assert key_id in {k["KeyId"] for k in listed}

    # A wrong secret for the same key id is refused: the file's secret is what counts.
    bad = tmp_path / "bad-credentials"
    bad.write_text(f"[default]\naws_access_key_id = {access_key_id}\n"
                   f"aws_secret_access_key = {'x' * len(secret)}\n")
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "kms", "list-keys", "--endpoint-url", server.url],
        env=cli_env(tmp_path, AWS_SHARED_CREDENTIALS_FILE=str(bad)),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "InvalidSignatureException" in result.stderr


def test_generated_credentials_are_not_regenerated_on_restart(
    generated_credentials_server, tmp_path
):
    first = generated_credentials_server
    path = first.data_dir / "credentials"
    before = path.read_text()
    _, secret = read_shared_credentials(path)
    first.stop()
    second = GatewayProcess(first.data_dir)
    second.env.pop("GATEWAY_ACCESS_KEY_ID", None)
    second.env.pop("GATEWAY_SECRET_ACCESS_KEY", None)
    try:
        second.start()
        assert path.read_text() == before
        assert secret not in "\n".join(stdout_lines(second))
        env = cli_env(tmp_path, AWS_SHARED_CREDENTIALS_FILE=str(path))
        assert "Keys" in json.loads(aws(second, env, "kms", "list-keys"))
    finally:
        second.stop()
