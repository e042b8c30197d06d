"""Thousands of concurrent Sign requests on one P-256 key: all verify, they batch, and
precomputed nonces sign them without ever repeating one."""

from __future__ import annotations

import re
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.e2e.server import GatewayProcess

REQUESTS = 2000
THREADS = 48


def _scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        return response.read().decode()


def precomputed_signatures(url: str) -> float:
    match = re.search(r"^gateway_ecdsa_signatures_precomputed_total (\S+)$", _scrape(url), re.M)
    assert match, "the gateway does not report its precomputed signatures"
    return float(match.group(1))


def sign_batches(url: str) -> tuple[float, float]:
    """(sum, count) of the gateway_crypto_batch_size histogram for native signing."""
    text = _scrape(url)
    found = {}
    for part in ("sum", "count"):
        match = re.search(
            rf'^gateway_crypto_batch_size_{part}\{{operation="sign"\}} (\S+)$', text, re.M
        )
        found[part] = float(match.group(1)) if match else 0.0
    return found["sum"], found["count"]


def _sign_concurrently(gateway) -> float:
    """REQUESTS concurrent Signs on a new P-256 key: each verifies, no r repeats, they
    batch. Returns how many of them this gateway signed with a precomputed nonce."""
    kms = gateway.client("kms")
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    pub = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    before = sign_batches(gateway.url)
    precomputed_before = precomputed_signatures(gateway.url)
    local = threading.local()

    def sign(index: int) -> tuple[bytes, bytes]:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = gateway.client("kms", max_pool_connections=2)
        message = f"message {index}".encode()
        out = client.sign(KeyId=key_id, Message=message, SigningAlgorithm="ECDSA_SHA_256")
        return message, out["Signature"]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(sign, range(REQUESTS), timeout=300))
    assert len(results) == REQUESTS
    for message, signature in results:
        pub.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    # A nonce used twice would show as a repeated r.
    assert len({decode_dss_signature(signature)[0] for _, signature in results}) == REQUESTS
    after = sign_batches(gateway.url)
    items, batches = after[0] - before[0], after[1] - before[1]
    assert items >= REQUESTS  # every Sign went through the native batcher
    assert batches < items, f"no batch ever held more than one item ({items} in {batches})"
    return precomputed_signatures(gateway.url) - precomputed_before


def test_concurrent_signs_all_verify_and_batch(gateway):
    # The default gateway precomputes no nonces: every signature is an ordinary one.
    assert _sign_concurrently(gateway) == 0


def test_precomputed_nonces_sign_concurrent_requests(tmp_path):
    server = GatewayProcess(
        tmp_path / "data", extra_env={"GATEWAY_ECDSA_PRECOMPUTE": "256"}
    ).start()
    try:
        assert _sign_concurrently(server) > 0
    finally:
        server.stop()
