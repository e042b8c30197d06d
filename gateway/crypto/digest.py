"""SHA-256 / SHA-384 of many messages in one native call."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.crypto import _binding
from gateway.crypto._validate import as_bytes_list

__all__ = ["sha256_batch", "sha384_batch"]


def sha256_batch(msgs: Sequence[bytes]) -> list[bytes]:
    """SHA-256 of each message, in input order."""
    return _binding.digest_batch(256, as_bytes_list(msgs, "message"))


def sha384_batch(msgs: Sequence[bytes]) -> list[bytes]:
    """SHA-384 of each message, in input order."""
    return _binding.digest_batch(384, as_bytes_list(msgs, "message"))
