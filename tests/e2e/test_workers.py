"""``serve --workers 2``: two processes share one port and one store.

Which worker serves a connection is read from /proc: the server-side socket of each
connection belongs to exactly one worker's file table. That lets a test pin a connection
to each worker and send signed requests over it.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.server import ACCESS_KEY_ID, SECRET_ACCESS_KEY, GatewayProcess

TCP_ESTABLISHED = "01"
TCP_LISTEN = "0A"


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; fields resume after the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_pids(server: GatewayProcess) -> list[int]:
    assert server.process is not None
    return sorted(p for p in children(server.process.pid) if "spawn_main" in cmdline(p))


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def tcp_sockets() -> list[tuple[int, int, str, str]]:
    """(local port, remote port, state, inode) of every IPv4/IPv6 TCP socket."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            rows.append((int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16),
                         state, inode))
    return rows


def listening_workers(server: GatewayProcess) -> set[int]:
    listening = {inode for lport, _, state, inode in tcp_sockets()
                 if lport == server.port and state == TCP_LISTEN}
    return {pid for pid in worker_pids(server) if socket_inodes(pid) & listening}


def serving_worker(server: GatewayProcess, client_port: int) -> int | None:
    inodes = {inode for lport, rport, state, inode in tcp_sockets()
              if lport == server.port and rport == client_port and state == TCP_ESTABLISHED}
    owners = [pid for pid in worker_pids(server) if socket_inodes(pid) & inodes]
    return owners[0] if len(owners) == 1 else None


class PinnedKms:
    """Signed KMS JSON requests over one kept-alive connection (so: one worker)."""

    def __init__(self, server: GatewayProcess) -> None:
        self.host = f"127.0.0.1:{server.port}"
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        self.conn.connect()
        assert self.conn.sock is not None
        self.local_port: int = self.conn.sock.getsockname()[1]
        self.signer = SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "kms", "us-east-1")

    def call(self, action: str, **params: object) -> tuple[int, dict]:
        body = json.dumps(params).encode()
        request = AWSRequest(
            method="POST", url=f"http://{self.host}/", data=body,
            headers={"Host": self.host, "X-Amz-Target": f"TrentService.{action}",
                     "Content-Type": "application/x-amz-json-1.1"},
        )
        self.signer.add_auth(request)
        self.conn.request("POST", "/", body=body, headers=dict(request.headers.items()))
        response = self.conn.getresponse()
        data = response.read()
        assert response.getheader("Connection", "").lower() != "close"
        return response.status, json.loads(data) if data else {}

    def ok(self, action: str, **params: object) -> dict:
        status, result = self.call(action, **params)
        assert status == 200, (action, status, result)
        return result

    def close(self) -> None:
        self.conn.close()


def error_type(result: dict) -> str:
    return str(result.get("__type", "")).rsplit("#", 1)[-1]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def start_two_workers(data_dir: Path) -> Iterator[GatewayProcess]:
    server = GatewayProcess(data_dir, workers=2)
    try:
        server.start()
        wait_until(lambda: len(listening_workers(server)) == 2, 20, "both workers to listen")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """Shared by the tests that leave two healthy workers behind."""
    yield from start_two_workers(tmp_path_factory.mktemp("workers") / "data")


@pytest.fixture
def own_two_workers(tmp_path: Path) -> Iterator[GatewayProcess]:
    yield from start_two_workers(tmp_path / "data")


@contextlib.contextmanager
def pin_each_worker(server: GatewayProcess) -> Iterator[dict[int, PinnedKms]]:
    """One kept-alive connection served by each worker, keyed by worker pid."""
    by_worker: dict[int, PinnedKms] = {}
    opened: list[PinnedKms] = []
    try:
        for _ in range(64):
            conn = PinnedKms(server)
            opened.append(conn)
            conn.ok("ListKeys")  # The worker has accepted the connection once it answers.
            pid = serving_worker(server, conn.local_port)
            if pid is not None and pid not in by_worker:
                by_worker[pid] = conn
            if len(by_worker) == 2:
                break
        assert len(by_worker) == 2, f"64 connections were all served by {list(by_worker)}"
        yield by_worker
    finally:
        for conn in opened:
            conn.close()


@pytest.fixture
def pinned(two_workers: GatewayProcess) -> Iterator[dict[int, PinnedKms]]:
    with pin_each_worker(two_workers) as by_worker:
        yield by_worker


