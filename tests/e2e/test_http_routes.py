"""Requests that the fast lane leaves to the router reach the same endpoint, or the
router's own answers."""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request

import pytest

from tests.e2e.rawclient import read_response, signed_headers


def test_a_post_with_expect_100_continue_gets_it_then_its_answer(gateway, kms, key_id):
    body = json.dumps({"KeyId": key_id, "Plaintext": base64.b64encode(b"hello").decode()})
    headers = signed_headers(gateway.url, "TrentService.Encrypt", body.encode())
    port = int(gateway.url.rsplit(":", 1)[1])
    # Host as botocore signed it, from the URL.
    headers |= {"Host": f"127.0.0.1:{port}", "Expect": "100-continue"}
    headers["Content-Length"] = str(len(body))
    head = "POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n")  # the headers alone, as such a client does
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(65536)
            assert chunk, f"the connection closed before an interim answer: {interim!r}"
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
        sock.sendall(body.encode())
        reply = read_response(sock)
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 200"), reply
    answer = json.loads(rest.partition(b"\r\n\r\n")[2])
    blob = base64.b64decode(answer["CiphertextBlob"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/", 405), ("GET", "/nope", 404)])
def test_other_routes_get_the_routers_answers(gateway, method, path, status):
    request = urllib.request.Request(gateway.url + path, method=method)
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == status
