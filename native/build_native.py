"""cffi (API mode) build script for ``gateway._native``.

Used by ``setup.py`` via ``cffi_modules``; also runnable directly
(``python native/build_native.py``) to build the module in place.
Declarations live only in ``native/gateway_native.h``: the compiler reads the
whole header and cffi's cdef reads the part between the CDEF markers.
"""

from __future__ import annotations

import os
import sys
import sysconfig

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # setuptools runs this file by path, not as part of a package
from cffi_build import build_in_place, cdef_text, source_path  # noqa: E402

HEADER = os.path.join(HERE, "gateway_native.h")


def _openssl_include_dirs() -> list[str]:
    """Honour OPENSSL_DIR, else rely on the compiler's default search path."""
    prefix = os.environ.get("OPENSSL_DIR")
    if prefix:
        return [os.path.join(prefix, "include")]
    return []


def _openssl_library_dirs() -> list[str]:
    prefix = os.environ.get("OPENSSL_DIR")
    if not prefix:
        return []
    dirs = (os.path.join(prefix, "lib64"), os.path.join(prefix, "lib"))
    return [d for d in dirs if os.path.isdir(d)]


def _check_openssl_headers() -> None:
    """Fail at build-script time, with the fix, rather than deep inside gcc output."""
    candidates = _openssl_include_dirs() or [
        "/usr/include",
        "/usr/local/include",
        sysconfig.get_config_var("INCLUDEDIR") or "/usr/include",
    ]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        candidates.append(os.path.join("/usr/include", multiarch))
    if not any(os.path.exists(os.path.join(d, "openssl", "evp.h")) for d in candidates):
        raise SystemExit(
            "gateway native core: OpenSSL 3 development headers (openssl/evp.h) not found "
            f"in {candidates}. Install them: `apt-get install libssl-dev` (Debian/Ubuntu), "
            "`dnf install openssl-devel` (Fedora/RHEL), or set OPENSSL_DIR to an OpenSSL 3 prefix."
        )


def _builder(absolute_paths: bool) -> FFI:
    builder = FFI()
    builder.cdef(cdef_text(HEADER))
    builder.set_source(
        "gateway._native",
        '#include "gateway_native.h"\n',
        sources=[
            source_path("gateway_native.c", absolute_paths),
            source_path("sigv4_check.c", absolute_paths),
            source_path("ecdsa_nonces.c", absolute_paths),
            source_path("ecdsa_worker.c", absolute_paths),
        ],
        include_dirs=[HERE, *_openssl_include_dirs()],
        library_dirs=_openssl_library_dirs(),
        libraries=["crypto"],
        # -pthread: ecdsa_nonces.c runs a filler thread, ecdsa_worker.c a signing thread.
        extra_compile_args=["-std=c99", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        extra_link_args=["-pthread"],
    )
    return builder


_check_openssl_headers()
ffibuilder = _builder(absolute_paths=False)

if __name__ == "__main__":
    build_in_place(_builder(True), "_native", "cffi", verbose=True)
