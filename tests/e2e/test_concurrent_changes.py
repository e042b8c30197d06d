"""State changes racing the data path on a few keys lose nothing and corrupt nothing.

Sixteen threads send a random mix of Encrypt, GenerateDataKey, Decrypt and ReEncrypt with
DisableKey, EnableKey, ScheduleKeyDeletion, CancelKeyDeletion, on-demand rotations, alias
changes and tags, all valid requests on four keys and three aliases. Every answer must be
AWS-shaped (no 500), every Decrypt that succeeds must give back the plaintext that went in,
and once every key is enabled again, every ciphertext the gateway ever returned must still
decrypt to it.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.rawclient import call
from tests.e2e.server import GatewayProcess

THREADS, REQUESTS_PER_THREAD = 16, 120
CONTEXTS = [None, {"tenant": "1"}, {"tenant": "2", "purpose": "race"}]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    # Real-length deletion windows: a scheduled key must still be there to cancel.
    data_dir: Path = tmp_path_factory.mktemp("concurrent") / "data"
    server = GatewayProcess(data_dir, extra_env={"GATEWAY_DELETION_DAY_SECONDS": "86400"})
    server.start()
    yield server
    server.stop()


def _kms(url: str, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, payload, _ = call(url, f"TrentService.{operation}", json.dumps(params).encode())
    return status, payload


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Race:
    def __init__(self, url: str, keys: list[str], aliases: list[str]) -> None:
        self.url, self.keys, self.aliases = url, keys, aliases
        self.lock = threading.Lock()
        self.sealed: list[tuple[bytes, bytes, dict[str, str] | None]] = []
        self.problems: list[Any] = []

    def _params(self, rng: random.Random, operation: str) -> tuple[dict[str, Any], Any]:
        key, context = rng.choice(self.keys + self.aliases), rng.choice(CONTEXTS)
        if operation in ("Encrypt", "GenerateDataKey"):
            plaintext = rng.randbytes(rng.randint(1, 64))
            params: dict[str, Any] = (
                {"KeyId": key, "Plaintext": _b64(plaintext)}
                if operation == "Encrypt"
                else {"KeyId": key, "KeySpec": "AES_256"}
            )
            if context:
                params["EncryptionContext"] = context
            return params, (plaintext, context)
        if operation in ("Decrypt", "ReEncrypt"):
            with self.lock:
                blob, plaintext, sealed_context = rng.choice(self.sealed)
            params = {"CiphertextBlob": _b64(blob)}
            if sealed_context:
                name = "EncryptionContext" if operation == "Decrypt" else "SourceEncryptionContext"
                params[name] = sealed_context
            if operation == "ReEncrypt":
                params["DestinationKeyId"] = key
                if context:
                    params["DestinationEncryptionContext"] = context
            return params, (plaintext, context)
        target = rng.choice(self.keys)
        if operation == "ScheduleKeyDeletion":
            return {"KeyId": target, "PendingWindowInDays": 30}, None
        if operation in ("CreateAlias", "UpdateAlias"):
            return {"AliasName": rng.choice(self.aliases), "TargetKeyId": target}, None
        if operation == "DeleteAlias":
            return {"AliasName": rng.choice(self.aliases)}, None
        if operation == "TagResource":
            return {"KeyId": target, "Tags": [{"TagKey": rng.choice("xyz"), "TagValue": "v"}]}, None
        # DisableKey, EnableKey, CancelKeyDeletion, RotateKeyOnDemand, EnableKeyRotation
        return {"KeyId": target}, None

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        operations = ["Encrypt"] * 4 + ["GenerateDataKey"] * 2 + ["Decrypt"] * 3 + [
            "ReEncrypt", "DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion",
            "CreateAlias", "UpdateAlias", "DeleteAlias", "TagResource", "RotateKeyOnDemand",
            "EnableKeyRotation",
        ]  # fmt: skip
        for _ in range(REQUESTS_PER_THREAD):
            operation = rng.choice(operations)
            params, expected = self._params(rng, operation)
            status, out = _kms(self.url, operation, params)
            if status != 200:
                if status >= 500 or not out.get("__type"):
                    self.problems.append((operation, params, status, out))
                continue
            self._record(operation, out, expected)

    def _record(self, operation: str, out: dict[str, Any], expected: Any) -> None:
        if operation == "Decrypt":
            if base64.b64decode(out["Plaintext"]) != expected[0]:
                self.problems.append(("wrong plaintext", out))
            return
        if operation not in ("Encrypt", "GenerateDataKey", "ReEncrypt"):
            return
        plaintext, context = expected
        if operation == "GenerateDataKey":
            plaintext = base64.b64decode(out["Plaintext"])
        with self.lock:
            self.sealed.append((base64.b64decode(out["CiphertextBlob"]), plaintext, context))


def test_state_changes_racing_the_data_path_lose_nothing(gateway: GatewayProcess) -> None:
    url = gateway.url
    keys = [_kms(url, "CreateKey", {})[1]["KeyMetadata"]["KeyId"] for _ in range(4)]
    race = Race(url, keys, [f"alias/race-{i}" for i in range(3)])
    for key in keys:  # something to decrypt from the start
        status, out = _kms(url, "Encrypt", {"KeyId": key, "Plaintext": _b64(b"seed")})
        race._record("Encrypt", out, (b"seed", None))
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(race.run, range(THREADS)))
    assert not race.problems, race.problems[:3]

    for key in keys:
        _kms(url, "CancelKeyDeletion", {"KeyId": key})
        _kms(url, "EnableKey", {"KeyId": key})
    assert len(race.sealed) > len(keys)  # the race did produce ciphertexts
    for blob, plaintext, context in race.sealed:
        params: dict[str, Any] = {"CiphertextBlob": _b64(blob)}
        if context:
            params["EncryptionContext"] = context
        status, out = _kms(url, "Decrypt", params)
        assert status == 200, out
        assert base64.b64decode(out["Plaintext"]) == plaintext