def test_two_worker_processes_serve_one_port(two_workers, pinned):
    workers = worker_pids(two_workers)
    assert len(workers) == 2
    assert set(pinned) == set(workers)
    assert two_workers.process is not None and two_workers.process.pid not in pinned


def test_a_key_created_by_one_worker_is_usable_through_the_other(two_workers, pinned):
    first, second = pinned.values()
    key_id = first.ok("CreateKey", Description="cross-worker")["KeyMetadata"]["KeyId"]
    assert second.ok("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    plaintext = base64.b64encode(b"across workers").decode()
    blob = second.ok("Encrypt", KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
    assert first.ok("Decrypt", CiphertextBlob=blob)["Plaintext"] == plaintext
    second.ok("CreateAlias", AliasName="alias/cross-worker", TargetKeyId=key_id)
    assert first.ok("DescribeKey", KeyId="alias/cross-worker")["KeyMetadata"]["KeyId"] == key_id

    # Fresh boto3 clients (one new connection each) land on either worker; all succeed.
    for _ in range(12):
        kms = two_workers.client()
        result = kms.decrypt(CiphertextBlob=base64.b64decode(blob))
        assert result["Plaintext"] == b"across workers"
        kms.close()


def test_disable_key_on_one_worker_is_seen_by_the_other(two_workers, pinned):
    first, second = pinned.values()
    key_id = first.ok("CreateKey")["KeyMetadata"]["KeyId"]
    plaintext = base64.b64encode(b"x").decode()
    # The second worker caches the key as Enabled before the first one disables it.
    second.ok("Encrypt", KeyId=key_id, Plaintext=plaintext)
    first.ok("DisableKey", KeyId=key_id)

    status, result = first.call("Encrypt", KeyId=key_id, Plaintext=plaintext)
    assert (status, error_type(result)) == (400, "DisabledException")

    # The metadata cache lives 1 s; poll, bounded well above that.
    seen: list[tuple[int, str]] = []

    def second_sees_disabled() -> bool:
        status, result = second.call("Encrypt", KeyId=key_id, Plaintext=plaintext)
        seen.append((status, error_type(result)))
        return (status, error_type(result)) == (400, "DisabledException")

    wait_until(second_sees_disabled, 5, f"the other worker to refuse (saw {seen[-3:]})")

    first.ok("EnableKey", KeyId=key_id)
    wait_until(lambda: second.call("Encrypt", KeyId=key_id, Plaintext=plaintext)[0] == 200,
               5, "the other worker to accept the re-enabled key")


def test_a_change_acknowledged_by_a_worker_with_a_stale_copy_is_stored(two_workers, pinned):
    first, second = pinned.values()
    key_id = first.ok("CreateKey")["KeyMetadata"]["KeyId"]
    first.ok("DisableKey", KeyId=key_id)

    def state(worker: PinnedKms) -> str:
        return worker.ok("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"]

    # The second worker caches the key as Disabled ...
    wait_until(lambda: state(second) == "Disabled", 5, "the other worker to see it disabled")
    # ... the first enables it, and the second, its copy still saying Disabled, is asked
    # to disable it again at once: that DisableKey is acknowledged, so it must hold.
    first.ok("EnableKey", KeyId=key_id)
    second.ok("DisableKey", KeyId=key_id)
    for worker in (first, second):
        wait_until(lambda worker=worker: state(worker) == "Disabled", 5,
                   "both workers to report the acknowledged DisableKey")


def test_a_killed_worker_is_replaced(two_workers, pinned):
    victim = next(iter(pinned))
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: victim not in worker_pids(two_workers)
               and len(listening_workers(two_workers)) == 2, 20, "a replacement worker")
    survivors = worker_pids(two_workers)
    assert victim not in survivors and len(survivors) == 2
    for _ in range(8):
        kms = two_workers.client()
        assert kms.list_keys()["Keys"] is not None
        kms.close()


def test_sigterm_stops_every_worker(own_two_workers):
    server = own_two_workers
    assert server.process is not None
    parent = server.process
    descendants = children(parent.pid)
    workers = worker_pids(server)
    assert len(workers) == 2 and set(workers) <= set(descendants)
    # Both workers hold an idle kept-alive connection, which must not delay the shutdown.
    with pin_each_worker(server) as connections:
        assert set(connections) == set(workers)
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=15) == 0
    wait_until(lambda: not any(alive(pid) for pid in descendants), 10,
               f"children {descendants} to exit")
    assert not any(
        lport == server.port and state == TCP_LISTEN for lport, _, state, _ in tcp_sockets()
    ), "something still listens on the port"
