"""Build the Cython kernels under engine/ as extensions of the `tracecode` package.

Everything else (metadata, dependencies) lives in pyproject.toml. Set
TRACECODE_CYTHON_TRACE=1 to build with line tracing for profiling and coverage.
"""
import os
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

ROOT = Path(__file__).parent
ENGINE = ROOT / "engine"
TRACE = os.environ.get("TRACECODE_CYTHON_TRACE") == "1"


def cython_include_dir():
    """A folder where engine/ is visible as tracecode/, so .pyx files cimport tracecode.*."""
    shim = ROOT / "build" / "cython-include"
    link = shim / "tracecode"
    shim.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(ENGINE.resolve(), target_is_directory=True)
    return str(shim)


def extensions():
    exts = []
    for pyx in sorted(ENGINE.rglob("*.pyx")):
        rel = pyx.relative_to(ENGINE).with_suffix("")
        name = ".".join(("tracecode",) + rel.parts)
        exts.append(
            Extension(
                name,
                [str(pyx.relative_to(ROOT))],
                include_dirs=[numpy.get_include()],
                # -O2 measured faster than -O3 on this kind of machine for these loops.
                extra_compile_args=["-O2", "-Wno-unused-function"],
                define_macros=[("CYTHON_TRACE_NOGIL", "1")] if TRACE else [],
            )
        )
    return exts


setup(
    ext_modules=cythonize(
        extensions(),
        include_path=[cython_include_dir()],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
            "linetrace": TRACE,
        },
    ),
)
