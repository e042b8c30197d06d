"""AWS Signature Version 4 verification for header-signed requests.

Verification is split in two so the caller can look up the secret for the access key
asynchronously in between: ``parse_authorization`` checks the header's shape and the clock,
``verify_signature`` recomputes the signature. The canonical request follows the SigV4
rules for every service except S3 (the path is URI-encoded a second time), which is what
botocore and the other SDKs sign for KMS, ACM, IAM and STS.
"""

from __future__ import annotations

import functools
import hmac
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote, unquote_plus

from gateway.crypto import sigv4_check
from gateway.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
)
from gateway.protocol.regions import is_known_region

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
# AWS rejects requests whose X-Amz-Date is more than five minutes from its clock.
MAX_SKEW_SECONDS = 300

_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
_DIGITS = frozenset("0123456789")


class SignedRequest(NamedTuple):
    """What the Authorization and X-Amz-Date headers of a request claim.

    A NamedTuple: one is built per request, and a frozen dataclass costs ~5x more to build.
    The first seven fields are its ``_Scope``'s, in the same order.
    """

    access_key_id: str
    date: str  # YYYYMMDD, from the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signed_list: str  # the SignedHeaders value: "content-type;host;..."
    credential_scope: str  # "YYYYMMDD/region/service/aws4_request"
    signature: str
    amz_date: str  # YYYYMMDDTHHMMSSZ


class _Scope(NamedTuple):
    """The parts of an Authorization header that one client repeats on every request, with
    the pieces of the string to sign they give (built once per client, not per request)."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signed_list: str
    credential_scope: str


# SignedRequest's generated __new__ is a Python call; its fields are already one tuple.
# tuple.__new__ checks no length, so the two field lists must line up (checked at import).
_new_tuple = tuple.__new__
assert SignedRequest._fields == _Scope._fields + ("signature", "amz_date")


def _signed(scope: _Scope, signature: str, amz_date: str) -> SignedRequest:
    return _new_tuple(SignedRequest, (*scope, signature, amz_date))  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1024)  # clients sign many requests within the same second
def _parse_amz_date(value: str) -> float | None:
    """Epoch seconds of an ISO-8601 basic timestamp, or None if it is not one."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    digits = value[:8] + value[9:15]
    if not _DIGITS.issuperset(digits):
        return None
    try:
        moment = datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    return moment.timestamp()


def _format_amz_date(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_authorization(
    headers: Mapping[str, str], *, now: float, service: str | None = None
) -> SignedRequest:
    """Parse and sanity-check the SigV4 Authorization header; check the clock skew.

    ``headers`` is case-insensitive (aiohttp) or a dict with lower-case keys. ``now`` is the
    server's clock in epoch seconds. If ``service`` is given, the credential scope must name
    it. Raises MissingAuthenticationTokenException, IncompleteSignatureException or
    InvalidSignatureException with the texts AWS uses.
    """
    # aiohttp's CIMultiDictProxy is case-insensitive; plain dicts in tests use lower-case keys.
    auth = headers.get("authorization")
    amz_date = headers.get("x-amz-date")
    if auth and amz_date:
        # Fast path for the SDKs' layout "<scope and signed headers>, Signature=<hex>": the
        # part before the signature repeats on every request of a client, so its checks
        # are cached. Anything unusual, valid or not, takes the full parse below.
        head, sep, signature = auth.rpartition(", Signature=")
        # bytes.isalnum is ASCII-only and ~5x cheaper than str.isalnum's Unicode lookups.
        if sep and signature.isascii() and signature.encode().isalnum():
            scope = _checked_scope(head, service)
            when = _parse_amz_date(amz_date)
            if (
                scope is not None
                and when is not None
                and scope.date == amz_date[:8]
                and now - MAX_SKEW_SECONDS <= when <= now + MAX_SKEW_SECONDS
            ):
                return _signed(scope, signature, amz_date)
    return _parse_exactly(auth, amz_date, now=now, service=service)


@functools.lru_cache(maxsize=512)
def _checked_scope(head: str, service: str | None) -> _Scope | None:
    """The scope of a well-formed Authorization header without its signature, or None.

    None sends the request down the full parse, which raises AWS's error for it.
    """
    try:
        scope = _check_scope(_authorization_fields(head + ", Signature=0"), service)
        if scope is not None:
            _check_host_signed(scope.signed_headers)
        return scope
    except (IncompleteSignatureException, InvalidSignatureException):
        return None


def _authorization_fields(auth: str) -> dict[str, str]:
    """The key=value parameters of an ``AWS4-HMAC-SHA256 ...`` header (empty otherwise)."""
    algorithm, _, rest = auth.strip().partition(" ")
    params: dict[str, str] = {}
    if algorithm == ALGORITHM:
        for part in rest.split(","):
            part = part.strip()
            if not part:
                continue
            key, eq, value = part.partition("=")
            if not eq:
                raise IncompleteSignatureException(
                    f"'{part}' not a valid key=value pair (missing equal-sign) in "
                    f"Authorization header: '{auth}'."
                )
            params[key.strip()] = value.strip()
    return params


def _split_credential(credential: str) -> list[str]:
    scope = credential.split("/")
    if len(scope) != 5:
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{credential}'"
        )
    return scope


