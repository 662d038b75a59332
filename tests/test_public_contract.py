"""What the package promises its callers beyond behaviour: every error it raises on purpose is a
TracecodeError, and it is typed (py.typed, a .pyi beside every compiled extension)."""
from __future__ import annotations

import importlib
import importlib.machinery
import inspect
import pkgutil
from pathlib import Path

import pytest

import tracecode
import tracecode.serve
import tracecode.v1
import tracecode.web
from tracecode.errors import TracecodeError

PACKAGE = Path(tracecode.__file__).parent


# Each package from its own folder: an editable install maps them apart (engine/, bindings/,
# web/, serve/), an installed copy nests them, so names are taken once.
ROOTS = (tracecode, tracecode.v1, tracecode.web, tracecode.serve)


def _modules():
    names = {info.name for root in ROOTS
             for info in pkgutil.walk_packages(root.__path__, root.__name__ + ".")}
    for name in sorted(names):
        if name.endswith("__main__") or name.endswith("_pb2") or name.endswith("_pb2_grpc"):
            continue
        yield importlib.import_module(name)


def test_every_public_error_is_a_tracecode_error():
    outside = [f"{mod.__name__}.{name}" for mod in _modules()
               for name, obj in vars(mod).items()
               if inspect.isclass(obj) and issubclass(obj, Exception)
               and not issubclass(obj, Warning) and obj.__module__ == mod.__name__
               and not name.startswith("_") and not issubclass(obj, TracecodeError)]
    assert outside == []


def _extensions():
    """The compiled modules as installed (the .pyx sources are not installed, the .so are)."""
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*")
                  if any(p.name.endswith(s) for s in suffixes))


def test_the_extensions_are_found():
    assert len(_extensions()) >= 8


@pytest.mark.parametrize("extension", _extensions())
def test_every_extension_has_a_type_stub(extension):
    path = PACKAGE / extension
    assert path.with_name(path.name.split(".")[0] + ".pyi").is_file()


def test_the_package_says_it_is_typed():
    assert (PACKAGE / "py.typed").is_file()
