"""Quotas end to end: exact across two workers, per account and region, hot keys, overload."""

from __future__ import annotations

import http.client
import json
import math
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.e2e.rawclient import signed_headers
from tests.e2e.server import GatewayProcess

RATE = 40  # configured symmetric quota (requests per second)
SECONDS = 4


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(
        "[[quota]]\n"
        'name = "kms:CryptographicOperationsSymmetric"\n'
        f"value = {RATE}\n"
        "[[quota]]\n"
        'name = "kms:DescribeKey"\n'
        "value = 2\n"
    )
    return path


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("throttled")
    server = GatewayProcess(
        tmp / "data", workers=2, extra_args=["--config", str(_config(tmp))]
    ).start()
    yield server
    server.stop()


def _offer(server: GatewayProcess, region: str, rate: float, start: float, seconds: int,
           sent: list[tuple[float, str]], lock: threading.Lock,
           threads: int = 2) -> list[threading.Thread]:
    """Send GenerateRandom at ``rate``/s from ``start`` for ``seconds`` (open loop).

    The request is signed once and replayed (a signature stays valid for minutes), so the
    generator stays cheap; each outcome is recorded with the second it was sent in.
    """
    total = int(rate * seconds)
    body = b'{"NumberOfBytes": 8}'
    headers = signed_headers(server.url, "TrentService.GenerateRandom", body, region=region)

    def run(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for i in range(index, total, threads):
            delay = start + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            sent_at = time.time()
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            payload = json.loads(response.read())
            outcome = "ok" if response.status == 200 else f"{payload['__type']}/{response.status}"
            with lock:
                sent.append((sent_at, outcome))
        conn.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    return workers


def test_two_workers_enforce_the_quota_exactly_per_region(limited):
    lock = threading.Lock()
    results: dict[str, list[tuple[float, str]]] = {"eu-west-3": [], "ap-south-1": []}
    start = math.ceil(time.time()) + 1.0  # windows are aligned on whole seconds
    threads = []
    for region, sent in results.items():
        threads += _offer(limited, region, 2 * RATE, start, SECONDS, sent, lock)
    for thread in threads:
        thread.join(timeout=60)
    for region, sent in results.items():
        outcomes = Counter(outcome for _, outcome in sent)
        assert sum(outcomes.values()) == 2 * RATE * SECONDS, (region, outcomes)
        assert set(outcomes) <= {"ok", "ThrottlingException/400"}, (region, outcomes)
        # The quota allows RATE per one-second window: what each window could accept of
        # what was offered in it (robust to a load generator slowed by a busy machine).
        offered = Counter(int(sent_at) for sent_at, _ in sent)
        expected = sum(min(count, RATE) for count in offered.values())
        assert expected >= RATE * SECONDS  # the offered load really was over the quota
        assert abs(outcomes["ok"] - expected) <= 0.02 * expected, (region, outcomes, offered)


def test_throttling_message_and_botocore_retries_recover(limited):
    no_retries = limited.client()
    key_id = no_retries.create_key()["KeyMetadata"]["KeyId"]
    codes = Counter()
    for _ in range(6):
        try:
            no_retries.describe_key(KeyId=key_id)
            codes["ok"] += 1
        except ClientError as exc:
            codes[exc.response["Error"]["Code"]] += 1
            message = exc.response["Error"]["Message"]
    assert codes["ThrottlingException"] >= 1
    assert message == (
        "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
    )
    retrying = limited.client(retries={"mode": "standard", "max_attempts": 12})
    attempts = 0
    for _ in range(6):
        response = retrying.describe_key(KeyId=key_id)
        attempts += response["ResponseMetadata"]["RetryAttempts"]
    assert attempts > 0  # it was throttled, backed off and succeeded


def test_hot_key_state_changes_are_throttled_under_the_account_quota(limited):
    kms = limited.client(region="eu-central-1")
    hot, cold = (kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
    successes_per_second: Counter = Counter()
    throttled = None
    for i in range(30):  # bounded; a hot key is throttled after 3 changes in one second
        call = kms.disable_key if i % 2 == 0 else kms.enable_key
        try:
            call(KeyId=hot)
            successes_per_second[int(time.time())] += 1
        except ClientError as exc:
            throttled = exc.response["Error"]
            break
    assert throttled is not None and throttled["Code"] == "ThrottlingException"
    # EnableKey and DisableKey each allow 5/s per account: the key's own limit acted first.
    assert max(successes_per_second.values()) <= 5
    kms.disable_key(KeyId=cold)  # another key of the same account is not hot


def test_overload_is_refused_at_once_and_nothing_is_lost(tmp_path):
    server = GatewayProcess(
        tmp_path / "data", extra_env={"GATEWAY_MAX_IN_FLIGHT": "1"}
    ).start()
    try:
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        body = f'{{"KeyId": "{key_id}", "Plaintext": "aGVsbG8="}}'.encode()
        headers = signed_headers(server.url, "TrentService.Encrypt", body)
        # A request that has sent only half its body holds the one in-flight slot.
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        slow.sendall(
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10]
        )
        deadline = time.monotonic() + 10
        while True:  # bounded: until the slow request is being read by the server
            try:
                kms.generate_random(NumberOfBytes=4)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ThrottlingException"
                assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 400
                break
            assert time.monotonic() < deadline, "overload never refused"
        assert server.healthy()  # /healthz is outside the budget
        slow.sendall(body[10:])
        reply = slow.recv(65536).decode()
        slow.close()
        assert reply.startswith("HTTP/1.1 200"), reply[:200]
        kms.generate_random(NumberOfBytes=4)  # serving normally again
    finally:
        server.stop()
