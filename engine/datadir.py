"""A data directory: the master key, custom schemes and the LMDB index.

    DIR/master.key     32 random bytes, mode 0600 (see keys.py)
    DIR/schemes/       optional *.toml / *.json scheme definitions
    DIR/index/         the LMDB environment
    DIR/index.stamp    the index's identity (its uuid, also inside the LMDB environment)
    DIR/reservations.journal   every reservation's high-water mark, append-only (journal.py)
    DIR/settings.toml  optional: the public base URL (settings.py)

A data directory knows it has an index: one whose data.mdb is missing, empty
or truncated is refused (restore a backup), never recreated at counter 0.
On a read-only disk it opens read-only: verification without recording works,
anything that writes is a clear IndexReadOnly.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from . import schemes as _schemes
from . import settings as _settings
from .errors import KeyStoreError
from .index.index import FORMAT
from .index import BatchRecord, Index
from .store.lmdb import lineage, stamp
from .store.lmdb import journal as _journal
from .store.lmdb.env import DAMAGED_PAGES, IndexReadOnly, open_env, run_write
from .store.lmdb.lmdbfile import IndexDamaged
from .issuance import Issuer
from .keys import create_master_key, load_master_key
from .registry import Registry

SCHEMES_README = """\
Put scheme definitions here (*.toml or *.json), one scheme per file.
Start from a copy of a built-in one: `tracecode schemes --show generic`.
"""


@dataclass(frozen=True)
class Batch:
    """A batch: counters reserved for one product, codes start .. start+count-1."""
    issuer: Issuer
    record: BatchRecord

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def start(self) -> int:
        return self.record.start

    @property
    def count(self) -> int:
        return self.record.count

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
        # A bad definition is listed and warned about; the other schemes keep working.
        self.scheme_errors: list = []
        self.schemes = (_schemes.load_dir(custom, base=_schemes.builtin(), errors=self.scheme_errors)
                        if custom.is_dir() else dict(_schemes.builtin()))
        for err in self.scheme_errors:
            warnings.warn(f"scheme not loaded: {err}", _schemes.DefinitionWarning, stacklevel=2)
        self.settings = _settings.load(self.path)
        self.schemes = _on_base_url(self.schemes, self.settings.base_url)
        self._env = None
        self._index = None
        self._registry = None

    @classmethod
    def init(cls, path: str | Path, *, base_url: str | None = None) -> "DataDir":
        """Create a data directory with a fresh master key. Refuses to reuse one.
        base_url: the platform's public address (settings.py), checked before anything is made."""
        path = Path(path)
        settings = _settings.Settings(base_url=base_url)
        if path.exists() and any(path.iterdir()):
            raise KeyStoreError(f"{path} exists and is not empty; refusing to initialise it")
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        create_master_key(path)
        (path / "schemes").mkdir(mode=0o700)
        (path / "schemes" / "README.txt").write_text(SCHEMES_README)
        if settings.base_url:
            _settings.save(path, settings)
        dd = cls(path)
        dd._create_index()
        return dd

    def _create_index(self) -> None:
        """The index, its uuid inside it, the journal, then the stamp (last: a crash
        before it leaves an index that the next open adopts)."""
        env = open_env(self.path / "index")
        try:
            index = Index(env, self.schemes, self.master_key)
            uuid = stamp.new_uuid()
            end = _journal.create(self.path / _journal.NAME, uuid)

            def mark(txn):
                txn.put(stamp.UUID_KEY, uuid.encode(), db=index.batches.meta)
                txn.put(lineage.JOURNAL_END, end.to_bytes(8, "big"), db=index.batches.meta)
            run_write(env, mark)
            stamp.write(self.path, uuid, FORMAT.decode())
            index.batches.journal = _journal.Writer(self.path / _journal.NAME)
        except BaseException:
            env.close()
            raise
        self._env, self._index = env, index

    def __repr__(self):
        return f"DataDir({str(self.path)!r})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._index is not None:
            self._index.close()  # commits pending scans
            if self._index.batches.journal is not None:
                self._index.batches.journal.close()
            self._env.close()
            self._env = self._index = self._registry = None

    @property
    def readonly(self) -> bool:
        """The index cannot be written here (a read-only disk or directory)."""
        return not os.access(self.path / "index", os.W_OK)

    @property
    def index(self) -> Index:
        if self._index is None:
            readonly = self.readonly
            hint = (f"restore this data directory's last backup (`tracecode restore BACKUP "
                    f"{self.path}`); a new index would issue the same codes again")
            env = open_env(self.path / "index", readonly=readonly, create=False,
                           restore_hint=hint)
            try:
                index = Index(env, self.schemes, self.master_key)
                index.batches.journal = lineage.attach(self.path, env, index.batches,
                                                       readonly=readonly)
            except DAMAGED_PAGES as exc:
                # pages inside the file are damaged (its meta pages were fine)
                env.close()
                raise IndexDamaged(f"{self.path / 'index' / 'data.mdb'} is damaged ({exc}); "
                                   f"{hint}") from None
            except BaseException:
                env.close()
                raise
            self._env, self._index = env, index
        return self._index

    def backup(self, dest: str | Path, *, with_key: bool = False) -> dict:
        """Back up this data directory to `dest` (see store/lmdb/backup.py), also while it
        is open here (LMDB opens an environment once per process: the open one is used)."""
        from .store.lmdb.backup import backup
        return backup(self.path, dest, with_key=with_key, env=self._env)

    def scheme(self, name: str):
        return _schemes.get(name, self.schemes)

    def issuer(self, scheme: str, product: dict) -> Issuer:
        """The (cached) issuer of one product of a scheme."""
        return self.index.issuer(self.scheme(scheme).name, product)

    def issue(self, scheme: str, product: dict, count: int, **details) -> Batch:
        """Durably reserve `count` fresh counters for a product and record the batch.

        details: lot, expiry, line, requester, attributes (GS1 expiry/lot...).
        The reservation is committed before this returns, so the codes may
        leave the engine; a retry after a crash gets new counters, never reused ones.
        """
        record = self.index.issue(self.scheme(scheme).name, product, count, **details)
        return Batch(self.issuer(scheme, product), record)

    def issued(self, scheme: str, product: dict) -> int:
        iss = self.issuer(scheme, product)
        return self.index.batches.issued(iss.scheme.name, iss.product_key)

    # -- the index's verbs, for convenience ----------------------------------------------------
    def verify(self, scan, **kw):
        return self.index.verify(scan, **kw)

    def verify_many(self, scans, offsets=None, **kw):
        return self.index.verify_many(scans, offsets, **kw)

    def apply(self, events, **kw):
        return self.index.apply(events, **kw)

    def history(self, code, *, scans: bool = True):
        return self.index.history(code, scans=scans)

    def contents(self, code):
        return self.index.contents(code)

    # -- product registries (veterinary approvals, pesticide registrations) -------------------
    @property
    def registry(self):
        """The product registries and the counterfeit check, in the index's environment."""
        if self._registry is None:
            try:
                self._registry = Registry(self.index)
            except IndexReadOnly:  # its databases were never made: read-only, there is none
                return None
        return self._registry

    def check(self, scan, **kw):
        """Every registry check on one scan (a RegistryAnswer); kw as verify."""
        return self.registry.check(scan, **kw)

    def check_many(self, scans, offsets=None, **kw):
        return self.registry.check_many(scans, offsets, **kw)

    def issue_approved(self, number: str, count: int, *, level: int = 1, date=None, spec=None,
                       production_type: str = "1", **details) -> Batch:
        """Issue codes under a registry approval valid today (or on ``date``, the code's
        application date): cn-vet-24 for the holder's enterprise, cn-pesticide-32 for the
        registration and a declared spec code. The batch and its link to the approval are
        one transaction: a crash or a full disk leaves neither."""
        scheme, product = self.registry.product_for(number, date=date, spec=spec,
                                                    production_type=production_type)
        number = self.registry.get(number).number   # the stored spelling
        store = self.registry.store
        return self.issue(scheme, product, count, **details,
                          also=lambda txn, record: store.put_link(txn, record.id, number, level))


def _on_base_url(schemes: dict, base_url: str | None) -> dict:
    """The schemes with Digital Link URIs on the platform's base URL: those that would
    point at id.gs1.org (the default) point at the platform; a scheme whose definition names
    another resolver keeps it (that choice is the scheme's own)."""
    if not base_url:
        return schemes
    return {name: replace(s, dl_base=base_url) if s.dl_base == _settings.GS1_RESOLVER else s
            for name, s in schemes.items()}


def init(path: str | Path, *, base_url: str | None = None) -> DataDir:
    return DataDir.init(path, base_url=base_url)


def open(path: str | Path) -> DataDir:  # noqa: A001 - mirrors lmdb.open / io.open
    return DataDir(path)