def _check_scope(fields: dict[str, str], service: str | None) -> _Scope | None:
    """Scope checks that depend on the header alone; None if a piece is missing."""
    credential = fields.get("Credential")
    signed = fields.get("SignedHeaders")
    if not credential or not signed or not fields.get("Signature"):
        return None
    access_key_id, date, region, scope_service, terminator = _split_credential(credential)
    if terminator != TERMINATOR:
        raise InvalidSignatureException(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'. "
        )
    if service is not None and scope_service != service:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{service}'. "
        )
    if not is_known_region(region):
        raise InvalidSignatureException("Credential should be scoped to a valid region. ")
    return _Scope(
        access_key_id,
        date,
        region,
        scope_service,
        tuple(signed.split(";")),
        signed,
        f"{date}/{region}/{scope_service}/{TERMINATOR}",
    )


def _check_host_signed(signed_headers: tuple[str, ...]) -> None:
    if "host" not in signed_headers and ":authority" not in signed_headers:
        raise IncompleteSignatureException(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )


def _parse_exactly(
    auth: str | None, amz_date: str | None, *, now: float, service: str | None
) -> SignedRequest:
    """Every check in AWS's order, raising the error AWS raises first."""
    if not auth:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    params = _authorization_fields(auth)
    credential = params.get("Credential")
    signed = params.get("SignedHeaders")
    signature = params.get("Signature")
    if not credential or not signed or not signature or not amz_date:
        # AWS lists every missing piece in one message, then echoes the header.
        problems = []
        if not credential:
            problems.append("Authorization header requires 'Credential' parameter.")
        if not signature:
            problems.append("Authorization header requires 'Signature' parameter.")
        if not signed:
            problems.append("Authorization header requires 'SignedHeaders' parameter.")
        if not amz_date:
            problems.append(
                "Authorization header requires existence of either a 'X-Amz-Date' or "
                "a 'Date' header."
            )
        problems.append(f"Authorization={auth}")
        raise IncompleteSignatureException(" ".join(problems))

    _split_credential(credential)
    when = _parse_amz_date(amz_date)
    if when is None:
        raise IncompleteSignatureException(
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        )
    scope = _check_scope(params, service)
    assert scope is not None  # every piece was checked above
    if scope.date != amz_date[:8]:
        raise InvalidSignatureException(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
            f"date from HTTP: '{scope.date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    _check_host_signed(scope.signed_headers)

    # The skew texts are AWS's own; SDKs that correct clock skew key on the error code
    # (InvalidSignatureException) and some also on these words.
    if when < now - MAX_SKEW_SECONDS:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than "
            f"{_format_amz_date(now - MAX_SKEW_SECONDS)} ({_format_amz_date(now)} - 5 min.)"
        )
    if when > now + MAX_SKEW_SECONDS:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than "
            f"{_format_amz_date(now + MAX_SKEW_SECONDS)} ({_format_amz_date(now)} + 5 min.)"
        )
    return _signed(scope, signature, amz_date)


