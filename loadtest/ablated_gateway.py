"""``gateway serve`` with parts of the request path replaced by stand-ins, for measuring.

python -m loadtest.ablated_gateway --without sigv4[,quota,crypto,metrics] serve [ARGS]

The stand-ins are ``loadtest/ablation.py``'s: each answers at once with the shapes the part
would give, so the rest of the path does the same work and the difference between this
process and a whole gateway is what the parts cost over HTTP. Such a gateway checks no
signature (without sigv4), charges no quota or encrypts nothing: it is made to listen on
127.0.0.1 only, with one worker (the stand-ins are patched into this process; spawned
workers would not have them), whatever ARGS say.
"""

from __future__ import annotations

import argparse
import sys

from loadtest import ablation

# Appended after the caller's arguments: argparse keeps an option's last value.
_FORCED = ["--host", "127.0.0.1", "--workers", "1"]


def serve_argv(gateway_args: list[str]) -> list[str]:
    """The gateway's command line with the loopback host and the single worker forced."""
    if not gateway_args or gateway_args[0] != "serve":
        raise SystemExit("usage: python -m loadtest.ablated_gateway --without PARTS serve ...")
    return [*gateway_args, *_FORCED]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", required=True, help=f"parts: {', '.join(ablation.PARTS)}")
    args, rest = parser.parse_known_args(argv)
    parts = [part for part in args.without.split(",") if part]
    if not parts:
        parser.error("--without names at least one part")
    ablation.apply(parts)  # before the gateway builds its app; raises on an unknown part
    print(
        f"ablated gateway: {', '.join(parts)} replaced by stand-ins; for measuring only",
        file=sys.stderr,
        flush=True,
    )
    from gateway.cli import main as gateway_main

    return gateway_main(serve_argv(rest))


if __name__ == "__main__":
    sys.exit(main())
