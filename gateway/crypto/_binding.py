"""Checked wrappers over ``gateway._native``: the only module that touches cffi objects.

Callers (aesgcm, ecdsa, digest) validate types and lengths and hand in plain
``bytes``; this module still re-checks every length that decides how far C
reads or writes, so a caller bug can raise but never corrupt memory. Nothing
returned from here is a cffi object.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from itertools import accumulate, repeat
from operator import add
from time import perf_counter
from typing import Any

from gateway.crypto.errors import CryptoError

log = logging.getLogger(__name__)

try:
    from gateway import _native  # type: ignore[attr-defined]
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "gateway._native is not built: run `pip install -e .` (needs gcc and the OpenSSL 3 "
        "headers, `apt-get install libssl-dev` on Debian)"
    ) from exc

ffi = _native.ffi
lib = _native.lib

KEY_SIZE: int = lib.GW_AES_KEY_SIZE
IV_SIZE: int = lib.GW_AES_IV_SIZE
TAG_SIZE: int = lib.GW_AES_TAG_SIZE

OPENSSL_VERSION_COMPILED: int = lib.gw_openssl_version_compiled()
OPENSSL_VERSION_RUNTIME: int = lib.gw_openssl_version_runtime()
OPENSSL_VERSION_TEXT: str = ffi.string(lib.gw_openssl_version_text()).decode("ascii", "replace")


def _check_openssl_version() -> None:
    """The loaded libcrypto must be the major version we compiled against, and not older."""
    compiled_major = OPENSSL_VERSION_COMPILED >> 28
    runtime_major = OPENSSL_VERSION_RUNTIME >> 28
    # Compare major.minor (0xMNN00000 in OpenSSL 3's encoding); patch releases are ABI-safe.
    if runtime_major != compiled_major or (OPENSSL_VERSION_RUNTIME >> 20) < (
        OPENSSL_VERSION_COMPILED >> 20
    ):
        raise ImportError(
            f"gateway._native was compiled against OpenSSL {OPENSSL_VERSION_COMPILED:#x} but "
            f"loaded {OPENSSL_VERSION_TEXT} ({OPENSSL_VERSION_RUNTIME:#x}); rebuild with "
            "`pip install -e .`"
        )


_check_openssl_version()

# Output buffers are fully written by C before being read, so skip zeroing them.
_alloc = ffi.new_allocator(should_clear_after_alloc=False)


def _raise_batch_error(rc: int, what: str) -> None:
    if rc == lib.GW_ERR_RAND:
        raise CryptoError(f"{what}: the random number generator failed")
    raise CryptoError(f"{what}: native call failed with code {rc}")


def _split(blob: bytes, lens: Sequence[int], start: int = 0) -> list[bytes]:
    """Cut ``blob[start:]`` into consecutive pieces of the given lengths."""
    if len(lens) == 1:
        return [blob[start : start + lens[0]]]
    ends = accumulate(lens, initial=start)
    begin = next(ends)
    out = []
    for end in ends:
        out.append(blob[begin:end])
        begin = end
    return out


# --- AES-256-GCM -----------------------------------------------------------


def aes_gcm_seal(
    key: bytes,
    pts: Sequence[bytes],
    aads: Sequence[bytes],
    ivs: Sequence[bytes] | None = None,
) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Seal; returns (ivs, ciphertexts, tags) in input order.

    IVs come from the RNG; ``ivs`` is for known-answer tests only (IV reuse breaks GCM)
    and the public API never passes it.
    """
    if len(key) != KEY_SIZE:
        raise ValueError(f"AES-256-GCM key must be {KEY_SIZE} bytes")
    n = len(pts)
    if len(aads) != n or (ivs is not None and len(ivs) != n):
        raise ValueError("need exactly one IV and one AAD per plaintext")
    if n == 0:
        return [], [], []
    pt_lens = [len(p) for p in pts]
    pt_blob = b"".join(pts)
    # One output allocation and one copy back: [ivs | tags | ciphertexts].
    tags_at = n * IV_SIZE
    cts_at = tags_at + n * TAG_SIZE
    out = _alloc("uint8_t[]", cts_at + len(pt_blob))
    rest = (pt_blob, pt_lens, b"".join(aads), [len(a) for a in aads])
    if ivs is None:
        rc = lib.gw_aes_gcm_seal(key, n, *rest, out, out + cts_at, out + tags_at)
    else:
        iv_blob = b"".join(ivs)
        if len(iv_blob) != n * IV_SIZE or any(len(iv) != IV_SIZE for iv in ivs):
            raise ValueError(f"every IV must be {IV_SIZE} bytes")
        rc = lib.gw_aes_gcm_seal_with_ivs(key, n, iv_blob, *rest, out + cts_at, out + tags_at)
    if rc:
        _raise_batch_error(rc, "AES-GCM seal")
    raw = ffi.buffer(out)[:] if ivs is None else iv_blob + ffi.buffer(out)[tags_at:]
    return _unpack_sealed(raw, n, tags_at, cts_at, pt_lens)


