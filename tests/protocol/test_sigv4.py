"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

import calendar
import time
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from gateway.errors import (
    AwsError,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
)
from gateway.protocol.sigv4 import (
    SignedRequest,
    SigningKeyCache,
    _parse_exactly,
    canonical_query,
    canonical_uri,
    derive_signing_key,
    parse_authorization,
    verify_signature,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
HOST = "kms.us-east-1.amazonaws.com"
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
BODY = b'{"KeyId": "alias/app", "Plaintext": "aGVsbG8="}'
# 2025-01-01T00:10:00Z, a fixed "server now" for timestamp tests.
NOW = calendar.timegm((2025, 1, 1, 0, 10, 0))


class Signed:
    """A botocore-signed request as the wire layer sees it."""

    def __init__(self, headers: CIMultiDict[str], body: bytes, path: str, query: str) -> None:
        self.headers = headers
        self.body = body
        self.path = path
        self.query = query


def sign(
    body: bytes = BODY,
    *,
    path: str = "/",
    params: dict[str, str] | None = None,
    token: str | None = None,
    at: float | None = None,
    region: str = "us-east-1",
    service: str = "kms",
    secret: str = SECRET,
) -> Signed:
    request = AWSRequest(
        method="POST",
        url=f"https://{HOST}{path}",
        data=body,
        params=params or {},
        headers={
            "X-Amz-Target": "TrentService.Encrypt",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    auth = SigV4Auth(Credentials(ACCESS_KEY, secret, token), service, region)
    if at is None:
        auth.add_auth(request)
    else:
        import datetime as dt

        fixed = dt.datetime.fromtimestamp(at, dt.UTC).replace(tzinfo=None)
        with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
            auth.add_auth(request)
    prepared = request.prepare()
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in prepared.headers.items():
        headers[name] = value.decode() if isinstance(value, bytes) else value
    headers["Host"] = HOST  # set by the HTTP client on the wire
    raw = prepared.url.split(HOST, 1)[1]
    wire_path, _, wire_query = raw.partition("?")
    return Signed(headers, prepared.body or b"", wire_path, wire_query)


def verify(s: Signed, *, secret: str = SECRET, now: float | None = None) -> SignedRequest:
    req = parse_authorization(s.headers, now=time.time() if now is None else now)
    verify_signature(
        req,
        secret=secret,
        method="POST",
        path=s.path,
        query=s.query,
        headers=s.headers,
        body=s.body,
        cache=SigningKeyCache(),
    )
    return req


# --- accepted requests --------------------------------------------------------------------


def test_botocore_signed_kms_post_verifies() -> None:
    req = verify(sign())
    assert req.access_key_id == ACCESS_KEY
    assert req.region == "us-east-1"
    assert req.service == "kms"
    assert req.signed_headers == ("content-type", "host", "x-amz-date", "x-amz-target")
    assert len(req.date) == 8 and req.amz_date.startswith(req.date)


def test_plain_dict_with_lower_case_keys_is_accepted() -> None:
    s = sign()
    s.headers = CIMultiDict({k.lower(): v for k, v in s.headers.items()})
    lower = {k.lower(): v for k, v in s.headers.items()}
    req = parse_authorization(lower, now=time.time())
    verify_signature(
        req,
        secret=SECRET,
        method="POST",
        path="/",
        query="",
        headers=lower,
        body=s.body,
        cache=SigningKeyCache(),
    )


def test_session_token_request_verifies() -> None:
    s = sign(token="FQoGZXIvYXdzEXAMPLETOKEN//+=")
    req = verify(s)
    assert "x-amz-security-token" in req.signed_headers


def test_empty_body_verifies() -> None:
    verify(sign(b""))


def test_query_with_special_characters_canonicalises_like_botocore() -> None:
    params = {"b key": "v/1+2", "a": "x~y*z", "Ünï": "ç@d&e=f", "empty": ""}
    verify(sign(params=params))


def test_path_with_special_characters_canonicalises_like_botocore() -> None:
    verify(sign(path="/a%20b/c~d/./e/../f//g"))


def test_region_and_service_come_from_the_scope() -> None:
    req = verify(sign(region="eu-west-3", service="acm"))
    assert (req.region, req.service) == ("eu-west-3", "acm")


def test_signing_key_is_cached_and_bounded() -> None:
    cache = SigningKeyCache(max_entries=2)
    first = cache.get(SECRET, "20250101", "us-east-1", "kms")
    assert first == derive_signing_key(SECRET, "20250101", "us-east-1", "kms")
    assert cache.get(SECRET, "20250101", "us-east-1", "kms") is first
    cache.get(SECRET, "20250102", "us-east-1", "kms")
    cache.get(SECRET, "20250103", "us-east-1", "kms")
    assert len(cache) == 2
    assert SECRET not in repr(cache)


def test_aws_documented_signing_key_example() -> None:
    # The example in AWS's SigV4 documentation ("Deriving a signing key").
    key = derive_signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"
    )
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_canonical_helpers() -> None:
    assert canonical_uri("/") == "/"
    assert canonical_uri("") == "/"
    assert canonical_uri("/a b/%2F") == "/a%20b/%252F"
    assert canonical_query("b=2&a=1&a=0") == "a=0&a=1&b=2"
    assert canonical_query("x=a+b&y=%7E") == "x=a%20b&y=~"


# --- rejected requests --------------------------------------------------------------------


def assert_mismatch(s: Signed, **kwargs: object) -> None:
    with pytest.raises(InvalidSignatureException) as exc:
        verify(s, **kwargs)  # type: ignore[arg-type]
    assert exc.value.message == MISMATCH


def test_tampered_body_is_rejected() -> None:
    s = sign()
    s.body = s.body.replace(b"alias/app", b"alias/evil")
    assert_mismatch(s)


def test_tampered_signed_header_is_rejected() -> None:
    s = sign()
    s.headers["X-Amz-Target"] = "TrentService.Decrypt"
    assert_mismatch(s)


def test_tampered_signature_is_rejected() -> None:
    s = sign()
    auth = s.headers["Authorization"]
    last = auth[-1]
    s.headers["Authorization"] = auth[:-1] + ("0" if last != "0" else "1")
    assert_mismatch(s)


def test_non_ascii_signature_is_rejected() -> None:
    s = sign()
    s.headers["Authorization"] = s.headers["Authorization"][:-1] + "é"
    assert_mismatch(s)


def test_wrong_secret_is_rejected() -> None:
    assert_mismatch(sign(), secret=SECRET + "x")


def test_unsigned_payload_is_rejected() -> None:
    s = sign()
    s.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    assert_mismatch(s)


def test_expired_timestamp_says_signature_expired() -> None:
    s = sign(at=NOW - 600)
    with pytest.raises(InvalidSignatureException) as exc:
        verify(s, now=NOW)
    assert exc.value.message == (
        "Signature expired: 20250101T000000Z is now earlier than 20250101T000500Z "
        "(20250101T001000Z - 5 min.)"
    )


def test_future_timestamp_says_not_yet_current() -> None:
    s = sign(at=NOW + 600)
    with pytest.raises(InvalidSignatureException) as exc:
        verify(s, now=NOW)
    assert exc.value.message == (
        "Signature not yet current: 20250101T002000Z is still later than 20250101T001500Z "
        "(20250101T001000Z + 5 min.)"
    )


def test_timestamp_within_five_minutes_is_accepted() -> None:
    verify(sign(at=NOW - 299), now=NOW)
    verify(sign(at=NOW + 299), now=NOW)


def test_missing_authorization_header() -> None:
    with pytest.raises(MissingAuthenticationTokenException) as exc:
        parse_authorization({"x-amz-date": "20250101T000000Z"}, now=NOW)
    assert exc.value.message == "Missing Authentication Token"


def test_sigv2_style_header_lists_every_missing_part() -> None:
    headers = {"authorization": "AWS AKID:c2lnbmF0dXJl"}
    with pytest.raises(IncompleteSignatureException) as exc:
        parse_authorization(headers, now=NOW)
    assert exc.value.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        "Authorization=AWS AKID:c2lnbmF0dXJl"
    )


def test_missing_signature_part_only_names_that_part() -> None:
    auth = (
        "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/kms/aws4_request, SignedHeaders=host"
    )
    with pytest.raises(IncompleteSignatureException) as exc:
        parse_authorization({"authorization": auth, "x-amz-date": "20250101T001000Z"}, now=NOW)
    assert exc.value.message == (
        f"Authorization header requires 'Signature' parameter. Authorization={auth}"
    )


def test_part_without_equal_sign() -> None:
    auth = "AWS4-HMAC-SHA256 Credential AKID/20250101/us-east-1/kms/aws4_request"
    with pytest.raises(IncompleteSignatureException) as exc:
        parse_authorization({"authorization": auth, "x-amz-date": "20250101T001000Z"}, now=NOW)
    assert exc.value.message == (
        "'Credential AKID/20250101/us-east-1/kms/aws4_request' not a valid key=value pair "
        f"(missing equal-sign) in Authorization header: '{auth}'."
    )


def _header(credential: str, signed: str = "host;x-amz-date") -> str:
    return f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, Signature=ab12"


def test_bad_credential_scope() -> None:
    headers = {
        "authorization": _header("AKID/20250101/us-east-1/kms"),
        "x-amz-date": "20250101T001000Z",
    }
    with pytest.raises(IncompleteSignatureException) as exc:
        parse_authorization(headers, now=NOW)
    assert exc.value.message == (
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        "keyid/date/region/service/term, got 'AKID/20250101/us-east-1/kms'"
    )


def test_bad_terminator() -> None:
    headers = {
        "authorization": _header("AKID/20250101/us-east-1/kms/aws5_request"),
        "x-amz-date": "20250101T001000Z",
    }
    with pytest.raises(InvalidSignatureException) as exc:
        parse_authorization(headers, now=NOW)
    assert exc.value.message == (
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
    )


def test_wrong_service_when_expected_service_is_given() -> None:
    headers = {
        "authorization": _header("AKID/20250101/us-east-1/s3/aws4_request"),
        "x-amz-date": "20250101T001000Z",
    }
    assert parse_authorization(headers, now=NOW).service == "s3"
    with pytest.raises(InvalidSignatureException) as exc:
        parse_authorization(headers, now=NOW, service="kms")
    assert exc.value.message == "Credential should be scoped to correct service: 'kms'. "


def test_malformed_amz_date() -> None:
    for bad in ("2025-01-01T00:10:00Z", "20250101T001000", "20251301T001000Z", "2025010xT001000Z"):
        headers = {
            "authorization": _header("AKID/20250101/us-east-1/kms/aws4_request"),
            "x-amz-date": bad,
        }
        with pytest.raises(IncompleteSignatureException) as exc:
            parse_authorization(headers, now=NOW)
        assert exc.value.message == (
            f"Date must be in ISO-8601 'basic format'. Got '{bad}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        )


def test_scope_date_must_match_amz_date() -> None:
    headers = {
        "authorization": _header("AKID/20241231/us-east-1/kms/aws4_request"),
        "x-amz-date": "20250101T001000Z",
    }
    with pytest.raises(InvalidSignatureException) as exc:
        parse_authorization(headers, now=NOW)
    assert exc.value.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '20241231' != '20250101', from '20250101T001000Z'."
    )


def test_host_must_be_signed() -> None:
    headers = {
        "authorization": _header("AKID/20250101/us-east-1/kms/aws4_request", "x-amz-date"),
        "x-amz-date": "20250101T001000Z",
    }
    with pytest.raises(IncompleteSignatureException) as exc:
        parse_authorization(headers, now=NOW)
    assert exc.value.message == (
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    )


def test_both_date_and_host_wrong_reports_the_date_first() -> None:
    headers = {
        "authorization": _header("AKID/20241231/us-east-1/kms/aws4_request", "x-amz-date"),
        "x-amz-date": "20250101T001000Z",
    }
    with pytest.raises(InvalidSignatureException, match="Date in Credential scope"):
        parse_authorization(headers, now=NOW)


# --- properties ---------------------------------------------------------------------------


def _outcome(parse: object) -> object:
    try:
        return parse()  # type: ignore[operator]
    except AwsError as err:
        return (type(err), err.message)


_HEAD = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/kms/aws4_request"
_AUTH_PIECES = st.sampled_from(
    [
        _HEAD,
        "AWS4-HMAC-SHA256  Credential=AKID/20250101/us-east-1/kms/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20241231/us-east-1/kms/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20250101//kms/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/kms",
        "AWS4-HMAC-SHA256 Credential AKID",
        "AWS AKID:abc",
    ]
)
_SIGNED = st.sampled_from(["host;x-amz-date", "x-amz-date", "", "host"])
_SIGNATURE = st.sampled_from(["ab12", "", "ab 12", "ab12, Extra=1", "é1", "ab12 "])
_SEPARATOR = st.sampled_from([", ", ",", " , "])
_DATES = st.sampled_from(
    ["20250101T001000Z", "20250101T000400Z", "20250101T001600Z", "20250101", None]
)


@settings(max_examples=300, deadline=None)
@given(_AUTH_PIECES, _SIGNED, _SEPARATOR, _SIGNATURE, _DATES, st.sampled_from([None, "kms"]))
def test_cached_fast_path_answers_exactly_like_the_full_parse(
    head: str, signed: str, sep: str, signature: str, amz_date: str | None, service: str | None
) -> None:
    auth = f"{head}, SignedHeaders={signed}{sep}Signature={signature}"
    headers = {"authorization": auth}
    if amz_date is not None:
        headers["x-amz-date"] = amz_date
    fast = _outcome(lambda: parse_authorization(headers, now=NOW, service=service))
    exact = _outcome(lambda: _parse_exactly(auth, amz_date, now=NOW, service=service))
    assert fast == exact
