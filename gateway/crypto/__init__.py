"""The gateway's only crypto API: AES-256-GCM, ECDSA P-256/P-384, SHA-2, a batcher, and
the hashing half of SigV4 verification.

Everything runs through the native batch core (``gateway._native``, OpenSSL EVP);
nothing outside this package should import that module.
"""

from gateway.crypto._binding import OPENSSL_VERSION_TEXT, sigv4_check
from gateway.crypto.aesgcm import OpenItem, Sealed, open_batch, seal_batch
from gateway.crypto.batcher import CryptoBatcher
from gateway.crypto.digest import sha256_batch, sha384_batch
from gateway.crypto.ecdsa import EcPrivateKey, EcPublicKey
from gateway.crypto.errors import AuthenticationError, CryptoError

__all__ = [
    "OPENSSL_VERSION_TEXT",
    "AuthenticationError",
    "CryptoBatcher",
    "CryptoError",
    "EcPrivateKey",
    "EcPublicKey",
    "OpenItem",
    "Sealed",
    "open_batch",
    "seal_batch",
    "sha256_batch",
    "sha384_batch",
    "sigv4_check",
]
