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
sys.path.insert(0, HERE)  # setuptools runs this file by path, not as part of a package
from cffi_build import build_in_place, cdef_text, source_path  # noqa: E402

HEADER = os.path.join(HERE, "quota_table.h")


def _arch_options() -> tuple[list[str], list[str]]:
    """Compile flags and libraries that make the 128-bit CAS a single instruction."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        # -mcx16 lets gcc inline `lock cmpxchg16b` for __sync_val_compare_and_swap.
        return ["-mcx16"], []
    # Elsewhere __atomic_compare_exchange_n on 16 bytes may go through libatomic.
    return [], ["atomic"]


def _builder(absolute_paths: bool) -> FFI:
    flags, libraries = _arch_options()
    builder = FFI()
    builder.cdef(cdef_text(HEADER))
    builder.set_source(
        "gateway._quota",
        '#include "quota_table.h"\n',
        sources=[source_path("quota_table.c", absolute_paths)],
        include_dirs=[HERE],
        libraries=libraries,
        # gnu11: unsigned __int128 is a GNU extension.
        extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wextra", *flags],
    )
    return builder


ffibuilder = _builder(absolute_paths=False)

if __name__ == "__main__":
    print(build_in_place(_builder(True), "_quota", "cffi-quota", verbose="-v" in sys.argv))
