"""Compile tutorial_mc.pyx against the installed pyvanish (cimport only, nothing linked).

``build()`` returns the imported module; the compiled file is cached in ``build_dir``.
This is all a user needs: ``include_dirs=[pyvanish.get_include()]``.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent


def build(build_dir: str | os.PathLike | None = None, openmp: bool = True):
    """Cythonize and compile ``tutorial_mc.pyx`` into ``build_dir`` (a temporary directory by default); import it."""
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    import pyvanish

    out = pathlib.Path(build_dir) if build_dir else pathlib.Path(tempfile.mkdtemp(prefix="pyvanish-mc-"))
    out.mkdir(parents=True, exist_ok=True)
    flags = ["-fopenmp"] if openmp else []
    ext = Extension(
        "tutorial_mc",
        [str(HERE / "tutorial_mc.pyx")],
        include_dirs=[pyvanish.get_include()],
        extra_compile_args=["-O2", *flags],
        extra_link_args=flags,
    )
    # pyvanish/cython_kernels.pxd is found on sys.path for an installed pyvanish; the package's parent
    # directory covers an editable install too.
    pkg_parent = str(pathlib.Path(pyvanish.__file__).resolve().parent.parent)
    dist = Distribution({"ext_modules": cythonize([ext], include_path=[pkg_parent], quiet=True,
                                                  build_dir=str(out / "c")), "script_name": "setup.py"})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib, cmd.build_temp = str(out), str(out / "tmp")
    cmd.ensure_finalized()
    cmd.run()
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("tutorial_mc")
    finally:
        sys.path.remove(str(out))
