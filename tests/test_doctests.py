"""Run the doctest examples of the installed package's modules.

Collected here rather than with --doctest-modules on engine/, because the
compiled kernels live in the installed package, not in the source tree.
"""
import doctest
import importlib
import pkgutil

import pytest

import tracecode

MODULES = sorted(m.name for m in pkgutil.walk_packages(tracecode.__path__, "tracecode.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
