"""Quotas end to end: exact across two workers, per account and region, hot keys, overload."""

from __future__ import annotations

import base64
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

from tests.e2e.rawclient import read_response, signed_headers
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


def _offer(
    server: GatewayProcess,
    region: str,
    rate: float,
    start: float,
    seconds: int,
    sent: list[tuple[float, str]],
    lock: threading.Lock,
    threads: int = 2,
) -> list[threading.Thread]:
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


def _raw(port: int, data: bytes, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(data)
    return sock


def _head(server: GatewayProcess, target: str, body: bytes) -> bytes:
    headers = signed_headers(server.url, target, body)
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{lines}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()


def test_overload_is_refused_at_once_and_nothing_is_lost(tmp_path):
    server = GatewayProcess(tmp_path / "data", extra_env={"GATEWAY_MAX_IN_FLIGHT": "1"}).start()
    try:
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        # An Encrypt waits for its batch: one in that wait holds the only slot, and the
        # others of the same burst are refused. Sixteen whole requests are written at once
        # on sixteen connections; bounded: until a refusal was seen, at most 10 s.
        body = f'{{"KeyId": "{key_id}", "Plaintext": "a2VwdA=="}}'.encode()
        sealed, refused = [], []
        deadline = time.monotonic() + 10
        while not refused and time.monotonic() < deadline:
            wire = _head(server, "TrentService.Encrypt", body) + body
            socks = [
                socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(16)
            ]
            for sock in socks:
                sock.sendall(wire)
            for sock in socks:
                reply = read_response(sock)
                sock.close()
                answer = json.loads(reply.partition(b"\r\n\r\n")[2])
                if reply.startswith(b"HTTP/1.1 200"):
                    sealed.append(base64.b64decode(answer["CiphertextBlob"]))
                else:
                    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
                    refused.append(answer["__type"])
        assert refused, "overload never refused"
        assert set(refused) == {"ThrottlingException"}
        assert server.healthy()  # /healthz is outside the budget
        assert sealed
        for blob in sealed:  # every answered request was really done
            assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    finally:
        server.stop()


def test_a_slow_body_holds_no_share_of_the_budget_and_times_out(tmp_path):
    server = GatewayProcess(
        tmp_path / "data",
        extra_env={"GATEWAY_MAX_IN_FLIGHT": "1", "GATEWAY_BODY_TIMEOUT_SECONDS": "1"},
    ).start()
    try:
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        body = f'{{"KeyId": "{key_id}", "Plaintext": "aGVsbG8="}}'.encode()
        # Headers and part of a body, more than the budget allows, from no one signed in.
        stalled = [
            _raw(server.port, _head(server, "TrentService.Encrypt", body) + body[:10])
            for _ in range(3)
        ]
        broken_chunks = _raw(
            server.port,
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
        )
        time.sleep(0.1)
        broken_chunks.sendall(b"zz\r\n{}\r\n0\r\n\r\n")  # never a valid chunk size
        # Meanwhile others are served.
        assert kms.generate_random(NumberOfBytes=4)["Plaintext"]
        # The stalled ones are answered 408 once the body timeout is over, and closed.
        for sock in [*stalled, broken_chunks]:
            reply = read_response(sock)
            assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
            assert b"Connection: close" in reply and b"RequestTimeoutException" in reply
            # Closed once aiohttp stops draining the body (2 s), within the 10 s socket timeout.
            assert sock.recv(65536) == b""
            sock.close()
        # A body that does arrive within the timeout is served.
        slow = _raw(server.port, _head(server, "TrentService.Encrypt", body) + body[:10])
        time.sleep(0.2)
        slow.sendall(body[10:])
        reply = read_response(slow)
        slow.close()
        assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    finally:
        server.stop()


def test_idle_connections_and_trickling_headers_are_closed(tmp_path):
    server = GatewayProcess(
        tmp_path / "data", extra_env={"GATEWAY_IDLE_TIMEOUT_SECONDS": "1"}
    ).start()
    try:
        idle = _raw(server.port, b"")
        trickling = _raw(server.port, b"POST / HTTP/1.1\r\nHost: x\r\n")  # never ends
        for sock in (idle, trickling):
            assert sock.recv(65536) == b""  # closed by the server; the socket timeout is 10 s
            sock.close()
        assert server.healthy()
    finally:
        server.stop()


_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def _served(port: int) -> socket.socket:
    """A connection the gateway has answered on (the cap may still count one just closed)."""
    deadline = time.monotonic() + 10
    while True:
        sock = _raw(port, _HEALTHZ)
        try:
            if read_response(sock).startswith(b"HTTP/1.1 200"):
                return sock
        except ConnectionError:
            sock.close()
        assert time.monotonic() < deadline, "no connection was served"
        time.sleep(0.05)


def _refused_after_accept(port: int) -> bool:
    sock = _raw(port, _HEALTHZ)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:  # closed with the request unread
        return True
    finally:
        sock.close()


def test_connections_past_the_cap_are_closed_and_the_open_ones_served(tmp_path):
    server = GatewayProcess(tmp_path / "data", extra_env={"GATEWAY_MAX_CONNECTIONS": "2"}).start()
    try:
        held = [_served(server.port), _served(server.port)]
        assert _refused_after_accept(server.port)
        assert _refused_after_accept(server.port)
        for sock in held:  # the connections already open are served as before
            sock.sendall(_HEALTHZ)
            assert read_response(sock).startswith(b"HTTP/1.1 200")
        held.pop().close()
        metrics = _served(server.port)  # a place is free again
        metrics.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        text = read_response(metrics).decode()
        assert "gateway_connections_refused_total 2.0" in text
        assert "gateway_open_connections 2.0" in text
        for sock in (*held, metrics):
            sock.close()
    finally:
        server.stop()
    # A refused connection is closed a turn after aiohttp starts its task, which would fail
    # if the connection were already gone when it starts.
    assert "Traceback" not in server.log_path.read_text()