def aes_gcm_seal_with_ivs(
    key: bytes, ivs: Sequence[bytes], pts: Sequence[bytes], aads: Sequence[bytes]
) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Seal with caller-chosen IVs. Known-answer tests only: IV reuse breaks GCM."""
    return aes_gcm_seal(key, pts, aads, ivs)


def _unpack_sealed(
    raw: bytes, n: int, tags_at: int, cts_at: int, pt_lens: list[int]
) -> tuple[list[bytes], list[bytes], list[bytes]]:
    if n == 1:  # the common single-request case, without the list machinery
        return [raw[:IV_SIZE]], [raw[cts_at:]], [raw[tags_at:cts_at]]
    ivs = [raw[i : i + IV_SIZE] for i in range(0, tags_at, IV_SIZE)]
    tags = [raw[i : i + TAG_SIZE] for i in range(tags_at, cts_at, TAG_SIZE)]
    return ivs, _split(raw, pt_lens, cts_at), tags


_OVERHEAD = IV_SIZE + TAG_SIZE

# Per-item lengths for the packed seal travel as array.array passed by ffi.from_buffer
# (~2x cheaper per item than cffi converting a list), and only when they differ: a batch
# whose items all have one length passes that length instead.
_SIZE_T_CODE = next(c for c in "LQ" if array(c).itemsize == ffi.sizeof("size_t"))


class NotBytesError(ValueError):
    """An item's len() differs from its buffer size (not bytes, e.g. a wide memoryview)."""


def _check_total(total: int, blob: bytes, what: str) -> None:
    # C reads the blob item after item, so lengths summing to the blob's size are all it
    # needs to stay inside it; a mismatch means some item's len() is not its byte count.
    if total != len(blob):
        raise NotBytesError(f"every {what} must be bytes")


def _lens(items: Sequence[bytes], blob: bytes, what: str) -> array[int]:
    lens = array(_SIZE_T_CODE, map(len, items))
    _check_total(sum(lens), blob, what)
    return lens


def _lengths(items: Sequence[bytes], blob: bytes, what: str) -> tuple[array[int] | None, int]:
    """``(None, size)`` if every item is ``size`` bytes, else ``(per-item lengths, 0)``."""
    lens = list(map(len, items))
    first = lens[0]
    if lens.count(first) == len(lens):
        _check_total(first * len(lens), blob, what)
        return None, first
    per_item = array(_SIZE_T_CODE, lens)
    _check_total(sum(per_item), blob, what)
    return per_item, 0


def _size_t_array(lens: array[int] | None) -> object:
    return ffi.NULL if lens is None else ffi.from_buffer("size_t[]", lens)


# Cutting the output into equal pieces with struct ("<size>s" repeated) makes the bytes
# objects in C: ~0.015 us per item, where a slice per item costs 0.07-0.1 us. Counts are
# powers of two up to 1024, so at most 11 formats per item size are ever compiled.
_CUT_MAX = 1024


@lru_cache(maxsize=64)
def _cutter(size: int, count: int) -> Callable[..., tuple[bytes, ...]]:
    return struct.Struct(f"{size}s" * count).unpack_from


