"""ECDSA P-256 / P-384 keys over digests with DER signatures, backed by native handles."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, NamedTuple, Self

from gateway.crypto import _binding
from gateway.crypto._validate import as_bytes, as_bytes_list
from gateway.crypto.errors import CryptoError

__all__ = [
    "CURVES",
    "MAX_PRECOMPUTED_NONCES",
    "EcPrivateKey",
    "EcPublicKey",
    "NonceStats",
    "nonce_pools_settled",
    "nonce_stats",
    "start_nonce_precompute",
    "stop_nonce_precompute",
]

# Called with a batch's per-item results (or the exception standing for them) and the
# seconds its native call took.
Done = _binding.JobDone

# Curve name -> key size in bits (which is also the digest size KMS pairs with it).
CURVES: dict[str, int] = {"P-256": 256, "P-384": 384}
_CURVE_BY_BITS = {bits: name for name, bits in CURVES.items()}
# Largest per-curve pool start_nonce_precompute accepts.
MAX_PRECOMPUTED_NONCES: int = _binding.ECDSA_NONCES_MAX


class NonceStats(NamedTuple):
    """Counters of the precomputed-nonce pools since the process started."""

    signed_precomputed: int  # signatures that used a precomputed nonce
    signed_pool_empty: int  # signatures that found their curve's pool empty (full cost)
    ready_p256: int
    ready_p384: int


def start_nonce_precompute(per_curve: int) -> None:
    """Keep up to ``per_curve`` ECDSA nonces precomputed per curve in use, on a native thread.

    A signature's setup (a random k, r from k*G, k's inverse) is most of its cost and does
    not depend on the key or the message; with a nonce ready, signing on the caller's
    thread costs a small fraction of a full signature. Each nonce signs once and is then
    cleared; an empty pool means an ordinary signature, never a wait. Idempotent.

    Not for a process whose memory may be copied and go on running twice (a VM snapshot
    restored twice, a live clone): both copies would sign with the same nonces, which
    reveals the private key. A forked child is safe: it starts with empty pools.
    Raises CryptoError under a FIPS configuration.
    """
    _binding.ecdsa_nonces_start(per_curve)


def stop_nonce_precompute() -> None:
    """Stop the thread and clear the unused nonces; signatures then take the full path."""
    _binding.ecdsa_nonces_stop()


def nonce_stats() -> NonceStats:
    return NonceStats(*_binding.ecdsa_nonces_stats())


def nonce_pools_settled() -> bool:
    """True when no pool is being refilled (a pool refills from half to full, then rests).

    It takes the pools' lock, which the filler holds only briefly: for tests and
    diagnostics, never on a signing path.
    """
    return _binding.ecdsa_nonces_settled()


class _EcKey:
    """Shared lifetime handling: close() frees the native key; __del__ is only a safety net."""

    __slots__ = ("_handle", "curve", "digest_size", "__weakref__")

    def __init__(self, handle: _binding.EcHandle) -> None:
        self._handle = handle
        self.curve: str = _CURVE_BY_BITS[handle.bits]
        self.digest_size: int = handle.bits // 8

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        """Free the native key now (deferred until any running call on it returns)."""
        self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()

    def check_digest(self, digest: object) -> bytes:
        data = as_bytes(digest, "digest")
        if len(data) != self.digest_size:
            raise ValueError(
                f"{self.curve} needs a {self.digest_size}-byte digest, got {len(data)} bytes"
            )
        return data

    def spki(self) -> bytes:
        """SubjectPublicKeyInfo DER of the public key."""
        return self._handle.export_spki()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<{type(self).__name__} {self.curve}{state}>"


class EcPrivateKey(_EcKey):
    """A P-256 or P-384 private key held in native memory."""

    __slots__ = ()

    @classmethod
    def generate(cls, curve: str) -> EcPrivateKey:
        """A fresh key from OpenSSL's RNG; ``curve`` is "P-256" or "P-384"."""
        if curve not in CURVES:
            raise ValueError(f"unsupported curve {curve!r}; expected one of {sorted(CURVES)}")
        return cls(_binding.EcHandle.generate(CURVES[curve]))

    @classmethod
    def from_pkcs8(cls, der: bytes) -> EcPrivateKey:
        """Load an unencrypted PKCS#8 PrivateKeyInfo (DER)."""
        return cls(_binding.EcHandle.load_private_pkcs8(as_bytes(der, "PKCS#8 DER")))

    def pkcs8(self) -> bytes:
        """The key as unencrypted PKCS#8 DER (key material: handle with care)."""
        return self._handle.export_pkcs8()

    def public_key(self) -> EcPublicKey:
        return EcPublicKey.from_spki(self._handle.export_spki())

    def sign_digests(self, digests: Sequence[bytes]) -> list[bytes]:
        """DER ECDSA signatures over pre-hashed digests, in input order."""
        results = self.sign_checked([self.check_digest(d) for d in digests])
        for r in results:
            if isinstance(r, CryptoError):
                raise r
        return results  # type: ignore[return-value]

    def sign_checked(self, digests: Sequence[bytes]) -> list[bytes | CryptoError]:
        """Per-item results for digests already passed through check_digest (the batcher)."""
        return _signed(self._handle.sign(digests))

    def sign_on(self, worker: _binding.EcWorker, digests: Sequence[bytes], done: Done) -> None:
        """sign_checked on ``worker``'s native thread: ``done`` gets its results (or the
        exception standing for them) and the native call's seconds when the worker's
        descriptor has been collected."""

        def signed(sigs: Any, seconds: float) -> None:
            done(sigs if isinstance(sigs, BaseException) else _signed(sigs), seconds)

        worker.sign(self._handle, digests, signed)


def _signed(sigs: list[bytes | None]) -> list[bytes | CryptoError]:
    return [CryptoError("ECDSA signing failed") if s is None else s for s in sigs]


class EcPublicKey(_EcKey):
    """A P-256 or P-384 public key held in native memory."""

    __slots__ = ()

    @classmethod
    def from_spki(cls, der: bytes) -> EcPublicKey:
        """Load a SubjectPublicKeyInfo (DER)."""
        return cls(_binding.EcHandle.load_public_spki(as_bytes(der, "SPKI DER")))

    def verify_digests(self, items: Sequence[tuple[bytes, bytes]]) -> list[bool]:
        """For each (digest, DER signature) pair: True iff the signature is valid."""
        digests = [self.check_digest(d) for d, _ in items]
        sigs = as_bytes_list([s for _, s in items], "signature")
        return self.verify_checked(digests, sigs)

    def verify_checked(self, digests: Sequence[bytes], sigs: Sequence[bytes]) -> list[bool]:
        """verify_digests for inputs already checked (the batcher)."""
        return self._handle.verify(digests, sigs)

    def verify_on(
        self,
        worker: _binding.EcWorker,
        digests: Sequence[bytes],
        sigs: Sequence[bytes],
        done: Done,
    ) -> None:
        """verify_checked on ``worker``'s native thread; see EcPrivateKey.sign_on."""
        worker.verify(self._handle, digests, sigs, done)
