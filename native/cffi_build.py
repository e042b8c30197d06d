"""What both cffi build scripts share: the cdef from a header, source paths, in-place builds.

Each header is the single source of its declarations: the compiler reads all of it and cffi's
cdef reads the part between the ``/* CDEF BEGIN */`` and ``/* CDEF END */`` markers.
"""

from __future__ import annotations

import glob
import os
import shutil

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cdef_text(header: str) -> str:
    """The declarations between the CDEF markers of ``header``."""
    with open(header, encoding="utf-8") as f:
        text = f.read()
    try:
        start = text.index("/* CDEF BEGIN */") + len("/* CDEF BEGIN */")
        end = text.index("/* CDEF END */")
    except ValueError as exc:
        raise SystemExit(f"{header}: CDEF BEGIN/END markers missing") from exc
    return text[start:end]


def source_path(name: str, absolute: bool) -> str:
    """``native/<name>``; relative to the working directory unless ``absolute``
    (setuptools wants sources relative to the project root it runs from)."""
    source = os.path.join(HERE, name)
    return source if absolute else os.path.relpath(source, os.getcwd())


def build_in_place(builder: FFI, module: str, scratch: str, verbose: bool) -> str:
    """Compile in ``build/<scratch>`` and copy only the module next to gateway/__init__.py."""
    os.chdir(ROOT)
    built = builder.compile(tmpdir=os.path.join("build", scratch), verbose=verbose)
    for old in glob.glob(os.path.join("gateway", f"{module}.*.so")):
        os.remove(old)
    target = os.path.join("gateway", os.path.basename(built))
    shutil.copy2(built, target)
    return target
