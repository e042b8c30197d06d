"""Canonical encoding of an encryption context, bound into ciphertexts as AAD.

Pairs are sorted by the UTF-8 bytes of their keys and every string is length-prefixed, so
``{"ab": "c"}`` and ``{"a": "bc"}`` encode differently and pair order never matters.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

_U32 = struct.Struct(">I")


def encode_context(context: Mapping[str, str] | None) -> bytes:
    if not context:
        return b"\x00\x00\x00\x00"
    pairs = sorted((k.encode(), v.encode()) for k, v in context.items())
    parts = [_U32.pack(len(pairs))]
    for key, value in pairs:
        parts += (_U32.pack(len(key)), key, _U32.pack(len(value)), value)
    return b"".join(parts)
