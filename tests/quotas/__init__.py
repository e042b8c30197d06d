"""Tests of gateway.quotas; ``ensure_quota_module`` builds the native table in place if needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SOURCES = [
    ROOT / "native" / name
    for name in ("quota_table.c", "quota_table.h", "build_quota.py", "cffi_build.py")
]


def ensure_quota_module() -> None:
    """Build ``gateway._quota`` unless a build newer than its sources is already there."""
    built = sorted((ROOT / "gateway").glob("_quota.*.so"))
    newest_source = max(path.stat().st_mtime for path in _SOURCES)
    if built and built[-1].stat().st_mtime >= newest_source:
        return
    subprocess.run(
        [sys.executable, str(ROOT / "native" / "build_quota.py")],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