class SigningKeyCache:
    """Derived SigV4 signing keys, per (secret, date, region, service), LRU-bounded.

    Deriving a key costs four HMACs; a client reuses one key all day, so the cache turns
    that into a dict hit. Contents are secret: there is no repr of them and nothing logs.
    """

    __slots__ = ("_keys", "_max_entries")

    def __init__(self, max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._keys: OrderedDict[tuple[str, str, str, str], bytes] = OrderedDict()

    def __repr__(self) -> str:
        return f"<SigningKeyCache {len(self._keys)}/{self._max_entries} entries>"

    def __len__(self) -> int:
        return len(self._keys)

    def clear(self) -> None:
        """Forget every key (e.g. after secrets were rotated or revoked)."""
        self._keys.clear()

    def get(self, secret: str, date: str, region: str, service: str) -> bytes:
        """The kSigning key for this scope, derived once and then served from the cache."""
        cache_key = (secret, date, region, service)
        keys = self._keys
        key = keys.get(cache_key)
        if key is not None:
            keys.move_to_end(cache_key)
            return key
        key = derive_signing_key(secret, date, region, service)
        keys[cache_key] = key
        if len(keys) > self._max_entries:
            keys.popitem(last=False)
        return key


def derive_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC chain over date, region, service and the terminator."""
    k = hmac.digest(("AWS4" + secret).encode("utf-8"), date.encode("utf-8"), "sha256")
    k = hmac.digest(k, region.encode("utf-8"), "sha256")
    k = hmac.digest(k, service.encode("utf-8"), "sha256")
    return hmac.digest(k, b"aws4_request", "sha256")


def canonical_uri(path: str) -> str:
    """SigV4 canonical URI for non-S3 services, from the raw path as sent on the wire.

    Like the SDKs: remove dot segments and empty segments, then URI-encode the (already
    encoded) path once more.
    """
    if path == "/" or not path:
        return "/"
    segments: list[str] = []
    for seg in path.split("/"):
        if not seg or seg == ".":
            continue
        if seg == "..":
            if segments:
                segments.pop()
            continue
        segments.append(seg)
    normalized = ("/" if path[0] == "/" else "") + "/".join(segments)
    if path[-1] == "/" and segments:
        normalized += "/"
    return quote(normalized, safe="/~")


def canonical_query(query: str) -> str:
    """SigV4 canonical query string from the raw query string as sent on the wire.

    Each name and value is decoded (form rules: '+' is a space, as the SDKs encode it) and
    re-encoded with only the RFC 3986 unreserved characters left as they are; pairs are
    sorted by encoded name, then value.
    """
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append(
            (quote(unquote_plus(key), safe="-_.~"), quote(unquote_plus(value), safe="-_.~"))
        )
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _canonical_header_lines(headers: Mapping[str, str], names: tuple[str, ...]) -> list[str]:
    """``name:value`` per signed header: repeated headers comma-joined, spaces collapsed."""
    getall: Any = getattr(headers, "getall", None)
    lines = []
    for name in names:
        if getall is not None:
            values = getall(name, ())
        else:  # a plain dict (tests): one value per name
            value = headers.get(name)
            values = () if value is None else (value,)
        if len(values) == 1:
            lines.append(f"{name}:{' '.join(values[0].split())}")
        else:
            lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    return lines


def verify_signature(
    req: SignedRequest,
    *,
    secret: str,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    cache: SigningKeyCache,
) -> None:
    """Recompute the request's SigV4 signature and compare it in constant time.

    ``path`` and ``query`` are raw, as on the wire (aiohttp: ``request.raw_path`` split at
    '?'). Raises InvalidSignatureException on any mismatch. The canonical text is built
    here; the three hashes over it and the compare run in the native core.
    """
    lines = "\n".join(_canonical_header_lines(headers, req.signed_headers))
    # Every AWS JSON request is "POST /" without a query: its URI and query need no work.
    uri = "/" if path == "/" else canonical_uri(path)
    # The body's hash follows the last newline.
    canonical_head = (
        f"{method.upper()}\n{uri}\n{canonical_query(query) if query else ''}\n"
        f"{lines}\n\n{req.signed_list}\n"
    )
    sts_head = f"{ALGORITHM}\n{req.amz_date}\n{req.credential_scope}\n"
    # The SDKs sign the declared body hash; unless it is the body's own hash the body
    # would be unauthenticated (e.g. UNSIGNED-PAYLOAD), which only S3 permits.
    declared = headers.get("x-amz-content-sha256")
    provided = req.signature
    # A non-ASCII signature cannot be ours; a non-ASCII declared hash cannot match.
    if not provided.isascii() or (declared is not None and not declared.isascii()):
        raise InvalidSignatureException(_MISMATCH)
    if not sigv4_check(
        cache.get(secret, req.date, req.region, req.service),
        canonical_head.encode("utf-8", "surrogateescape"),
        body,
        None if declared is None else declared.encode("ascii"),
        sts_head.encode("utf-8"),
        provided.encode("ascii"),
    ):
        raise InvalidSignatureException(_MISMATCH)
