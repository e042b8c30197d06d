"""Errors raised by the crypto layer (re-exported by ``gateway.crypto``)."""


class CryptoError(Exception):
    """A cryptographic operation failed for a reason other than bad input."""


class AuthenticationError(CryptoError):
    """An AES-GCM tag did not verify. Deliberately says nothing more (no oracle)."""

    def __init__(self, message: str = "authentication tag mismatch") -> None:
        super().__init__(message)
