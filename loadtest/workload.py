"""Setup calls and pools of pre-signed requests for one operation against one endpoint."""

from __future__ import annotations

import base64
import http.client
import random
from collections.abc import Sequence
from urllib.parse import urlsplit

import orjson

from loadtest import operations as ops
from loadtest.signing import Signer


class CallError(RuntimeError):
    def __init__(self, operation: str, kind: str, message: str) -> None:
        super().__init__(f"{operation}: {kind}: {message}")
        self.kind = kind


def call(signer: Signer, operation: str, params: dict[str, object]) -> dict:
    """One synchronous signed call, for setup only (keys, ciphertexts, signatures)."""
    request = signer.sign(operation, params)
    parts = urlsplit(signer.url)
    https = parts.scheme == "https"
    connection_type = http.client.HTTPSConnection if https else http.client.HTTPConnection
    conn = connection_type(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("POST", "/", body=request.body, headers=request.headers)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    parsed = orjson.loads(data) if data else {}
    if response.status != 200:
        kind = str(parsed.get("__type", response.status)).rpartition("#")[2]
        raise CallError(operation, kind, str(parsed.get("message", parsed.get("Message", ""))))
    return parsed


def create_key(signer: Signer, kind: str = "symmetric") -> str:
    params = {**ops.CREATE_KEY[kind], "Description": "kms-gateway loadtest"}
    return str(call(signer, "CreateKey", params)["KeyMetadata"]["KeyId"])


def ciphertexts(signer: Signer, key_id: str, shape: ops.Shape, count: int) -> list[bytes]:
    return [
        base64.b64decode(call(signer, "Encrypt", ops.encrypt(key_id, shape))["CiphertextBlob"])
        for _ in range(count)
    ]


def pool(
    signer: Signer,
    operation: str,
    key_ids: Sequence[str],
    shape: ops.Shape,
    size: int = 64,
    seed: int = 1,
) -> list[bytes]:
    """``size`` distinct signed requests, each on a key drawn from ``key_ids``.

    Decrypt, ReEncrypt and Verify need real inputs, made here by setup calls on the first key.
    """
    host = signer.netloc
    rng = random.Random(seed)
    first = key_ids[0]
    if operation in ("Decrypt", "ReEncrypt"):
        blobs = ciphertexts(signer, first, shape, min(size, 64))
    if operation == "Verify":
        message = b"loadtest message"
        params = {**ops.sign(first, shape), "Message": base64.b64encode(message).decode()}
        signature = base64.b64decode(call(signer, "Sign", params)["Signature"])
    built = []
    for i in range(size):
        key_id = rng.choice(key_ids)
        if operation == "Encrypt":
            params = ops.encrypt(key_id, shape)
        elif operation == "GenerateDataKey":
            params = ops.generate_data_key(key_id, shape)
        elif operation == "Decrypt":
            params = ops.decrypt(blobs[i % len(blobs)], shape)
        elif operation == "ReEncrypt":
            params = ops.re_encrypt(blobs[i % len(blobs)], key_id, shape)
        elif operation == "Sign":
            params = ops.sign(key_id, shape)
        elif operation == "Verify":
            params = ops.verify(first, message, signature)
        elif operation == "GenerateMac":
            params = ops.generate_mac(key_id, shape)
        elif operation == "CreateKey":
            params = {"Description": f"loadtest {i}"}
        else:
            raise ValueError(f"unknown operation {operation!r}")
        built.append(signer.sign(operation, params).wire(host))
    return built


def ceiling_pool(signer: Signer, shape: ops.Shape, size: int = 256) -> list[bytes]:
    """Encrypt requests for the bare ceiling (``bare_server.py``), which parses the same
    bodies as the gateway and looks no key up: no setup calls, a made-up key id."""
    return [
        signer.sign("Encrypt", ops.encrypt("0" * 36, shape)).wire(signer.netloc)
        for _ in range(size)
    ]
