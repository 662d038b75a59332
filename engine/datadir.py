"""A data directory: the master key, custom schemes and the LMDB index.

    DIR/master.key     32 random bytes, mode 0600 (see keys.py)
    DIR/schemes/       optional *.toml / *.json scheme definitions
    DIR/index/         the LMDB environment
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import schemes as _schemes
from .errors import KeyStoreError
from .index import Counters, open_env
from .issuance import Issuer
from .keys import create_master_key, load_master_key

SCHEMES_README = """\
Put scheme definitions here (*.toml or *.json), one scheme per file.
Start from a copy of a built-in one: `tracecode schemes --show generic`.
"""


@dataclass(frozen=True)
class Batch:
    """Counters reserved for one product: codes start .. start+count-1."""
    issuer: Issuer
    start: int
    count: int

    def codes(self, render: str = "bare", attributes: dict | None = None):
        return self.issuer.codes(self.start, self.count, render, attributes)

    def write(self, f, render: str = "bare", attributes: dict | None = None, **kw) -> int:
        return self.issuer.write(f, self.start, self.count, render, attributes, **kw)


class DataDir:
    """An initialised data directory; open it with ``tracecode.open(DIR)``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise KeyStoreError(f"{self.path} is not a data directory; run `tracecode init {path}`")
        self.master_key = load_master_key(self.path)
        custom = self.path / "schemes"
        self.schemes = (_schemes.load_dir(custom, base=_schemes.builtin())
                        if custom.is_dir() else dict(_schemes.builtin()))
        self._env = None
        self._counters = None
        self._issuers: dict = {}

    @classmethod
    def init(cls, path: str | Path) -> "DataDir":
        """Create a data directory with a fresh master key. Refuses to reuse one."""
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            raise KeyStoreError(f"{path} exists and is not empty; refusing to initialise it")
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        create_master_key(path)
        (path / "schemes").mkdir(mode=0o700)
        (path / "schemes" / "README.txt").write_text(SCHEMES_README)
        dd = cls(path)
        dd.counters  # create the index now, so a bad location fails at init
        return dd

    def __repr__(self):
        return f"DataDir({str(self.path)!r})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = self._counters = None

    @property
    def counters(self) -> Counters:
        if self._counters is None:
            self._env = open_env(self.path / "index")
            self._counters = Counters(self._env)
        return self._counters

    def scheme(self, name: str):
        return _schemes.get(name, self.schemes)

    def issuer(self, scheme: str, product: dict) -> Issuer:
        """The (cached) issuer of one product of a scheme."""
        sch = self.scheme(scheme)
        norm = sch.product_values(product)
        key = (sch.name, sch.product_key(norm))
        if key not in self._issuers:
            self._issuers[key] = Issuer(sch, norm, self.master_key)
        return self._issuers[key]

    def issue(self, scheme: str, product: dict, count: int) -> Batch:
        """Durably reserve `count` fresh counters for a product and return the batch.

        The reservation is committed before this returns, so the codes may
        leave the engine; a retry after a crash gets new counters, never reused ones.
        """
        iss = self.issuer(scheme, product)
        start = self.counters.reserve(iss.scheme.name, iss.product_key, count, iss.capacity)
        return Batch(iss, start, count)

    def issued(self, scheme: str, product: dict) -> int:
        iss = self.issuer(scheme, product)
        return self.counters.issued(iss.scheme.name, iss.product_key)


def init(path: str | Path) -> DataDir:
    return DataDir.init(path)


def open(path: str | Path) -> DataDir:  # noqa: A001 - mirrors lmdb.open / io.open
    return DataDir(path)
