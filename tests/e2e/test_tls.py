"""``--tls-cert/--tls-key``: HTTPS with TLS 1.2 or newer only."""

from __future__ import annotations

import contextlib
import datetime
import http.client
import ipaddress
import socket
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.server import ACCESS_KEY_ID, SECRET_ACCESS_KEY, GatewayProcess


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = write_self_signed(directory)
    server = GatewayProcess(
        directory / "data", extra_args=["--tls-cert", str(cert_path), "--tls-key", str(key_path)]
    )
    server.scheme = "https"
    server.cert_path = cert_path  # type: ignore[attr-defined]
    try:
        yield server.start()
    finally:
        server.stop()


def tls_client_context(cert_path: Path, maximum: ssl.TLSVersion) -> ssl.SSLContext:
    """A client willing to speak TLS 1.0 up to ``maximum``, so only the server can refuse."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = maximum
    # Old protocol versions need security level 0 in OpenSSL 3 on the client side.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.load_verify_locations(cert_path)
    return context


def handshake(server: GatewayProcess, context: ssl.SSLContext) -> str | None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return tls.version()


def test_boto3_works_over_https_with_the_self_signed_cert(tls_gateway):
    assert tls_gateway.url.startswith("https://")
    kms = boto3.client(
        "kms", region_name="us-east-1", endpoint_url=tls_gateway.url,
        aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY,
        verify=str(tls_gateway.cert_path), config=Config(retries={"max_attempts": 1}),
    )
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"over tls")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over tls"


def test_tls_1_2_handshake_succeeds_and_1_1_is_refused(tls_gateway):
    modern = tls_client_context(tls_gateway.cert_path, ssl.TLSVersion.TLSv1_3)
    assert handshake(tls_gateway, modern) in ("TLSv1.2", "TLSv1.3")
    tls12 = tls_client_context(tls_gateway.cert_path, ssl.TLSVersion.TLSv1_2)
    assert handshake(tls_gateway, tls12) == "TLSv1.2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = tls_client_context(tls_gateway.cert_path, ssl.TLSVersion.TLSv1_1)
    with pytest.raises(ssl.SSLError):
        handshake(tls_gateway, old)


def test_an_untrusting_client_rejects_the_certificate(tls_gateway):
    context = ssl.create_default_context()  # system CAs only: our cert is unknown
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tls_gateway, context)


def test_plain_http_to_the_tls_port_gets_no_answer(tls_gateway):
    conn = http.client.HTTPConnection("127.0.0.1", tls_gateway.port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
    except (http.client.HTTPException, OSError):
        return  # the TLS layer dropped the plaintext request
    finally:
        conn.close()
    assert response.status != 200
    assert b"ok" not in response.read()


def test_a_connection_stalled_in_its_handshake_is_closed_after_the_idle_timeout(tmp_path):
    cert_path, key_path = write_self_signed(tmp_path)
    server = GatewayProcess(
        tmp_path / "data",
        extra_args=["--tls-cert", str(cert_path), "--tls-key", str(key_path)],
        extra_env={"GATEWAY_IDLE_TIMEOUT_SECONDS": "1"},
    )
    server.scheme = "https"
    server.start()
    try:
        # No ClientHello at all, and half of one: either holds a descriptor until closed
        # (asyncio's own handshake timeout is 60 s, past this socket's 10).
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        half = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        for sock in (silent, half):
            with contextlib.suppress(ConnectionResetError):  # a reset is a close as well
                assert sock.recv(65536) == b""
            sock.close()
        # A real client still completes its handshake and is served.
        context = ssl.create_default_context(cafile=str(cert_path))
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert tls.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()
