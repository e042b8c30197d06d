"""The logs are JSON lines with request ids, and never carry plaintext, keys or secrets."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.server import SECRET_ACCESS_KEY, GatewayProcess


def test_debug_logs_are_json_with_request_ids_and_no_secrets(tmp_path):
    server = GatewayProcess(tmp_path / "data", extra_env={"GATEWAY_LOG_LEVEL": "DEBUG"}).start()
    secret = b"PLAINTEXT-THAT-MUST-NOT-BE-LOGGED"
    try:
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=secret)["CiphertextBlob"]
        data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]
        with pytest.raises(ClientError) as excinfo:
            kms.decrypt(CiphertextBlob=blob[:-1] + bytes([blob[-1] ^ 1]))
        request_id = excinfo.value.response["ResponseMetadata"]["RequestId"]
    finally:
        server.stop()
    text = server.log_path.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(r.get("request_id") == request_id and r.get("error") ==
               "InvalidCiphertextException" for r in records)
    assert sum(r.get("message") == "request" for r in records) >= 4  # one per request
    forbidden = [secret, base64.b64encode(secret), data_key, base64.b64encode(data_key),
                 SECRET_ACCESS_KEY.encode(), (server.data_dir / "root.key").read_bytes()]
    raw = text.encode()
    for value in forbidden:
        assert value not in raw
    assert base64.b64encode((server.data_dir / "root.key").read_bytes()) not in raw
