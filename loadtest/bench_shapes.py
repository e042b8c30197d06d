"""Benchmark of the request/response codec: awsjson + ServiceShapes, old against new.

Run: python loadtest/bench_shapes.py [--against REV] [--quick]
Prints a markdown table of per-call costs (medians over several interleaved repeats, one
process) of decode_body + parse_input and of serialize_output + encode_body for the hot
operations, with requests and responses the size the gateway sees under loadtest's defaults.
"Old" is gateway/protocol/{shapes,awsjson}.py as of REV (default HEAD, read with
``git show``); "new" is the working tree. Once the change is committed, pass the commit
before it. Compare columns within one run: this machine drifts between runs.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.errors import AwsError  # noqa: E402
from gateway.keys import blob  # noqa: E402
from gateway.protocol import awsjson, shapes  # noqa: E402
from loadtest import operations  # noqa: E402
from loadtest.bench_native import interleaved_samples  # noqa: E402
from loadtest.compare import machine  # noqa: E402

ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CONTEXT = {"purpose": "bench", "tenant": "tenant-0042"}


def load_old(rev: str, name: str) -> types.ModuleType:
    """gateway/protocol/<name>.py as of ``rev``, as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{rev}:gateway/protocol/{name}.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType(f"old_{name}")
    module.__file__ = f"{rev}:gateway/protocol/{name}.py"
    sys.modules[module.__name__] = module  # dataclasses and friends look it up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def cases(shape: operations.Shape) -> list[tuple[str, bytes, dict[str, Any]]]:
    """(operation, request body, handler result) as the gateway sees them."""
    ciphertext = os.urandom(shape.plaintext_bytes + blob.OVERHEAD)
    data_key = os.urandom(shape.data_key_bytes)
    requests = [
        ("Encrypt", operations.encrypt(ARN, shape)),
        ("Decrypt", operations.decrypt(ciphertext, shape)),
        ("GenerateDataKey", operations.generate_data_key(ARN, shape)),
        ("Sign", operations.sign(ARN, shape)),
    ]
    results = {
        "Encrypt": {
            "CiphertextBlob": ciphertext,
            "KeyId": ARN,
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        },
        "Decrypt": {
            "KeyId": ARN,
            "Plaintext": os.urandom(shape.plaintext_bytes),
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        },
        "GenerateDataKey": {
            "CiphertextBlob": os.urandom(len(data_key) + blob.OVERHEAD),
            "Plaintext": data_key,
            "KeyId": ARN,
        },
        # A DER ECDSA P-256 signature is 70 to 72 bytes.
        "Sign": {"KeyId": ARN, "Signature": os.urandom(71), "SigningAlgorithm": "ECDSA_SHA_256"},
    }
    return [(op, awsjson.encode_body(params), results[op]) for op, params in requests]


def interleaved_us(
    fns: dict[str, Callable[[], object]], repeats: int, min_time: float
) -> dict[str, float]:
    """Median per-call cost (us) of each candidate, sampled in turn, rotating the order."""
    samples = interleaved_samples(fns, 1, repeats, min_time)
    return {name: statistics.median(values) for name, values in samples.items()}


def parse_call(shapes: Any, codec: Any, op: str, body: bytes) -> Callable[[], Any]:
    """What the endpoint does with a request body."""
    return lambda: shapes.parse_input(op, codec.decode_body(body))


def shape_call(shapes: Any, codec: Any, op: str, result: dict[str, Any]) -> Callable[[], Any]:
    """What the endpoint does with a handler's result."""
    return lambda: codec.encode_body(shapes.serialize_output(op, result))


def outcome(fn: Callable[[], Any]) -> Any:
    try:
        return ("ok", fn())
    except AwsError as err:
        return (err.code, err.message)


def check_same(old: Any, new: Any, old_json: Any, op: str, body: bytes, result: Any) -> None:
    """Both versions answer alike, including for a few broken variants of the request."""
    variants = [
        body,
        body.replace(b'"KeyId":"', b'"KeyId":"' + b"k" * 2048),
        body.replace(b'"Plaintext":"', b'"Plaintext":"!'),
        body.replace(b'"Message":"', b'"Message":"A'),
        body.replace(b'"CiphertextBlob":"', b'"CiphertextBlob":"='),
        body.replace(b"SYMMETRIC_DEFAULT", b"SYMMETRIC"),
        b'{"KeyId": 1}',
        b"{}",
    ]
    for variant in variants:
        before = outcome(parse_call(old, old_json, op, variant))
        after = outcome(parse_call(new, awsjson, op, variant))
        assert before == after, (op, variant[:80], before, after)
    before = old_json.encode_body(old.serialize_output(op, result))
    after = awsjson.encode_body(new.serialize_output(op, result))
    assert before == after, (op, before, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision of the old code")
    parser.add_argument("--plaintext-bytes", type=int, default=operations.Shape().plaintext_bytes)
    parser.add_argument("--no-context", action="store_true", help="no EncryptionContext")
    parser.add_argument("--quick", action="store_true", help="fewer and shorter repeats")
    args = parser.parse_args()
    repeats, min_time = (5, 0.02) if args.quick else (15, 0.05)

    old_shapes, old_json = load_old(args.against, "shapes"), load_old(args.against, "awsjson")
    old, new = old_shapes.ServiceShapes("kms"), shapes.ServiceShapes("kms")
    old.compile_all()
    new.compile_all()
    shape = operations.Shape(
        plaintext_bytes=args.plaintext_bytes,
        encryption_context={} if args.no_context else CONTEXT,
    )

    rows = []
    for op, body, result in cases(shape):
        check_same(old, new, old_json, op, body, result)
        costs = interleaved_us(
            {
                "parse old": parse_call(old, old_json, op, body),
                "parse new": parse_call(new, awsjson, op, body),
                "decode only": functools.partial(awsjson.decode_body, body),
                "shape old": shape_call(old, old_json, op, result),
                "shape new": shape_call(new, awsjson, op, result),
            },
            repeats,
            min_time,
        )
        size = len(awsjson.encode_body(new.serialize_output(op, result)))
        rows.append((op, len(body), size, costs))

    context = "no" if args.no_context else f"{len(CONTEXT)}-entry"
    print(
        f"Machine: {machine()}; old = {args.against}; plaintext {args.plaintext_bytes} B, "
        f"{context} EncryptionContext; medians of {repeats} interleaved repeats.\n"
    )
    print(
        "| operation | request B | decode + parse_input old µs | new µs | ratio "
        "| of which decode_body µs | response B | serialize_output + encode_body old µs "
        "| new µs | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for op, request_size, response_size, c in rows:
        print(
            f"| {op} | {request_size} | {c['parse old']:.2f} | {c['parse new']:.2f} "
            f"| ×{c['parse old'] / c['parse new']:.2f} | {c['decode only']:.2f} "
            f"| {response_size} | {c['shape old']:.2f} | {c['shape new']:.2f} "
            f"| ×{c['shape old'] / c['shape new']:.2f} |"
        )


if __name__ == "__main__":
    main()
