"""Send hand-made, SigV4-signed AWS JSON requests (botocore's signer) to a gateway."""

from __future__ import annotations

import datetime
import http.client
import json
import socket
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.server import ACCESS_KEY_ID, SECRET_ACCESS_KEY


def signed_headers(
    url: str,
    target: str,
    body: bytes,
    *,
    region: str = "us-east-1",
    service: str = "kms",
    access_key: str = ACCESS_KEY_ID,
    secret: str = SECRET_ACCESS_KEY,
    when: datetime.datetime | None = None,
) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    signer = SigV4Auth(Credentials(access_key, secret), service, region)
    if when is None:
        signer.add_auth(request)
    else:
        # botocore reads the time from datetime.datetime.utcnow-equivalent; sign a copy by
        # hand at the given instant instead.
        request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
        _add_auth_at(signer, request, when)
    return dict(request.headers.items())


def _add_auth_at(signer: SigV4Auth, request: AWSRequest, when: datetime.datetime) -> None:
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = stamp
    signer._modify_request_before_signing(request)
    request.headers["X-Amz-Date"] = stamp
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    signature = signer.signature(string_to_sign, request)
    signer._inject_signature_to_request(request, signature)


def post(
    url: str, headers: dict[str, str], body: bytes | list[bytes]
) -> tuple[int, dict, dict[str, str]]:
    """POST ``body``; a list of pieces goes chunked (Transfer-Encoding), one chunk each."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        chunked = isinstance(body, list)
        conn.request(
            "POST",
            "/",
            body=iter(body) if chunked else body,
            headers=headers,
            encode_chunked=chunked,
        )
        response = conn.getresponse()
        data = response.read()
        headers_out = {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
    parsed = json.loads(data) if data else {}
    return response.status, parsed, headers_out


def call(url: str, target: str, body: bytes, **sign: object) -> tuple[int, dict, dict[str, str]]:
    return post(url, signed_headers(url, target, body, **sign), body)


def read_response(sock: socket.socket) -> bytes:
    """One whole response from a raw socket, by its Content-Length: a server may linger
    before it closes a connection whose body it did not read, so EOF is not waited for."""
    def more() -> bytes:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection before a whole response")
        return chunk

    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += more()
    head, _, rest = reply.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(rest) < length:
        rest += more()
    return head + b"\r\n\r\n" + rest
