"""Build the Cython kernels under engine/ as extensions of the `tracecode` package.

Also generates the gRPC stubs of proto/tracecode/v1/*.proto into bindings/ (the
package tracecode.v1) with grpcio-tools: they are build products, like the .c files,
and stay out of git. Running setup.py again (pip install, or
`python setup.py build_ext --inplace`) regenerates stubs older than their .proto.

Everything else (metadata, dependencies) lives in pyproject.toml. Set
TRACECODE_CYTHON_TRACE=1 to build with line tracing for profiling and coverage.
"""
import os
import shutil
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

ROOT = Path(__file__).parent
ENGINE = ROOT / "engine"
PROTO = ROOT / "proto"
BINDINGS = ROOT / "bindings"
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


def generate_stubs():
    """protoc over proto/ into bindings/. The proto path is proto/, so generated modules
    import each other as tracecode.v1.*, which is where setup installs bindings/."""
    protos = sorted((PROTO / "tracecode" / "v1").glob("*.proto"))
    outputs = [BINDINGS / (p.stem + suffix) for p in protos
               for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")]
    newest = max(p.stat().st_mtime for p in protos)
    if all(o.exists() and o.stat().st_mtime >= newest for o in outputs):
        return
    from grpc_tools import protoc
    import grpc_tools
    well_known = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/*.proto
    with tempfile.TemporaryDirectory() as tmp:
        args = ["protoc", f"--proto_path={PROTO}", f"--proto_path={well_known}",
                f"--python_out={tmp}", f"--pyi_out={tmp}", f"--grpc_python_out={tmp}"]
        if protoc.main(args + [str(p) for p in protos]) != 0:
            raise SystemExit("protoc failed on proto/ (see above)")
        for out in outputs:
            shutil.copyfile(Path(tmp, "tracecode", "v1", out.name), out)


generate_stubs()
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
