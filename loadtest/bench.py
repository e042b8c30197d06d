"""One benchmark run of one KMS operation from the command line, with the fast driver.

python -m loadtest.bench --url http://127.0.0.1:8080 --op Encrypt -c 32 -s 5 [--rate 3000]
    [--key-id ID] [--server-pid PID]   (credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from loadtest import driver, operations, workload
from loadtest.signing import Signer, credentials_from_env


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT (plain HTTP only)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--op", default="Encrypt", choices=operations.OPERATIONS)
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("-s", "--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rate", type=float, help="requests/s on a fixed schedule (open loop)")
    parser.add_argument("--key-id", help="existing key; default: create one")
    parser.add_argument("--plaintext-bytes", type=int, default=32)
    parser.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="root of a server process tree whose CPU to charge (repeatable)",
    )
    args = parser.parse_args()
    parts = urlsplit(args.url)
    if parts.scheme != "http":
        raise SystemExit("the fast driver speaks plain HTTP only; use the locustfile for HTTPS")
    signer = Signer(args.url, credentials_from_env(), args.region)
    kind = operations.KEY_KIND[args.op]
    key_id = args.key_id or workload.create_key(signer, kind)
    shape = operations.Shape(plaintext_bytes=args.plaintext_bytes)
    requests = workload.pool(signer, args.op, [key_id], shape, size=256)
    summary, _ = driver.run_sync(
        lambda: driver.drive(
            parts.hostname or "127.0.0.1",
            parts.port or 80,
            requests,
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup=args.warmup,
            rate=args.rate,
            server_pids=args.server_pid,
        )
    )
    print(f"{args.op} c={args.concurrency}: {summary.describe()}")


if __name__ == "__main__":
    main()
