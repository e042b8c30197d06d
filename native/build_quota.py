"""cffi (API mode) build script for ``gateway._quota``, the shared-memory quota table.

Used by ``setup.py`` via ``cffi_modules`` (``"native/build_quota.py:ffibuilder"``); also
runnable directly (``python native/build_quota.py``) to build the module in place.
Declarations live only in ``native/quota_table.h``: the compiler reads the whole header
and cffi's cdef reads the part between the CDEF markers. No OpenSSL is needed.
"""

from __future__ import annotations

import os
import platform
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HEADER = os.path.join(HERE, "quota_table.h")


def _cdef_text() -> str:
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    try:
        start = text.index("/* CDEF BEGIN */") + len("/* CDEF BEGIN */")
        end = text.index("/* CDEF END */")
    except ValueError as exc:
        raise SystemExit(f"{HEADER}: CDEF BEGIN/END markers missing") from exc
    return text[start:end]


def _arch_options() -> tuple[list[str], list[str]]:
    """Compile flags and libraries that make the 128-bit CAS a single instruction."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        # -mcx16 lets gcc inline `lock cmpxchg16b` for __sync_val_compare_and_swap.
        return ["-mcx16"], []
    # Elsewhere __atomic_compare_exchange_n on 16 bytes may go through libatomic.
    return [], ["atomic"]


def _builder(absolute_paths: bool) -> FFI:
    source = os.path.join(HERE, "quota_table.c")
    if not absolute_paths:
        # setuptools wants sources relative to the project root it runs from.
        source = os.path.relpath(source, os.getcwd())
    flags, libraries = _arch_options()
    builder = FFI()
    builder.cdef(_cdef_text())
    builder.set_source(
        "gateway._quota",
        '#include "quota_table.h"\n',
        sources=[source],
        include_dirs=[HERE],
        libraries=libraries,
        # gnu11: unsigned __int128 is a GNU extension.
        extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wextra", *flags],
    )
    return builder


ffibuilder = _builder(absolute_paths=False)

if __name__ == "__main__":
    # Build in a scratch dir and copy only the module next to gateway/__init__.py.
    import glob
    import shutil

    os.chdir(ROOT)
    built = _builder(absolute_paths=True).compile(
        tmpdir=os.path.join("build", "cffi-quota"), verbose="-v" in sys.argv
    )
    for old in glob.glob(os.path.join("gateway", "_quota.*.so")):
        os.remove(old)
    shutil.copy2(built, os.path.join("gateway", os.path.basename(built)))
    print(os.path.join("gateway", os.path.basename(built)))
    sys.exit(0)
