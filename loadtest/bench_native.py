"""Benchmark of the native crypto core (gateway._native) against `cryptography` and openssl speed.

Run: python loadtest/bench_native.py [--quick]
Prints one table of per-item costs (medians over several repeats) plus machine info.
Compare columns side by side within one run: this machine drifts +-20-30% between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gateway.crypto import _binding, aesgcm  # noqa: E402
from gateway.crypto.batcher import CryptoBatcher  # noqa: E402
from gateway.crypto.ecdsa import (  # noqa: E402
    EcPrivateKey,
    nonce_pools_settled,
    nonce_stats,
    start_nonce_precompute,
    stop_nonce_precompute,
)

SIZES = (1, 16, 256, 1024)
KEY = os.urandom(32)


def calibrate(fn: Callable[[], object], min_time: float) -> int:
    """How many calls of ``fn`` make one sample of at least ``min_time`` seconds."""
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        if time.perf_counter() - t0 >= min_time:
            return loops
        loops *= 2


def sample_us(fn: Callable[[], object], loops: int, items: int) -> float:
    t0 = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - t0) / (loops * items) * 1e6


def per_item_us(fn: Callable[[], object], items: int, repeats: int, min_time: float) -> float:
    """Median over ``repeats`` of the per-item cost in microseconds."""
    loops = calibrate(fn, min_time)
    return statistics.median(sample_us(fn, loops, items) for _ in range(repeats))


def interleaved_samples(
    fns: dict[str, Callable[[], object]], items: int, repeats: int, min_time: float
) -> dict[str, list[float]]:
    """Per-item costs (us) of each candidate, one sample of each per repeat.

    Each repeat samples every candidate in turn, starting one further along the list each
    time, so a slow spell on a shared machine lands on all of them alike instead of on
    whichever candidate happened to run then.
    """
    names = list(fns)
    loops = {name: calibrate(fns[name], min_time) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(sample_us(fns[name], loops[name], items))
    return samples


def paired_ratio(num: list[float], den: list[float]) -> float:
    """Median of the per-repeat ratios num/den (both sampled in the same repeat)."""
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def openssl_speed_ecdsap256() -> tuple[float, float] | None:
    """(signs/s, verifies/s) from `openssl speed -seconds 2 ecdsap256`, or None."""
    try:
        out = subprocess.run(
            ["openssl", "speed", "-seconds", "2", "ecdsap256"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    return (float(m.group(1)), float(m.group(2))) if m else None


def aes_rows(repeats: int, min_time: float) -> list[list[str]]:
    pt, aad = os.urandom(32), b"aad"
    theirs = AESGCM(KEY)
    fixed_iv = os.urandom(12)
    rows = [
        ["AES-256-GCM seal, 32 B items"],
        ["  native C batch loop only"],
        ["  native seal_batch"],
        ["  native seal_packed (22 B prefix)"],
        ["  cryptography encrypt (fixed IV)"],
        ["  cryptography encrypt + urandom IV"],
        ["  seal_batch speed-up vs crypto+IV (fixed IV)"],
        ["  seal_packed speed-up vs crypto+IV (fixed IV)"],
        ["  C loop speed-up vs crypto+IV (fixed IV)"],
    ]
    header = os.urandom(22)  # a ciphertext blob header
    ffi, lib = _binding.ffi, _binding.lib
    for n in SIZES:
        pts, aads = [pt] * n, [aad] * n
        # Distinct (equal) header objects per item, as the batcher hands them over.
        prefixes = [header[:11] + header[11:] for _ in range(n)]

        # The bare native call with pre-built inputs and outputs: what the C loop costs
        # before any Python result objects (bytes, Sealed) are made.
        blob, aad_blob = b"".join(pts), b"".join(aads)
        lens, aad_lens = ffi.new("size_t[]", [len(pt)] * n), ffi.new("size_t[]", [len(aad)] * n)
        out = ffi.new("uint8_t[]", n * 28 + len(blob))

        def c_only(n: int = n, blob=blob, aad_blob=aad_blob, lens=lens, al=aad_lens, out=out):
            lib.gw_aes_gcm_seal(KEY, n, blob, lens, aad_blob, al, out, out + 28 * n, out + 12 * n)

        def seal_batch(pts: list[bytes] = pts, aads: list[bytes] = aads) -> None:
            aesgcm.seal_batch(KEY, pts, aads)

        def seal_packed(p: list[bytes] = prefixes, pts=pts, aads=aads) -> None:
            aesgcm.seal_packed(KEY, p, pts, aads)

        def theirs_fixed(n: int = n) -> None:
            for _ in range(n):
                theirs.encrypt(fixed_iv, pt, aad)

        def theirs_iv(n: int = n) -> None:
            for _ in range(n):
                theirs.encrypt(os.urandom(12), pt, aad)

        candidates: dict[str, Callable[[], object]] = {
            "c_loop": c_only,
            "ours": seal_batch,
            "packed": seal_packed,
            "fixed": theirs_fixed,
            "with_iv": theirs_iv,
        }
        samples = interleaved_samples(candidates, n, repeats, min_time)

        def speed_up(ours: str, samples: dict[str, list[float]] = samples) -> str:
            vs_iv = paired_ratio(samples["with_iv"], samples[ours])
            vs_fixed = paired_ratio(samples["fixed"], samples[ours])
            return f"x{vs_iv:.2f} (x{vs_fixed:.2f})"

        rows[0].append("")
        names = ("c_loop", "ours", "packed", "fixed", "with_iv")  # the order of rows[1:6]
        for row, name in zip(rows[1:6], names, strict=True):
            row.append(f"{statistics.median(samples[name]):.2f}")
        rows[6].append(speed_up("ours"))
        rows[7].append(speed_up("packed"))
        rows[8].append(speed_up("c_loop"))
    return rows


def ecdsa_rows(repeats: int, min_time: float, speed: tuple[float, float] | None) -> list[list[str]]:
    key = EcPrivateKey.generate("P-256")
    pub = key.public_key()
    theirs = serialization.load_der_private_key(key.pkcs8(), password=None)
    algo = ec.ECDSA(Prehashed(hashes.SHA256()))
    digest = hashlib.sha256(b"bench").digest()
    sig = key.sign_digests([digest])[0]
    rows = [
        ["ECDSA P-256"],
        ["  native sign_digests"],
        ["  native sign_digests, nonces ready"],
        ["  cryptography sign"],
        ["  openssl speed sign"],
        ["  native / openssl speed (sign)"],
        ["  native verify_digests"],
        ["  cryptography verify"],
        ["  openssl speed verify"],
    ]
    for n in SIZES:
        digests = [digest] * n
        items = [(digest, sig)] * n
        s = per_item_us(lambda d=digests: key.sign_digests(d), n, repeats, min_time)
        v = per_item_us(lambda i=items: pub.verify_digests(i), n, repeats, min_time)

        def their_sign(n: int = n) -> None:
            for _ in range(n):
                theirs.sign(digest, algo)

        def their_verify(n: int = n) -> None:
            tp = theirs.public_key()
            for _ in range(n):
                tp.verify(sig, digest, algo)

        ts = per_item_us(their_sign, n, repeats, min_time)
        tv = per_item_us(their_verify, n, repeats, min_time)
        ready = statistics.median(
            presigned_sample_us(key, digest, n) for _ in range(min(repeats, 5))
        )
        ss = f"{1e6 / speed[0]:.2f}" if speed else "n/a"
        sv = f"{1e6 / speed[1]:.2f}" if speed else "n/a"
        rows[0].append("")
        rows[1].append(f"{s:.2f}")
        rows[2].append(f"{ready:.2f}")
        rows[3].append(f"{ts:.2f}")
        rows[4].append(ss)
        rows[5].append(f"{s / (1e6 / speed[0]):.2f}" if speed else "n/a")
        rows[6].append(f"{v:.2f}")
        rows[7].append(f"{tv:.2f}")
        rows[8].append(sv)
    key.close()
    pub.close()
    return rows


# Precomputed nonces: a full pool of POOL signs POOL // 2 digests before it refills, so the
# sample runs with the filler thread at rest and times the signing thread alone.
POOL = 4096


def presigned_sample_us(key: EcPrivateKey, digest: bytes, n: int) -> float:
    """Per-signature µs on the calling thread with a nonce ready for every signature."""
    stop_nonce_precompute()
    start_nonce_precompute(POOL)
    key.sign_digests([digest])  # the curve's first signature asks for its pool
    while not (nonce_stats().ready_p256 == POOL and nonce_pools_settled()):
        time.sleep(0.005)
    batches = [[digest] * n] * (POOL // 2 // n)
    before = nonce_stats().signed_precomputed
    t0 = time.perf_counter()
    for batch in batches:
        key.sign_digests(batch)
    elapsed = time.perf_counter() - t0
    signed = sum(map(len, batches))
    assert nonce_stats().signed_precomputed - before == signed, "a signature missed the pool"
    stop_nonce_precompute()
    return elapsed / signed * 1e6


def thread_scaling(seconds: float, repeats: int) -> tuple[float, float, float]:
    """Signs/s with one and with two threads (each signing batches of 256); median ratio."""
    key = EcPrivateKey.generate("P-256")
    digests = [hashlib.sha256(bytes([i])).digest() for i in range(256)]

    def run(threads: int) -> float:
        counts = [0] * threads
        stop = time.perf_counter() + seconds

        def work(i: int) -> None:
            while time.perf_counter() < stop:
                key.sign_digests(digests)
                counts[i] += len(digests)

        ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return sum(counts) / (time.perf_counter() - t0)

    ones, twos, ratios = [], [], []
    for _ in range(repeats):
        one, two = run(1), run(2)
        ones.append(one)
        twos.append(two)
        ratios.append(two / one)
    key.close()
    return statistics.median(ones), statistics.median(twos), statistics.median(ratios)


def batcher_rows(repeats: int, rounds: int) -> list[list[str]]:
    """Per-item cost of N concurrent seals through CryptoBatcher: inline vs thread hand-off.

    Reports wall-clock us/item and event-loop-thread CPU us/item (the loop is the
    scarce resource in the gateway; a hand-off moves the native work off it but adds
    a queue put, a thread wake-up and a call_soon_threadsafe back).
    """
    try:
        import uvloop

        new_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        new_loop = asyncio.new_event_loop
    sizes = (1, 4, 16, 64, 256)
    rows = [
        ["Batcher, N concurrent 32 B seals"],
        ["  inline: wall us/item"],
        ["  thread: wall us/item"],
        ["  inline: loop CPU us/item"],
        ["  thread: loop CPU us/item"],
        ["  thread wall / inline wall"],
    ]

    async def measure(b: CryptoBatcher, n: int) -> tuple[float, float]:
        pt = os.urandom(32)
        for _ in range(20):  # warm-up (threads started, caches hot)
            await asyncio.gather(*(b.seal(KEY, pt) for _ in range(n)))
        walls, cpus = [], []
        for _ in range(repeats):
            w0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(rounds):
                await asyncio.gather(*(b.seal(KEY, pt) for _ in range(n)))
            walls.append((time.perf_counter() - w0) / (rounds * n) * 1e6)
            cpus.append((time.thread_time() - c0) / (rounds * n) * 1e6)
        return statistics.median(walls), statistics.median(cpus)

    async def main() -> None:
        inline = CryptoBatcher(max_batch=1024, inline_aes_max=1024, inline_aes_max_bytes=1 << 30)
        threaded = CryptoBatcher(max_batch=1024, inline_aes_max=0)
        for n in sizes:
            iw, ic = await measure(inline, n)
            tw, tc = await measure(threaded, n)
            rows[0].append(f"N={n}")
            rows[1].append(f"{iw:.2f}")
            rows[2].append(f"{tw:.2f}")
            rows[3].append(f"{ic:.2f}")
            rows[4].append(f"{tc:.2f}")
            rows[5].append(f"x{tw / iw:.2f}")
        await inline.close()
        await threaded.close()

    loop = new_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return rows


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [
        max(len(r[i]) if i < len(r) else 0 for r in [header, *rows]) for i in range(len(header))
    ]
    print(f"\n{title}")
    for r in [header, *rows]:
        cells = [c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)]
        print("  ".join(cells).rstrip())


def machine() -> str:
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"nproc={os.cpu_count()}  cpu={model}  python={platform.python_version()} "
        f"({sys.executable})  native OpenSSL={_binding.OPENSSL_VERSION_TEXT}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    args = parser.parse_args()
    repeats, min_time = (3, 0.02) if args.quick else (7, 0.1)
    # AES candidates are interleaved: more, shorter samples in the same time.
    aes_repeats, aes_min_time = (3, 0.02) if args.quick else (15, 0.05)

    print(machine())
    speed = openssl_speed_ecdsap256()
    header = ["per-item cost, us (median)", *[f"N={n}" for n in SIZES]]
    rows = aes_rows(aes_repeats, aes_min_time) + ecdsa_rows(repeats, min_time, speed)
    print_table("Native core vs cryptography vs openssl speed", header, rows)
    print(
        f"AES: {aes_repeats} repeats, candidates interleaved within each; speed-ups are "
        "medians of the per-repeat ratios"
    )

    one, two, ratio = thread_scaling(0.5 if args.quick else 2.0, repeats if args.quick else 5)
    print(
        f"\nECDSA P-256 sign, batches of 256: 1 thread {one:,.0f}/s, "
        f"2 threads {two:,.0f}/s, ratio x{ratio:.2f} (median of per-repeat ratios)"
    )

    rows = batcher_rows(repeats, 50 if args.quick else 300)
    print_table("Batcher: inline on the loop vs thread hand-off (uvloop)", rows[0], rows[1:])


if __name__ == "__main__":
    main()
