"""Every native entry point in a loop, for a leak checker.

    PYTHONMALLOC=malloc valgrind --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite python3 native/leakloop.py [iterations]

Leaks in the C core grow with the iterations; cffi's one-time module setup does not.
Covers failures too: failed tag checks, malformed signatures, rejected keys and arguments.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys

from gateway.crypto import _binding
from gateway.crypto._binding import CryptoError, EcHandle, NotBytesError

KEY = os.urandom(32)
PREFIX = bytes(22)


def aes_round() -> None:
    pts = [os.urandom(n) for n in (0, 1, 32, 100)]
    aads = [os.urandom(n) for n in (0, 5, 16, 16)]
    ivs, cts, tags = _binding.aes_gcm_seal(KEY, pts, aads)
    bad = [tags[0][:-1] + bytes([tags[0][-1] ^ 1]), *tags[1:]]
    _binding.aes_gcm_open(KEY, ivs, cts, bad, aads)  # item 0 fails alone
    _binding.aes_gcm_seal_with_ivs(KEY, [bytes(12)] * 4, pts, aads)
    # Packed seal: shared prefix with equal and mixed lengths, per-item prefixes, empty.
    _binding.aes_gcm_seal_packed(KEY, [PREFIX] * 4, [bytes(32)] * 4, [PREFIX] * 4)
    _binding.aes_gcm_seal_packed(KEY, [PREFIX] * 4, pts, aads)
    _binding.aes_gcm_seal_packed(KEY, [PREFIX, b"", b"x", PREFIX], pts, aads)
    _binding.aes_gcm_seal_packed(KEY, [PREFIX] * 2, pts[:2], aads[:2], ivs=[bytes(12)] * 2)
    _binding.aes_gcm_seal_packed(KEY, [], [], [])
    with contextlib.suppress(TypeError, NotBytesError):
        _binding.aes_gcm_seal_packed(KEY, [PREFIX], ["not bytes"], [b""])  # type: ignore[list-item]


def digest_round() -> None:
    for bits in (256, 384):
        _binding.digest_batch(bits, [b"", b"abc", os.urandom(5000)])


def sigv4_round() -> None:
    key, body = os.urandom(32), os.urandom(300)
    for declared in (None, b"0" * 64):
        _binding.sigv4_check(key, b"POST\n/\n", body, declared, b"AWS4\n", b"0" * 64)
    with contextlib.suppress(TypeError):
        _binding.sigv4_check(key, "not bytes", body, None, b"", b"")  # type: ignore[arg-type]


def ecdsa_round() -> None:
    for bits, size in ((256, 32), (384, 48)):
        key = EcHandle.generate(bits)
        digests = [os.urandom(size) for _ in range(3)]
        sigs = key.sign(digests)
        public = EcHandle.load_public_spki(key.export_spki())
        public.verify(digests, [s or b"" for s in sigs])
        public.verify(digests, [b"\x30\x02\x02\x00", b"", os.urandom(70)])  # malformed DER
        again = EcHandle.load_private_pkcs8(key.export_pkcs8())
        again.sign(digests[:1])
        for handle in (key, public, again):
            handle.close()
        EcHandle.generate(bits)  # left to the garbage collector's safety net
    with contextlib.suppress(CryptoError, ValueError):
        EcHandle.load_public_spki(b"\x30\x03\x02\x01\x00")


def ecdsa_worker_round() -> None:
    key = EcHandle.generate(256)
    public = EcHandle.load_public_spki(key.export_spki())
    digests = [os.urandom(32) for _ in range(3)]
    done: list[object] = []
    worker = _binding.EcWorker()
    worker.sign(key, digests, lambda results, seconds: done.append(results))
    worker.verify(public, digests, [b"", b"\x30\x02\x02\x00", os.urandom(70)], lambda r, s: None)
    worker.sign(public, digests, lambda r, s: None)  # refused by the native call
    worker.close()  # delivers all three
    assert len(done) == 1
    _binding.EcWorker().sign(key, digests, lambda r, s: None)  # left to the GC's safety net
    key.close()
    public.close()


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for _ in range(iterations):
        aes_round()
        digest_round()
        sigv4_round()
        ecdsa_round()
        ecdsa_worker_round()
    gc.collect()
    print(f"{iterations} iterations over every native entry point")


if __name__ == "__main__":
    main()
