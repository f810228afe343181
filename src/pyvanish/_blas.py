"""Load OpenBLAS (the scipy-openblas32 package) before the compiled core.

The compiled core (the extension module) links ``libscipy_openblas`` (its NEEDED entry names the
library by soname). A wheel finds it through the extension's RPATH
(``$ORIGIN/../scipy_openblas32/lib``); loading it here first makes the import
work whatever the layout (editable installs, Windows, where the DLL directory
is added too): the dynamic loader then finds the library already loaded.

OpenBLAS chooses its kernel core once, when it is loaded, from the CPU or the
``OPENBLAS_CORETYPE`` environment variable. So that ``PYVANISH_SIMD=avx2``
(or ``generic``) means the same instruction set for the BLAS, this module sets
``OPENBLAS_CORETYPE`` for the load only (``Haswell`` for ``avx2``,
``Prescott`` for ``generic``, on x86-64) unless the user set it, and
``OPENBLAS_NUM_THREADS=1`` unless set (pyvanish runs OpenBLAS on one thread:
its own threads split the large products). Both are restored afterwards. The
core is fixed for the process: :func:`pyvanish.kernels.set_simd_path` changes
pyvanish's kernels only. If another module loaded scipy-openblas32 first, its
choice stands.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

CORETYPE_FOR_SIMD = {"avx2": "Haswell", "generic": "Prescott"}


def _coretype_wanted() -> str | None:
    if "OPENBLAS_CORETYPE" in os.environ:
        return None
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    simd = os.environ.get("PYVANISH_SIMD") or os.environ.get("PYVANISH_GEMM_PATH")
    return CORETYPE_FOR_SIMD.get(simd or "")


def _load() -> tuple[str, ctypes.CDLL]:
    overrides = {"OPENBLAS_NUM_THREADS": "1"} if "OPENBLAS_NUM_THREADS" not in os.environ else {}
    core = _coretype_wanted()
    if core is not None:
        overrides["OPENBLAS_CORETYPE"] = core
    for key, value in overrides.items():
        os.environ[key] = value
    try:
        import scipy_openblas32  # loads the library (RTLD_GLOBAL); adds the DLL directory on Windows

        lib_dir = scipy_openblas32.get_lib_dir()
        if sys.platform == "win32":
            names = [n for n in os.listdir(lib_dir) if n.endswith(".dll")]
            os.add_dll_directory(lib_dir)
        else:
            names = [n for n in os.listdir(lib_dir) if n.startswith("libscipy_openblas")]
        if not names:
            raise ImportError(f"pyvanish: no OpenBLAS library in {lib_dir} (reinstall scipy-openblas32)")
        path = os.path.join(lib_dir, sorted(names)[0])
        return path, ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    finally:
        for key in overrides:
            del os.environ[key]


LIBRARY_PATH, _LIB = _load()
