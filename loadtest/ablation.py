"""Parts of the request path that ``bench_handler --without PART`` replaces by a stand-in.

Counting a run with a part replaced and one without gives what that part costs, all the
calls it makes included, which a sampling profiler spreads over many small functions.
Each stand-in answers as the part does for a valid request (same shapes, same sizes), so
the rest of the path does the same work. For measurement only: a patched process checks
no signature, charges no quota and encrypts nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

# How a stand-in is put in place: setattr, or a test's monkeypatch.setattr (undone after).
Patch = Callable[[object, str, Any], None]


def _without_sigv4(patch: Patch) -> None:
    """The first request of a run is authenticated for real; the others reuse its caller.

    What goes is the Authorization parse, the canonical request, the native hashes and
    compare: the access key's cache lookup runs in ``KmsEndpoint.handle`` and stays.
    """
    from gateway.http.endpoint import KmsEndpoint
    from gateway.protocol import sigv4

    parse = sigv4.parse_authorization
    authenticate = KmsEndpoint._authenticate
    seen: dict[str, Any] = {}

    def parse_once(headers: Any, *, now: float, service: str | None = None) -> Any:
        if "signed" not in seen:
            seen["signed"] = parse(headers, now=now, service=service)
        return seen["signed"]

    def authenticate_once(self: KmsEndpoint, request: Any, body: bytes, *args: Any) -> Any:
        if "caller" not in seen:
            seen["caller"] = authenticate(self, request, body, *args)
        return seen["caller"]

    patch(sigv4, "parse_authorization", parse_once)
    patch(KmsEndpoint, "_authenticate", authenticate_once)


def _without_quota(patch: Patch) -> None:
    from gateway.quotas.enforcer import QuotaEnforcer

    patch(QuotaEnforcer, "charge", lambda *args, **kwargs: None)


def _done(result: Any) -> asyncio.Future[Any]:
    future = asyncio.get_running_loop().create_future()
    future.set_result(result)
    return future


def _next_turn(result: Any) -> asyncio.Future[Any]:
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_soon(future.set_result, result)
    return future


def _crypto_stand_in(answer: Callable[[Any], asyncio.Future[Any]]) -> Callable[[Patch], None]:
    """The batcher and the native calls replaced by answers of the same sizes."""

    def stand_in(patch: Patch) -> None:
        from gateway.crypto.batcher import CryptoBatcher

        iv_and_tag = 12 + 16
        patch(
            CryptoBatcher,
            "seal_blob",
            lambda self, key, prefix, plaintext, aad=b"": answer(
                prefix + bytes(iv_and_tag + len(plaintext))
            ),
        )
        patch(
            CryptoBatcher,
            "open",
            lambda self, key, iv, ciphertext, tag, aad=b"": answer(bytes(len(ciphertext))),
        )
        patch(CryptoBatcher, "sign", lambda self, key, digest: answer(bytes(72)))

    return stand_in


# Answered at once: the handler no longer waits for the batcher's turn of the loop.
_without_crypto = _crypto_stand_in(_done)
# Answered on the next turn, one call_soon per request: the handler still waits once, as
# with the batcher, so over HTTP the two show what the wait itself changes.
_without_crypto_next_turn = _crypto_stand_in(_next_turn)


def _without_metrics(patch: Patch) -> None:
    from gateway.metrics.usage import GatewayMetrics

    for hook in ("observe_request", "on_charge", "on_batch"):
        patch(GatewayMetrics, hook, lambda *args, **kwargs: None)


PARTS: dict[str, Callable[[Patch], None]] = {
    "sigv4": _without_sigv4,
    "quota": _without_quota,
    "crypto": _without_crypto,
    "crypto-next-turn": _without_crypto_next_turn,
    "metrics": _without_metrics,
}


def apply(parts: list[str], patch: Patch = setattr) -> None:
    """Replace each named part (see PARTS) in this process, before the app is built."""
    for part in parts:
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; known: {', '.join(PARTS)}")
        PARTS[part](patch)
