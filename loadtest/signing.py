"""SigV4-signed AWS JSON 1.1 requests for KMS, signed by botocore's own signer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CONTENT_TYPE = "application/x-amz-json-1.1"
# The e2e tests' bootstrap credentials: what `GATEWAY_ACCESS_KEY_ID` / `..._SECRET_...` hold.
TEST_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TEST_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def credentials_from_env() -> Credentials:
    """AWS_* variables or botocore's default chain (profiles, SSO, instance roles)."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN"))
    import botocore.session

    found = botocore.session.get_session().get_credentials()
    if found is None:
        raise SystemExit(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(for a local gateway, the values of GATEWAY_ACCESS_KEY_ID / GATEWAY_SECRET_ACCESS_KEY)"
        )
    return found.get_frozen_credentials()  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """One ready-to-send request; a SigV4 signature stays valid for the server's skew window
    (5 minutes in AWS and in the gateway), so replaying it in that window is fair."""

    operation: str
    headers: dict[str, str]
    body: bytes

    def wire(self, host: str) -> bytes:
        """The whole HTTP/1.1 request as bytes, for the raw replaying driver."""
        lines = ["POST / HTTP/1.1", f"Host: {host}", f"Content-Length: {len(self.body)}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "host"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


class Signer:
    """Signs KMS JSON requests for one endpoint, region and set of credentials."""

    def __init__(self, url: str, credentials: Credentials, region: str = "us-east-1") -> None:
        self.url = url.rstrip("/")
        self.netloc = urlsplit(self.url).netloc
        self.region = region
        self._sigv4 = SigV4Auth(credentials, "kms", region)

    def sign(self, operation: str, params: dict[str, object]) -> SignedRequest:
        body = orjson.dumps(params)
        request = AWSRequest(
            method="POST",
            url=self.url + "/",
            data=body,
            headers={"X-Amz-Target": f"TrentService.{operation}", "Content-Type": CONTENT_TYPE},
        )
        self._sigv4.add_auth(request)
        headers = dict(request.headers.items())
        return SignedRequest(operation, headers, body)
