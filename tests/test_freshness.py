"""The guard that keeps the tests from testing a stale build (tests/freshness.py)."""
from __future__ import annotations

import importlib.machinery
import os
import shutil
import time

import pytest

import freshness

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    engine, bindings, proto = tmp_path / "engine", tmp_path / "bindings", tmp_path / "proto"
    for d in (engine / "kern", bindings, proto / "tracecode" / "v1"):
        d.mkdir(parents=True)
    (engine / "__init__.py").write_text("")
    (engine / "kern" / "defs.pxd").write_text("cdef int f(int x) nogil\n")
    (engine / "kern" / "fast.pyx").write_text("from tracecode.kern.defs cimport f\n")
    (engine / "kern" / "other.pyx").write_text("x = 1\n")
    (bindings / "client.py").write_text("")
    (proto / "tracecode" / "v1" / "api.proto").write_text("")
    (bindings / "api_pb2.py").write_text("")
    for name in ("fast", "other"):
        (engine / "kern" / (name + SUFFIX)).write_bytes(b"")
    for name, value in (("ROOT", tmp_path), ("ENGINE", engine), ("BINDINGS", bindings),
                        ("PROTO", proto)):
        monkeypatch.setattr(freshness, name, value)
    age(tmp_path, 100)
    for built in (engine / "kern" / ("fast" + SUFFIX), engine / "kern" / ("other" + SUFFIX),
                  bindings / "api_pb2.py"):
        os.utime(built)
    return tmp_path


def touch(path):
    """An edit after the build (file times tick coarsely: a plain utime can tie the build's)."""
    later = time.time() + 10
    os.utime(path, (later, later))


def age(root, seconds):
    for path in root.rglob("*"):
        st = path.stat()
        os.utime(path, (st.st_atime - seconds, st.st_mtime - seconds))


def test_a_fresh_build_in_place_is_not_stale(tree):
    assert freshness.stale(tree / "engine") is None


def test_a_pyx_or_a_pxd_it_cimports_edited_after_the_build(tree):
    touch(tree / "engine" / "kern" / "defs.pxd")
    assert "engine/kern/defs.pxd changed after" in freshness.stale(tree / "engine")


def test_a_pxd_no_module_uses_does_not_count(tree):
    (tree / "engine" / "kern" / "unused.pxd").write_text("")
    assert freshness.stale(tree / "engine") is None


def test_an_uncompiled_module_and_an_edited_proto(tree):
    (tree / "engine" / "kern" / ("other" + SUFFIX)).unlink()
    assert "other.pyx is not compiled" in freshness.stale(tree / "engine")
    (tree / "engine" / "kern" / ("other" + SUFFIX)).write_bytes(b"")
    touch(tree / "proto" / "tracecode" / "v1" / "api.proto")
    assert "api.proto changed after its stubs" in freshness.stale(tree / "engine")


def test_an_installed_copy_must_match_the_tree(tree, tmp_path_factory):
    site = tmp_path_factory.mktemp("site") / "tracecode"
    shutil.copytree(tree / "engine", site, ignore=shutil.ignore_patterns("*.pyx", "*.pxd"))
    shutil.copytree(tree / "bindings", site / "v1")
    assert freshness.stale(site) is None
    (tree / "bindings" / "client.py").write_text("edited = True\n")
    assert "differs from this tree at bindings/client.py" in freshness.stale(site)
