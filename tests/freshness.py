"""Tests test the code in this tree, or refuse to run.

`pip install .` copies engine/ and bindings/ into site-packages, so an edit made after it is
silently not tested; an editable install tests the tree's Python at once but its compiled
modules only after `python setup.py build_ext --inplace`. `stale()` names the first thing out
of step (README, "Contributing"); TRACECODE_ALLOW_STALE=1 runs anyway.
"""
from __future__ import annotations

import importlib.machinery
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE, BINDINGS, PROTO = ROOT / "engine", ROOT / "bindings", ROOT / "proto"
CIMPORT = re.compile(r'^\s*(?:from\s+([\w.]+)\s+cimport|cimport\s+([\w.]+)|cdef\s+extern\s+from\s+"([^"]+)")',
                     re.M)
COPIED = ("*.py", "*.toml", "*.pyi")
EDITABLE = "python setup.py build_ext --inplace"
REINSTALL = "pip install . again, or use the editable install (README, Contributing)"


def stale(package: Path) -> str | None:
    """Why the `tracecode` package at `package` does not match this tree, or None."""
    if package.resolve() == ENGINE.resolve():
        return _stale_in_place()
    return _stale_install(package)


def _extension_of(pyx: Path, folder: Path) -> Path | None:
    stem = pyx.stem
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = folder / (stem + suffix)
        if candidate.exists():
            return candidate
    return None


def _inputs(pyx: Path) -> set[Path]:
    """The .pyx and every .pxd / .h of ours it reaches through cimports and extern blocks."""
    seen, todo = set(), [pyx, pyx.with_suffix(".pxd")]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        if path.suffix == ".h":
            continue
        for dotted, plain, header in CIMPORT.findall(path.read_text()):
            if header:
                todo.append(path.parent / header)
                continue
            name = dotted or plain
            if name.startswith("tracecode."):
                todo.append(ENGINE.joinpath(*name.split(".")[1:]).with_suffix(".pxd"))
            elif name.startswith("."):
                todo.append(path.parent.joinpath(*name.lstrip(".").split(".")).with_suffix(".pxd"))
    return seen


def _changed_after(pyx: Path, built: Path) -> Path | None:
    newest = max(_inputs(pyx), key=lambda p: p.stat().st_mtime)
    return newest if newest.stat().st_mtime > built.stat().st_mtime else None


def _stale_in_place() -> str | None:
    for pyx in sorted(ENGINE.rglob("*.pyx")):
        built = _extension_of(pyx, pyx.parent)
        if built is None:
            return f"{pyx.relative_to(ROOT)} is not compiled: run `{EDITABLE}`"
        changed = _changed_after(pyx, built)
        if changed:
            return (f"{changed.relative_to(ROOT)} changed after {built.relative_to(ROOT)} was "
                    f"built: run `{EDITABLE}`")
    for proto in sorted(PROTO.rglob("*.proto")):
        stub = BINDINGS / f"{proto.stem}_pb2.py"
        if not stub.exists() or proto.stat().st_mtime > stub.stat().st_mtime:
            return f"{proto.relative_to(ROOT)} changed after its stubs were made: run `{EDITABLE}`"
    return None


def _stale_install(package: Path) -> str | None:
    for source, installed in ((ENGINE, package), (BINDINGS, package / "v1")):
        for pattern in COPIED:
            for mine in sorted(source.rglob(pattern)):
                rel = mine.relative_to(source)
                if rel.parts[0] in ("build", "__pycache__") or "_pb2" in mine.name:
                    continue
                theirs = installed / rel
                if not theirs.exists() or theirs.read_bytes() != mine.read_bytes():
                    return (f"the installed tracecode ({package}) differs from this tree at "
                            f"{mine.relative_to(ROOT)}: {REINSTALL}")
    for pyx in sorted(ENGINE.rglob("*.pyx")):
        built = _extension_of(pyx, package / pyx.parent.relative_to(ENGINE))
        if built is None:
            return f"the installed tracecode ({package}) has no compiled {pyx.stem}: {REINSTALL}"
        changed = _changed_after(pyx, built)
        if changed:
            return (f"{changed.relative_to(ROOT)} changed after the installed tracecode was "
                    f"built: {REINSTALL}")
    return None