def _cut_equal(buf: object, size: int, n: int, start: int = 0) -> list[bytes]:
    """Cut ``n * size`` bytes of ``buf`` from ``start`` on into ``n`` bytes of ``size`` each."""
    out: list[bytes] = []
    offset = start
    while n:
        count = min(1 << (n.bit_length() - 1), _CUT_MAX)
        out += _cutter(size, count)(buf, offset)
        offset += size * count
        n -= count
    return out


def aes_gcm_seal_packed(
    key: bytes,
    prefixes: Sequence[bytes],
    pts: Sequence[bytes],
    aads: Sequence[bytes],
    ivs: Sequence[bytes] | None = None,
) -> list[bytes]:
    """Seal into one ``prefix || iv || ciphertext || tag`` bytes per item, in input order.

    IVs come from the RNG; ``ivs`` is for known-answer tests only (IV reuse breaks GCM)
    and the public API never passes it. Raises TypeError or NotBytesError for items that
    are not bytes-like / not plain bytes, before anything reaches C.
    """
    if len(key) != KEY_SIZE:
        raise ValueError(f"AES-256-GCM key must be {KEY_SIZE} bytes")
    n = len(pts)
    if len(prefixes) != n or len(aads) != n:
        raise ValueError("need exactly one prefix and one AAD per plaintext")
    if n == 0:
        return []
    pt_blob = b"".join(pts)
    pt_lens, pt_len = _lengths(pts, pt_blob, "plaintext")
    aad_blob = b"".join(aads)
    aad_lens, aad_len = _lengths(aads, aad_blob, "AAD")
    first = prefixes[0]
    prefix_lens: array[int] | None = None
    if type(first) is bytes and prefixes.count(first) == n:
        # One shared prefix (a batch under one key version): no join, no length array.
        prefix_blob, prefix_len = first, len(first)
        total = n * (prefix_len + _OVERHEAD) + len(pt_blob)
    else:
        prefix_blob = b"".join(prefixes)
        prefix_lens = _lens(prefixes, prefix_blob, "prefix")
        prefix_len = 0
        total = len(prefix_blob) + n * _OVERHEAD + len(pt_blob)
    out = _alloc("uint8_t[]", total)
    args = (
        prefix_blob,
        _size_t_array(prefix_lens),
        prefix_len,
        pt_blob,
        _size_t_array(pt_lens),
        pt_len,
        aad_blob,
        _size_t_array(aad_lens),
        aad_len,
        out,
        total,
    )
    if ivs is None:
        rc = lib.gw_aes_gcm_seal_packed(key, n, *args)
    else:
        iv_blob = b"".join(ivs)
        if len(ivs) != n or len(iv_blob) != n * IV_SIZE or any(len(iv) != IV_SIZE for iv in ivs):
            raise ValueError(f"need one {IV_SIZE}-byte IV per plaintext")
        rc = lib.gw_aes_gcm_seal_packed_with_ivs(key, n, iv_blob, *args)
    if rc:
        _raise_batch_error(rc, "AES-GCM seal")
    if n == 1:
        return [ffi.buffer(out)[:]]
    if prefix_lens is None and pt_lens is None:
        # Equal-sized items (one header, data keys of one length): cut by struct.
        return _cut_equal(ffi.buffer(out), total // n, n)
    return _split(ffi.buffer(out)[:], list(_item_sizes(prefix_lens, prefix_len, pt_lens, pt_len)))


def _item_sizes(
    prefix_lens: array[int] | None, prefix_len: int, pt_lens: array[int] | None, pt_len: int
) -> Iterator[int]:
    """Packed item sizes when at least one of prefixes and plaintexts varies in length."""
    if prefix_lens is None:
        if pt_lens is None:
            raise ValueError("equal-sized items are cut by _cut_equal")
        return map(add, pt_lens, repeat(prefix_len + _OVERHEAD))
    if pt_lens is None:
        return map(add, prefix_lens, repeat(pt_len + _OVERHEAD))
    return map(add, map(add, prefix_lens, pt_lens), repeat(_OVERHEAD))


def aes_gcm_open(
    key: bytes,
    ivs: Sequence[bytes],
    cts: Sequence[bytes],
    tags: Sequence[bytes],
    aads: Sequence[bytes],
) -> list[bytes | None]:
    """Open n items; None marks an item whose tag did not verify."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"AES-256-GCM key must be {KEY_SIZE} bytes")
    n = len(cts)
    if not (len(ivs) == len(tags) == len(aads) == n):
        raise ValueError("need exactly one IV, tag and AAD per ciphertext")
    if n == 0:
        return []
    iv_blob = b"".join(ivs)
    tag_blob = b"".join(tags)
    # The joined lengths alone prove every item is the right size only if no item is
    # longer; check items individually when the totals do not match.
    if len(iv_blob) != n * IV_SIZE or any(len(iv) != IV_SIZE for iv in ivs):
        raise ValueError(f"every IV must be {IV_SIZE} bytes")
    if len(tag_blob) != n * TAG_SIZE or any(len(t) != TAG_SIZE for t in tags):
        raise ValueError(f"every tag must be {TAG_SIZE} bytes")
    ct_lens = [len(c) for c in cts]
    ct_blob = b"".join(cts)
    # [status bytes | plaintexts]
    out = _alloc("uint8_t[]", n + len(ct_blob))
    rc = lib.gw_aes_gcm_open(
        key,
        n,
        iv_blob,
        ct_blob,
        ct_lens,
        tag_blob,
        b"".join(aads),
        [len(a) for a in aads],
        out + n,
        out,
    )
    if rc:
        _raise_batch_error(rc, "AES-GCM open")
    raw = ffi.buffer(out)[:]
    plain = _split(raw, ct_lens, n)
    if raw.count(0, 0, n) == n:  # all items authentic (GW_OK == 0)
        return plain  # type: ignore[return-value]
    return [p if raw[i] == 0 else None for i, p in enumerate(plain)]


def aes_gcm_open_packed(
    key: bytes, skip: int, items: Sequence[bytes], aads: Sequence[bytes]
) -> list[bytes | None]:
    """Open ``prefix || iv || ciphertext || tag`` items, as aes_gcm_seal_packed writes them,
    without cutting them apart first; None marks an item whose tag did not verify.

    The prefix, ``skip`` bytes of every item, is not read: authenticate it through the AAD.
    Raises ValueError for an item too short to hold a prefix, an IV and a tag, and
    NotBytesError for items that are not plain bytes, before anything reaches C.
    """
    if len(key) != KEY_SIZE:
        raise ValueError(f"AES-256-GCM key must be {KEY_SIZE} bytes")
    n = len(items)
    if len(aads) != n:
        raise ValueError("need exactly one AAD per item")
    if skip < 0:
        raise ValueError("the prefix length cannot be negative")
    if n == 0:
        return []
    item_blob = b"".join(items)
    item_lens, item_size = _lengths(items, item_blob, "item")
    least = skip + _OVERHEAD
    if (item_size if item_lens is None else min(item_lens)) < least:
        raise ValueError(f"every item must be at least {least} bytes")
    aad_blob = b"".join(aads)
    aad_lens, aad_len = _lengths(aads, aad_blob, "AAD")
    total = len(item_blob) - n * least
    # [status bytes | plaintexts]
    out = _alloc("uint8_t[]", n + total)
    rc = lib.gw_aes_gcm_open_packed(
        key,
        n,
        skip,
        item_blob,
        _size_t_array(item_lens),
        item_size,
        aad_blob,
        _size_t_array(aad_lens),
        aad_len,
        out + n,
        total,
        out,
    )
    if rc:
        _raise_batch_error(rc, "AES-GCM open")
    buf = ffi.buffer(out)
    if item_lens is None:
        plain = _cut_equal(buf, item_size - least, n, start=n)
    else:
        plain = _split(buf[:], [length - least for length in item_lens], n)
    status = buf[:n]
    if status.count(0) == n:  # all items authentic (GW_OK == 0)
        return plain  # type: ignore[return-value]
    return [p if status[i] == 0 else None for i, p in enumerate(plain)]


# --- digests ---------------------------------------------------------------


def digest_batch(bits: int, msgs: Sequence[bytes]) -> list[bytes]:
    """SHA-256 (bits=256) or SHA-384 (bits=384) of every message."""
    if bits not in (256, 384):
        raise ValueError("digest size must be 256 or 384 bits")
    n = len(msgs)
    if n == 0:
        return []
    size = bits // 8
    out = _alloc("uint8_t[]", n * size)
    rc = lib.gw_digest_batch(bits, n, b"".join(msgs), [len(m) for m in msgs], out)
    if rc != lib.GW_OK:
        _raise_batch_error(rc, "digest")
    return _cut_equal(ffi.buffer(out), size, n)


# --- SigV4 ------------------------------------------------------------------


# Bound once: sigv4_check runs on every request, and each lib attribute is a lookup.
_gw_sigv4_check = lib.gw_sigv4_check
_SIGV4_MATCH: int = lib.GW_SIGV4_MATCH
_SIGV4_MISMATCH: int = lib.GW_SIGV4_MISMATCH


def sigv4_check(
    signing_key: bytes,
    canonical_head: bytes,
    body: bytes,
    declared: bytes | None,
    sts_head: bytes,
    provided: bytes,
) -> bool:
    """True iff ``provided`` is the request's SigV4 signature; see ``gw_sigv4_check``."""
    if not (
        type(signing_key) is bytes
        and type(canonical_head) is bytes
        and type(body) is bytes
        and (declared is None or type(declared) is bytes)
        and type(sts_head) is bytes
        and type(provided) is bytes
    ):
        raise TypeError("sigv4_check takes bytes (declared may be None)")
    rc = _gw_sigv4_check(
        signing_key,
        len(signing_key),
        canonical_head,
        len(canonical_head),
        body,
        len(body),
        ffi.NULL if declared is None else declared,
        0 if declared is None else len(declared),
        sts_head,
        len(sts_head),
        provided,
        len(provided),
    )
    if rc == _SIGV4_MATCH:
        return True
    if rc == _SIGV4_MISMATCH:
        return False
    raise CryptoError(f"sigv4 check: native call failed with code {rc}")


# --- ECDSA -----------------------------------------------------------------

ECDSA_NONCES_MAX: int = lib.GW_ECDSA_NONCES_MAX


def ecdsa_nonces_start(per_curve: int) -> None:
    """Start the native thread that keeps precomputed ECDSA nonces ready (idempotent)."""
    if type(per_curve) is not int or not 1 <= per_curve <= ECDSA_NONCES_MAX:
        raise ValueError(f"per_curve must be an int in 1..{ECDSA_NONCES_MAX}, got {per_curve!r}")
    rc = lib.gw_ecdsa_nonces_start(per_curve)
    if rc == lib.GW_ERR_UNSUPPORTED:
        raise CryptoError(
            "precomputed ECDSA nonces bypass OpenSSL's providers and are not available "
            "while FIPS is enabled"
        )
    if rc != lib.GW_OK:
        raise CryptoError(f"ECDSA nonce precompute: native start failed with code {rc}")


def ecdsa_nonces_stop() -> None:
    """Stop that thread and clear every unused nonce (a no-op if it is not running)."""
    lib.gw_ecdsa_nonces_stop()


def ecdsa_nonces_settled() -> bool:
    """True when no pool is being refilled and the thread waits (takes the pool's lock)."""
    return bool(lib.gw_ecdsa_nonces_settled())


def ecdsa_nonces_stats() -> tuple[int, int, int, int]:
    """(signed with a precomputed nonce, found the pool empty, ready P-256, ready P-384)."""
    out = ffi.new("uint64_t[4]")
    lib.gw_ecdsa_nonces_stats(out)
    return out[0], out[1], out[2], out[3]


class EcHandle:
    """Owns one native EC key; freed by close() or, as a safety net, by the GC.

    Concurrent sign/verify calls may share a handle (OpenSSL 3 keys are
    thread-safe for these operations). close() while a call is running defers
    the free until that call has returned, so C never sees a freed key.
    """

    __slots__ = ("_ptr", "_lock", "_users", "_closing", "bits", "is_private", "max_sig")

    def __init__(self, ptr: object) -> None:
        self._ptr = ffi.gc(ptr, lib.gw_ec_free)
        self._lock = threading.Lock()
        self._users = 0
        self._closing = False
        self.bits: int = lib.gw_ec_bits(ptr)
        self.is_private: bool = bool(lib.gw_ec_is_private(ptr))
        self.max_sig: int = lib.gw_ec_max_sig_size(ptr)

    @classmethod
    def _from_result(cls, ptr: object, err: object, what: str) -> EcHandle:
        if ptr == ffi.NULL:
            code = err[0]  # type: ignore[index]
            if code == lib.GW_ERR_UNSUPPORTED:
                raise ValueError(f"{what}: only EC keys on P-256 or P-384 are supported")
            if code == lib.GW_ERR_DECODE:
                raise ValueError(f"{what}: not a valid DER encoding")
            raise CryptoError(f"{what}: native call failed with code {code}")
        return cls(ptr)

    @classmethod
    def generate(cls, bits: int) -> EcHandle:
        err = ffi.new("int *")
        return cls._from_result(lib.gw_ec_generate(bits, err), err, "EC key generation")

    @classmethod
    def load_private_pkcs8(cls, der: bytes) -> EcHandle:
        err = ffi.new("int *")
        ptr = lib.gw_ec_load_private_pkcs8(der, len(der), err)
        return cls._from_result(ptr, err, "PKCS#8 private key")

    @classmethod
    def load_public_spki(cls, der: bytes) -> EcHandle:
        err = ffi.new("int *")
        ptr = lib.gw_ec_load_public_spki(der, len(der), err)
        return cls._from_result(ptr, err, "SubjectPublicKeyInfo")

    @property
    def closed(self) -> bool:
        return self._closing

    def _acquire(self) -> object:
        with self._lock:
            if self._closing:
                raise ValueError("EC key is closed")
            self._users += 1
            return self._ptr

    def _release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._closing and self._users == 0:
                self._free_locked()

    def _free_locked(self) -> None:
        ptr, self._ptr = self._ptr, ffi.NULL
        if ptr != ffi.NULL:
            ffi.release(ptr)

    def close(self) -> None:
        with self._lock:
            self._closing = True
            if self._users == 0:
                self._free_locked()

    def _export(self, fn: object, what: str) -> bytes:
        ptr = self._acquire()
        try:
            size = fn(ptr, ffi.NULL, 0)  # type: ignore[operator]
            if size < 0:
                raise CryptoError(f"{what} export failed with code {size}")
            out = _alloc("uint8_t[]", size)
            written = fn(ptr, out, size)  # type: ignore[operator]
            if written != size:
                raise CryptoError(f"{what} export failed with code {written}")
            return ffi.buffer(out)[:]
        finally:
            self._release()

    def export_spki(self) -> bytes:
        return self._export(lib.gw_ec_export_spki, "SubjectPublicKeyInfo")

    def export_pkcs8(self) -> bytes:
        if not self.is_private:
            raise ValueError("a public key has no PKCS#8 encoding")
        return self._export(lib.gw_ec_export_pkcs8, "PKCS#8")

    def _digest_blob(self, digests: Sequence[bytes]) -> tuple[bytes, int]:
        """The digests joined for C, and their size; each must be the curve's size."""
        dlen = self.bits // 8
        blob = b"".join(digests)
        if len(blob) != len(digests) * dlen or any(len(d) != dlen for d in digests):
            raise ValueError(f"every digest must be {dlen} bytes for this curve")
        return blob, dlen

    def sign(self, digests: Sequence[bytes]) -> list[bytes | None]:
        """DER signatures; None marks an item OpenSSL failed to sign."""
        if not digests:
            return []
        call = _SignCall(self, digests)
        ptr = self._acquire()
        try:
            rc = lib.gw_ec_sign(
                ptr,
                call.n,
                call.blob,
                call.dlen,
                call.sigs,
                call.stride,
                call.sig_lens,
                call.status,
            )
        finally:
            self._release()
        return call.results(rc)

    def verify(self, digests: Sequence[bytes], sigs: Sequence[bytes]) -> list[bool]:
        if not digests and not sigs:
            return []
        call = _VerifyCall(self, digests, sigs)
        ptr = self._acquire()
        try:
            rc = lib.gw_ec_verify(
                ptr, call.n, call.blob, call.dlen, call.sigs, call.sig_lens, call.results_out
            )
        finally:
            self._release()
        return call.results(rc)


class _SignCall:
    """The buffers of one gw_ec_sign call, and its results once it has run."""

    __slots__ = ("n", "blob", "dlen", "stride", "sigs", "sig_lens", "status")

    def __init__(self, handle: EcHandle, digests: Sequence[bytes]) -> None:
        self.n = len(digests)
        self.blob, self.dlen = handle._digest_blob(digests)
        self.stride = handle.max_sig
        self.sigs = _alloc("uint8_t[]", self.n * self.stride)
        self.sig_lens = _alloc("size_t[]", self.n)
        self.status = _alloc("int[]", self.n)

    def results(self, rc: int) -> list[bytes | None]:
        if rc != lib.GW_OK:
            _raise_batch_error(rc, "ECDSA sign")
        raw = ffi.buffer(self.sigs)[:]
        stride, sig_lens, status = self.stride, self.sig_lens, self.status
        return [
            raw[i * stride : i * stride + sig_lens[i]] if status[i] == lib.GW_OK else None
            for i in range(self.n)
        ]


class _VerifyCall:
    """The buffers of one gw_ec_verify call, and its results once it has run."""

    __slots__ = ("n", "blob", "dlen", "sigs", "sig_lens", "results_out")

    def __init__(self, handle: EcHandle, digests: Sequence[bytes], sigs: Sequence[bytes]) -> None:
        self.n = len(digests)
        if len(sigs) != self.n:
            raise ValueError("need exactly one signature per digest")
        self.blob, self.dlen = handle._digest_blob(digests)
        self.sigs = b"".join(sigs)
        self.sig_lens = ffi.new("size_t[]", [len(s) for s in sigs])
        self.results_out = _alloc("int[]", self.n)

    def results(self, rc: int) -> list[bool]:
        if rc != lib.GW_OK:
            _raise_batch_error(rc, "ECDSA verify")
        return [self.results_out[i] == 1 for i in range(self.n)]


# Called with a job's results, or the exception that stands for them, on collect().
JobDone = Callable[[Any, float], None]


class _Job:
    __slots__ = ("job", "call", "handle", "keep", "done", "submitted")

    def __init__(
        self, job: Any, call: _SignCall | _VerifyCall, handle: EcHandle, keep: Any, done: JobDone
    ) -> None:
        self.job, self.call, self.handle, self.keep, self.done = job, call, handle, keep, done
        self.submitted = perf_counter()


def _stop_worker(ptr: Any, jobs: dict[int, _Job], pid: int) -> None:
    # Holding ``jobs`` here keeps every job's buffers alive until the thread has stopped.
    if os.getpid() == pid:
        lib.gw_ecw_stop(ptr)
    # else: a forked child's copy, whose thread did not come along: joining it would wait
    # forever, so the copy is left as it is.
    jobs.clear()


class EcWorker:
    """A native thread for ECDSA batches, and the descriptor that says one has finished
    (native/ecdsa_worker.c). Submit and collect from one thread (the event loop's):
    ``fd`` becomes readable when a job has finished; ``collect`` then hands each finished
    job's results (or the exception standing for them) to the callback it was submitted
    with, with the seconds its native call took.

    With ``idle`` the thread runs under SCHED_IDLE (Linux): only on a core nothing else
    wants, so it never takes the event loop's core from it. If other work keeps every core
    busy, a batch waits behind that work: the first one that waited longer than
    ``STARVED_SECONDS`` puts the thread back under the normal policy for good.
    """

    _COLLECT_MAX = 256
    STARVED_SECONDS = 0.05

    def __init__(self, *, idle: bool = False) -> None:
        err = ffi.new("int *")
        ptr = lib.gw_ecw_start(err)
        if ptr == ffi.NULL:
            raise CryptoError(f"ECDSA worker: native start failed with code {err[0]}")
        self.idle = idle and lib.gw_ecw_set_idle(ptr, 1) == lib.GW_OK
        self._jobs: dict[int, _Job] = {}
        jobs = self._jobs
        self.pid = os.getpid()  # the thread exists in this process only (fork copies none)
        pid = self.pid
        self._ptr: Any = ffi.gc(ptr, lambda p: _stop_worker(p, jobs, pid))
        self.fd: int = lib.gw_ecw_fd(ptr)
        self._next_id = 1
        self._ids = ffi.new("uint64_t[]", self._COLLECT_MAX)

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet collected."""
        return len(self._jobs)

    def sign(self, handle: EcHandle, digests: Sequence[bytes], done: JobDone) -> None:
        call = _SignCall(handle, digests)
        job = ffi.new("gw_ec_job *")
        job.op = lib.GW_ECW_SIGN
        job.sigs = call.sigs
        job.sig_stride = call.stride
        job.sig_lens = call.sig_lens
        job.status = call.status
        self._submit(job, call, handle, done)

    def verify(
        self, handle: EcHandle, digests: Sequence[bytes], sigs: Sequence[bytes], done: JobDone
    ) -> None:
        call = _VerifyCall(handle, digests, sigs)
        job = ffi.new("gw_ec_job *")
        job.op = lib.GW_ECW_VERIFY
        in_sigs = ffi.from_buffer(call.sigs)
        job.in_sigs = ffi.cast("const uint8_t *", in_sigs)
        job.in_sig_lens = call.sig_lens
        job.results = call.results_out
        self._submit(job, call, handle, done, in_sigs)

    def _submit(
        self, job: Any, call: _SignCall | _VerifyCall, handle: EcHandle, done: JobDone, *keep: Any
    ) -> None:
        if self._ptr is None:
            raise RuntimeError("EcWorker is closed")
        if os.getpid() != self.pid:
            raise RuntimeError("EcWorker was started in another process (its thread is there)")
        digests = ffi.from_buffer(call.blob)
        job.n = call.n
        job.digests = ffi.cast("const uint8_t *", digests)
        job.dlen = call.dlen
        job_id = self._next_id
        self._next_id += 1
        job.id = job_id
        job.key = handle._acquire()
        # Held before the thread can see the job, so nothing can free its buffers under it.
        self._jobs[job_id] = _Job(job, call, handle, (digests, *keep), done)
        rc = lib.gw_ecw_submit(self._ptr, job)
        if rc != lib.GW_OK:
            del self._jobs[job_id]
            handle._release()
            raise CryptoError(f"ECDSA worker: submit failed with code {rc}")

    def collect(self) -> int:
        """Deliver every finished job; returns how many."""
        if self._ptr is None or os.getpid() != self.pid:
            return 0
        delivered = 0
        while True:
            n = lib.gw_ecw_collect(self._ptr, self._ids, self._COLLECT_MAX)
            for i in range(n):
                self._finish(self._jobs.pop(self._ids[i]))
            delivered += n
            if n < self._COLLECT_MAX:
                return delivered

    def close(self) -> None:
        """Finish every submitted job (delivering its results), then stop the thread."""
        if self._ptr is None:
            return
        if os.getpid() != self.pid:
            self._ptr = None  # a forked child's copy: see _stop_worker
            return
        self.collect()
        unfinished = list(self._jobs.values())
        ptr, self._ptr = self._ptr, None
        ffi.release(ptr)  # runs _stop_worker: the thread finishes what is queued, then exits
        for entry in unfinished:
            self._finish(entry)

    def _leave_idle(self) -> None:
        self.idle = False
        if self._ptr is not None and lib.gw_ecw_set_idle(self._ptr, 0) == lib.GW_OK:
            log.warning(
                "ECDSA worker: a batch waited over %.0f ms for a core at idle priority; "
                "the thread runs at normal priority from now on",
                self.STARVED_SECONDS * 1e3,
            )

    def _starved(self, entry: _Job) -> bool:
        """The job waited longer than STARVED_SECONDS besides its native call's own time."""
        return perf_counter() - entry.submitted - entry.job.seconds > self.STARVED_SECONDS

    def _finish(self, entry: _Job) -> None:
        entry.handle._release()
        if self.idle and self._starved(entry):
            self._leave_idle()
        try:
            results: Any = entry.call.results(entry.job.rc)
        except Exception as exc:
            results = exc
        try:
            entry.done(results, entry.job.seconds)
        except Exception:
            # One callback's failure must not keep the other finished jobs from theirs.
            log.exception("ECDSA worker: a job's callback failed")
