"""Random requests shaped by botocore's KMS model never get a 500, and the gateway serves on.

Every operation of the model is called with members drawn from its input shape: mostly
within the model's limits and enums, sometimes just outside them, with the ids, aliases,
ciphertexts and signatures of real keys mixed in so that requests get past validation into
the handlers. Whatever the outcome (success, a client error, throttling), it must be an
AWS-shaped answer and never KMSInternalException: a 500 here is a request the gateway did
not handle (the first run of this test found ReEncrypt without a CiphertextBlob).
"""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.loaders import Loader
from botocore.model import ServiceModel, Shape

from tests.e2e.rawclient import call
from tests.e2e.server import GatewayProcess

MODEL = ServiceModel(Loader().load_service_model("kms", "service-2"))
PLAIN = "abcdefghijklmnopqrstuvwxyz0123456789"
ODD = ["\u00e9\u4e2d\U0001f600 ", "\x00\n\t", "aws/", "-_/:."]
KEYS = [
    ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
    ("RSA_2048", "ENCRYPT_DECRYPT"),
    ("RSA_2048", "SIGN_VERIFY"),
    ("ECC_NIST_P256", "SIGN_VERIFY"),
    ("ECC_NIST_P384", "SIGN_VERIFY"),
    ("ECC_NIST_P256", "KEY_AGREEMENT"),
    ("HMAC_256", "GENERATE_VERIFY_MAC"),
    ("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"),
]
DATA_PATH = {
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
    "Encapsulate",
    "Decapsulate",
    "GetPublicKey",
    "DescribeKey",
}


class Requests:
    """Draws request bodies from the model, seeded, with real keys' values mixed in."""

    def __init__(self, seed: int, key_ids: list[str], arns: list[str], blobs: list[bytes]):
        self.rng = random.Random(seed)
        self.key_refs = [*key_ids, *arns, f"alias/fuzz-{seed}"]
        self.blobs = blobs

    def text(self, length: int) -> str:
        alphabet = PLAIN if self.rng.random() < 0.8 else self.rng.choice(ODD)
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def size(self, shape: Shape, largest: int) -> int:
        low, high = shape.metadata.get("min", 0), shape.metadata.get("max", largest)
        if self.rng.random() < 0.8:
            return self.rng.randint(low, min(high, max(low, 64)))
        return self.rng.choice([0, low, high, high + 1, max(low - 1, 0)])

    def value(self, shape: Shape, name: str, depth: int = 0) -> Any:
        kind, rng = shape.type_name, self.rng
        if kind == "structure":
            return {
                member: self.value(member_shape, member, depth + 1)
                for member, member_shape in shape.members.items()
                if depth < 4 and (member in shape.required_members or rng.random() < 0.25)
            }
        if kind == "list":
            return [self.value(shape.member, name, depth + 1) for _ in range(rng.randint(0, 3))]
        if kind == "map":
            return {
                self.text(rng.choice([1, 3, 8])): self.value(shape.value, name, depth + 1)
                for _ in range(rng.randint(0, 3))
            }
        if kind == "string":
            if shape.enum and rng.random() < 0.85:
                return rng.choice(shape.enum)
            if name.endswith("KeyId") and rng.random() < 0.75:
                return rng.choice(self.key_refs)
            return self.text(self.size(shape, 64))
        if kind == "blob":
            if name == "CiphertextBlob" and rng.random() < 0.6:
                data = bytearray(rng.choice(self.blobs))
                if rng.random() < 0.3:
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
                return base64.b64encode(bytes(data)).decode()
            return base64.b64encode(rng.randbytes(self.size(shape, 4096))).decode()
        if kind in ("integer", "long"):
            low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 10**6)
            if rng.random() < 0.8:
                return rng.randint(low, min(high, 10**4))
            return rng.choice([low - 1, high + 1, -1, 2**63])
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "timestamp":
            return rng.choice([0, 1_700_000_000, -1])
        return rng.random()

    def request(self, operation: str) -> dict[str, Any]:
        shape = MODEL.operation_model(operation).input_shape
        return {} if shape is None else self.value(shape, operation)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway of its own: these requests disable, delete and tag keys at random."""
    data_dir: Path = tmp_path_factory.mktemp("random-requests") / "data"
    server = GatewayProcess(data_dir).start()
    yield server
    server.stop()


def _kms(url: str, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, payload, _ = call(url, f"TrentService.{operation}", json.dumps(params).encode())
    return status, payload


def _real_values(url: str, seed: int) -> tuple[list[str], list[str], list[bytes]]:
    key_ids, arns = [], []
    for spec, usage in KEYS:
        status, out = _kms(url, "CreateKey", {"KeySpec": spec, "KeyUsage": usage})
        assert status == 200, out
        key_ids.append(out["KeyMetadata"]["KeyId"])
        arns.append(out["KeyMetadata"]["Arn"])
    assert (
        _kms(url, "CreateAlias", {"AliasName": f"alias/fuzz-{seed}", "TargetKeyId": key_ids[0]})[0]
        == 200
    )
    blobs = []
    for context in ({}, {"purpose": "fuzz"}):
        params = {"KeyId": key_ids[0], "Plaintext": "AAAA", "EncryptionContext": context}
        status, out = _kms(url, "Encrypt", params)
        assert status == 200, out
        blobs.append(base64.b64decode(out["CiphertextBlob"]))
    return key_ids, arns, blobs


@pytest.mark.parametrize(
    ("seed", "operations", "count"),
    [(1, "data path", 2000), (2, "every operation", 2000)],
)
def test_random_requests_never_get_an_internal_error(
    gateway: GatewayProcess, seed: int, operations: str, count: int
) -> None:
    url = gateway.url
    draw = Requests(seed, *_real_values(url, seed))
    names = sorted(DATA_PATH if operations == "data path" else MODEL.operation_names)
    outcomes: Counter[tuple[str, str]] = Counter()
    internal = []
    for _ in range(count):
        operation = draw.rng.choice(names)
        params = draw.request(operation)
        status, payload = _kms(url, operation, params)
        kind = payload.get("__type", "") if status != 200 else "OK"
        assert kind or status == 200, (operation, params, status, payload)
        outcomes[(operation, kind)] += 1
        if status >= 500 or kind == "KMSInternalException":
            internal.append((operation, params, payload))
    assert not internal, internal[:3]
    # Not a test of validation alone: requests got through to the handlers.
    succeeded = {operation for (operation, kind) in outcomes if kind == "OK"}
    assert len(succeeded) >= 6, outcomes
    assert gateway.healthy()
