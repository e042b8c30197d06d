"""Locust users calling KMS (the gateway or AWS) with SigV4-signed JSON requests.

locust -f loadtest/locustfile.py --headless -u 8 -r 8 --run-time 30s --host http://127.0.0.1:8080

Everything is configured by environment variables (see loadtest/README.md):
KMS_LOADTEST_WEIGHTS   e.g. "GenerateDataKey=4,Decrypt=4,Encrypt=1,ReEncrypt=1,Sign=0" (the
                       default; operations left out weigh 0; also Verify, GenerateMac)
KMS_LOADTEST_KEY_IDS   symmetric key ids/ARNs/aliases to use (comma-separated); default: create
KMS_LOADTEST_KEYS      how many symmetric keys to create when none are given (default 2)
KMS_LOADTEST_SIGN_KEY_ID / KMS_LOADTEST_MAC_KEY_ID   ECC_NIST_P256 / HMAC_256 keys; default: create
KMS_LOADTEST_PLAINTEXT_BYTES (32), KMS_LOADTEST_DATA_KEY_SPEC (AES_256, AES_128 or a byte count),
KMS_LOADTEST_MESSAGE_BYTES (64), KMS_LOADTEST_CONTEXT (JSON object, default none),
KMS_LOADTEST_WAIT (seconds between a user's tasks, default 0), KMS_LOADTEST_CLEANUP (1: schedule
deletion of the keys this run created, at its end). Credentials: AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) or botocore's default chain; region: AWS_REGION.

ThrottlingException is its own outcome: the request is reported under "<Operation>
[ThrottlingException]" and not counted as a failure, so the failure count holds real errors.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import random
import sys
from typing import Any

from locust import HttpUser, constant, events
from locust.env import Environment
from locust.runners import MasterRunner

# Locust puts this file's directory on sys.path; the shared helpers import as `loadtest.*`.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from loadtest import operations as ops  # noqa: E402
from loadtest import workload  # noqa: E402
from loadtest.signing import Signer, credentials_from_env  # noqa: E402

DEFAULT_WEIGHTS = "GenerateDataKey=4,Decrypt=4,Encrypt=1,ReEncrypt=1,Sign=0,Verify=0,GenerateMac=0"


def parse_weights(text: str) -> dict[str, int]:
    weights = dict.fromkeys(ops.OPERATIONS, 0)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name not in weights or not value.strip().isdigit():
            raise SystemExit(
                f"KMS_LOADTEST_WEIGHTS: bad entry {item!r}; expected Operation=integer with "
                f"Operation one of {', '.join(ops.OPERATIONS)}"
            )
        weights[name] = int(value)
    if not any(weights.values()):
        raise SystemExit("KMS_LOADTEST_WEIGHTS: every weight is 0, nothing to do")
    return weights


def _shape() -> ops.Shape:
    spec = os.environ.get("KMS_LOADTEST_DATA_KEY_SPEC", "AES_256")
    context = json.loads(os.environ.get("KMS_LOADTEST_CONTEXT", "{}"))
    if not isinstance(context, dict):
        raise SystemExit("KMS_LOADTEST_CONTEXT must be a JSON object of strings")
    return ops.Shape(
        plaintext_bytes=int(os.environ.get("KMS_LOADTEST_PLAINTEXT_BYTES", "32")),
        data_key_spec="" if spec.isdigit() else spec,
        data_key_bytes=int(spec) if spec.isdigit() else 32,
        message_bytes=int(os.environ.get("KMS_LOADTEST_MESSAGE_BYTES", "64")),
        encryption_context={str(k): str(v) for k, v in context.items()},
    )


WEIGHTS = parse_weights(os.environ.get("KMS_LOADTEST_WEIGHTS") or DEFAULT_WEIGHTS)
SHAPE = _shape()
# Keys of this process, filled at test start: kind -> ids, and the ids this run created.
KEYS: dict[str, list[str]] = {}
CREATED: list[str] = []
# Why a kind of key could not be created (e.g. a KeySpec the endpoint does not support yet).
KEY_ERRORS: dict[str, str] = {}


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _kinds_needed() -> set[str]:
    return {ops.KEY_KIND[name] for name, weight in WEIGHTS.items() if weight > 0} | (
        {"symmetric"} if WEIGHTS["Decrypt"] or WEIGHTS["ReEncrypt"] else set()
    )


@events.test_start.add_listener
def _create_keys(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        return  # the workers call KMS; the master only aggregates
    signer = Signer(str(environment.host), credentials_from_env(), _region())
    given = {
        "symmetric": os.environ.get("KMS_LOADTEST_KEY_IDS", ""),
        "sign": os.environ.get("KMS_LOADTEST_SIGN_KEY_ID", ""),
        "mac": os.environ.get("KMS_LOADTEST_MAC_KEY_ID", ""),
    }
    for kind in _kinds_needed():
        ids = [k.strip() for k in given[kind].split(",") if k.strip()]
        if not ids:
            count = int(os.environ.get("KMS_LOADTEST_KEYS", "2")) if kind == "symmetric" else 1
            try:
                ids = [workload.create_key(signer, kind) for _ in range(count)]
            except workload.CallError as exc:
                # Report it on every task that needs the key rather than crash the run.
                KEY_ERRORS[kind] = f"no {kind} key: {exc}"
            CREATED.extend(ids)
        KEYS[kind] = ids


@events.test_stop.add_listener
def _delete_keys(environment: Environment, **_: Any) -> None:
    if not CREATED or os.environ.get("KMS_LOADTEST_CLEANUP", "1") != "1":
        return
    signer = Signer(str(environment.host), credentials_from_env(), _region())
    for key_id in CREATED:
        # Seven days is the shortest waiting period KMS allows.
        workload.call(signer, "ScheduleKeyDeletion", {"KeyId": key_id, "PendingWindowInDays": 7})
    CREATED.clear()


class KmsOperations(HttpUser):
    """One method per KMS operation; ``KmsUser`` below weighs them."""

    abstract = True
    wait_time = constant(float(os.environ.get("KMS_LOADTEST_WAIT", "0")))

    def on_start(self) -> None:
        self.signer = Signer(self.host or "", credentials_from_env(), _region())
        # Recent outputs feed the operations that need real inputs (Decrypt, Verify).
        self.ciphertexts: collections.deque[bytes] = collections.deque(maxlen=32)
        self.signatures: collections.deque[tuple[bytes, bytes]] = collections.deque(maxlen=32)

    def _call(self, operation: str, params: dict[str, object] | None) -> dict[str, Any] | None:
        if params is None:
            return None
        request = self.signer.sign(operation, params)
        with self.client.post(
            "/", data=request.body, headers=request.headers, name=operation, catch_response=True
        ) as response:
            try:
                answer = response.json() if response.content else {}
            except ValueError:
                answer = {}
            if response.status_code == 200:
                response.success()
                return answer
            kind = str(answer.get("__type", f"HTTP {response.status_code}")).rpartition("#")[2]
            if kind == "ThrottlingException":
                response.request_meta["name"] = f"{operation} [ThrottlingException]"
                response.success()
            else:
                message = answer.get("message") or answer.get("Message") or ""
                response.failure(f"{kind}: {message}")
        return None

    def _key(self, kind: str, operation: str) -> str | None:
        if KEYS.get(kind):
            return random.choice(KEYS[kind])
        self.environment.events.request.fire(
            request_type="POST",
            name=operation,
            response_time=0,
            response_length=0,
            exception=RuntimeError(KEY_ERRORS.get(kind, f"no {kind} key")),
            context={},
        )
        return None

    def _ciphertext(self) -> bytes | None:
        if not self.ciphertexts:
            self.encrypt()
        return random.choice(self.ciphertexts) if self.ciphertexts else None

    def encrypt(self) -> None:
        key = self._key("symmetric", "Encrypt")
        answer = self._call("Encrypt", ops.encrypt(key, SHAPE) if key else None)
        if answer:
            self.ciphertexts.append(base64.b64decode(answer["CiphertextBlob"]))

    def generate_data_key(self) -> None:
        key = self._key("symmetric", "GenerateDataKey")
        answer = self._call("GenerateDataKey", ops.generate_data_key(key, SHAPE) if key else None)
        if answer:
            self.ciphertexts.append(base64.b64decode(answer["CiphertextBlob"]))

    def decrypt(self) -> None:
        blob = self._ciphertext()
        if blob is not None:
            self._call("Decrypt", ops.decrypt(blob, SHAPE))

    def re_encrypt(self) -> None:
        blob = self._ciphertext()
        key = self._key("symmetric", "ReEncrypt")
        if blob is not None and key is not None:
            self._call("ReEncrypt", ops.re_encrypt(blob, key, SHAPE))

    def sign(self) -> None:
        key = self._key("sign", "Sign")
        params = ops.sign(key, SHAPE) if key else None
        answer = self._call("Sign", params)
        if answer and params:
            message = base64.b64decode(str(params["Message"]))
            self.signatures.append((message, base64.b64decode(answer["Signature"])))

    def verify(self) -> None:
        if not self.signatures:
            self.sign()
        key = self._key("sign", "Verify") if self.signatures else None
        if key is not None:
            message, signature = random.choice(self.signatures)
            self._call("Verify", ops.verify(key, message, signature))

    def generate_mac(self) -> None:
        key = self._key("mac", "GenerateMac")
        self._call("GenerateMac", ops.generate_mac(key, SHAPE) if key else None)


_TASKS = {
    "Encrypt": KmsOperations.encrypt,
    "GenerateDataKey": KmsOperations.generate_data_key,
    "Decrypt": KmsOperations.decrypt,
    "ReEncrypt": KmsOperations.re_encrypt,
    "Sign": KmsOperations.sign,
    "Verify": KmsOperations.verify,
    "GenerateMac": KmsOperations.generate_mac,
}


class KmsUser(KmsOperations):
    """Calls KMS operations in proportion to KMS_LOADTEST_WEIGHTS."""

    # Set in the class body: Locust's metaclass expands a weight dict only at class creation.
    tasks = {_TASKS[name]: weight for name, weight in WEIGHTS.items() if weight > 0}  # type: ignore[assignment]
