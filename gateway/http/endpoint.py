"""``POST /`` for AWS JSON 1.1 services: authenticate, dispatch, answer AWS-style.

The order: the body (its size, then its arrival within the body timeout), the in-flight
budget, SigV4, target lookup, quota, then one parse of the body. A request counts against
the in-flight budget only once its body is in: a client that sends its body slowly, or
never, holds a connection until the timeout and no share of the budget. Every answer
carries ``x-amzn-RequestId``; every error is ``{"__type", "message"}``. Answers are
``JsonAnswer``s (``answer.py``), not ``web.Response``s: the same bytes without aiohttp's
``Server`` header (AWS sends none), for less work per answer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from gateway.caller import Caller
from gateway.errors import (
    AwsError,
    KMSInternalException,
    RequestEntityTooLargeException,
    RequestTimeoutException,
    SerializationException,
    ThrottlingException,
    UnknownOperationException,
    UnrecognizedClientException,
    UnsupportedOperationException,
)
from gateway.http.answer import JsonAnswer
from gateway.iam.credentials import ActiveKey, Credentials
from gateway.kms.registry import OPERATIONS, TARGET_PREFIX
from gateway.kms.service import Kms
from gateway.metrics.usage import GatewayMetrics
from gateway.protocol import awsjson, sigv4
from gateway.protocol.shapes import ServiceShapes
from gateway.quotas.kms import charges_for

log = logging.getLogger("gateway.request")


def _request_id_source() -> Callable[[], str]:
    """UUID-shaped request ids: a random per-process part and a counter.

    Unique across workers and restarts (the random part), and about ten times cheaper per
    request than uuid4; they identify a request in the logs and are no secret.
    """
    prefix = uuid.uuid4().hex[:20]
    head = f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-{prefix[16:20]}-"
    counter = itertools.count()
    return lambda: f"{head}{next(counter) & 0xFFFFFFFFFFFF:012x}"


class KmsEndpoint:
    def __init__(
        self,
        kms: Kms,
        credentials: Credentials,
        *,
        max_body_bytes: int,
        body_timeout: float,
        max_in_flight: int,
        metrics: GatewayMetrics,
    ) -> None:
        self._kms = kms
        self._metrics = metrics
        self._credentials = credentials
        self._shapes = ServiceShapes("kms")
        self._shapes.compile_all()  # pay for the validators at start, not on first requests
        self._signing_keys = sigv4.SigningKeyCache()
        self._max_body = max_body_bytes
        self._body_timeout = body_timeout
        self._max_in_flight = max_in_flight
        self.in_flight = 0  # read by the metrics at scrape time
        self._request_ids = _request_id_source()

    async def handle(self, request: web.BaseRequest) -> JsonAnswer:
        request_id = self._request_ids()
        started = time.perf_counter()
        operation = "-"
        error_type: str | None = None
        key_state: str | None = None
        close = False
        counted = False
        try:
            body = self._body_at_hand(request)
            if body is None:
                body = await self._read_body(request)
            if self.in_flight >= self._max_in_flight:
                # Shed load at once instead of queueing without bound; SDKs back off on it.
                # The body is in: the connection can serve the client's retry.
                raise ThrottlingException(
                    "The gateway is handling too many requests at once. "
                    "Reduce the frequency of your calls."
                )
            self.in_flight += 1
            counted = True
            signed = sigv4.parse_authorization(request.headers, now=time.time(), service="kms")
            key_id = signed.access_key_id
            # Cached credentials without awaiting: one coroutine fewer on every request.
            active = self._credentials.cached(key_id) or await self._credentials.lookup(key_id)
            caller = self._authenticate(request, body, signed, active)
            target = request.headers.get("x-amz-target", "")  # lower case: found faster
            op = OPERATIONS.get(target)
            if op is None:
                raise self._unknown(target)
            operation = op.name
            quotas = self._kms.quotas
            if op.charges:  # before parsing: a throttled request costs as little as possible
                quotas.charge(caller.account, caller.region, op.name, op.charges)
            params = self._shapes.parse_input(op.name, awsjson.decode_body(body))
            if op.charges_need_params:
                charges = charges_for(op.name, params)
                quotas.charge(caller.account, caller.region, op.name, charges)
            result = await op.handler(self._kms, caller, params)
            payload = awsjson.encode_body(self._shapes.serialize_output(op.name, result))
            status = 200
        except AwsError as err:
            status, payload = err.status, awsjson.encode_error(err)
            error_type, key_state = err.code, err.key_state
            # The rest of a refused body, if any, was never read: this connection is done.
            close = close or isinstance(
                err, RequestEntityTooLargeException | RequestTimeoutException
            )
            log.info(
                "request refused",
                extra={"request_id": request_id, "operation": operation, "error": err.code},
            )
        except ConnectionResetError:
            # The client went away before its body was in: nobody to answer and nothing
            # failed, so no error is counted (the answer below is never sent).
            log.debug("client disconnected", extra={"request_id": request_id})
            gone = JsonAnswer(400, b"", awsjson.CONTENT_TYPE, request_id)
            gone.force_close()
            return gone
        except Exception:
            log.exception(
                "request failed", extra={"request_id": request_id, "operation": operation}
            )
            internal = KMSInternalException(f"An internal error occurred. Request ID: {request_id}")
            status, payload = internal.status, awsjson.encode_error(internal)
            error_type = internal.code
        finally:
            if counted:
                self.in_flight -= 1
        response = JsonAnswer(status, payload, awsjson.CONTENT_TYPE, request_id)
        if close:
            response.force_close()  # the body was never read
        elapsed = time.perf_counter() - started
        self._metrics.observe_request(operation, elapsed, error_type, key_state)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request",
                extra={
                    "request_id": request_id,
                    "operation": operation,
                    "status": status,
                    "seconds": round(elapsed, 6),
                },
            )
        return response

    def _body_at_hand(self, request: web.BaseRequest) -> bytes | None:
        """The whole body if it has all arrived (as a KMS-sized body usually has with its
        headers), without a coroutine; None if it is still to be read."""
        content = request.content
        if not content.is_eof():
            # Refused before a byte of it is read if its declared length is too large.
            length = request.content_length
            if length is not None and length > self._max_body:
                raise self._too_large()
            return None
        body = content.read_nowait()
        if len(body) > self._max_body:
            raise self._too_large()
        return body

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self._body_timeout):
                while chunk := await request.content.readany():
                    size += len(chunk)
                    if size > self._max_body:
                        raise self._too_large()
                    chunks.append(chunk)
        except TimeoutError:
            raise RequestTimeoutException(
                f"The request body did not arrive within {self._body_timeout:g} seconds."
            ) from None
        except RequestPayloadError:
            # Framing or Content-Encoding that aiohttp could not decode: a client error. The
            # message does not quote aiohttp's, which can quote the body.
            raise SerializationException("The request body could not be read.") from None
        return b"".join(chunks)

    def _too_large(self) -> AwsError:
        return RequestEntityTooLargeException(
            f"Request body is larger than the {self._max_body} bytes this endpoint accepts."
        )

    def _authenticate(
        self,
        request: web.BaseRequest,
        body: bytes,
        signed: sigv4.SignedRequest,
        active: ActiveKey | None,
    ) -> Caller:
        """The caller, once the access key is known and active and the signature matches."""
        if active is None:
            raise UnrecognizedClientException(
                "The security token included in the request is invalid."
            )
        target = request.raw_path  # the request line's target, as sent
        if target.startswith("/"):
            path, _, query = target.partition("?")
        else:  # absolute-form ("http://host/path"): let yarl take it apart
            path, query = request.rel_url.raw_path, request.rel_url.raw_query_string
        sigv4.verify_signature(
            signed,
            secret=active.secret,
            method=request.method,
            path=path,
            query=query,
            headers=request.headers,
            body=body,
            cache=self._signing_keys,
        )
        return active.caller(signed.region)

    def _unknown(self, target: str) -> AwsError:
        prefix, _, name = target.partition(".")
        if prefix == TARGET_PREFIX and name in self._shapes.operation_names:
            return UnsupportedOperationException(
                f"The operation {name} is not supported by this gateway yet."
            )
        return UnknownOperationException("")
