"""Run the doctest examples of the installed package's modules.

Collected here rather than with --doctest-modules on engine/, because the
compiled kernels live in the installed package, not in the source tree.
"""
import doctest
import importlib
import pkgutil

import pytest

import tracecode
import tracecode.serve
import tracecode.web

# tracecode.web and tracecode.serve live outside engine/ (pyproject's package-dir): walked apart
PACKAGES = [(tracecode.__path__, "tracecode."), (tracecode.web.__path__, "tracecode.web."),
            (tracecode.serve.__path__, "tracecode.serve.")]
MODULES = sorted({m.name for path, prefix in PACKAGES for m in pkgutil.walk_packages(path, prefix)
                  if not m.name.endswith("__main__")})


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
