"""A data directory: the master key, custom schemes and the LMDB index.

    DIR/master.key     32 random bytes, mode 0600 (see keys.py): master-key version 1
    DIR/keys.json      the cipher suite and the master-key versions (keyring.py)
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
from .keys import suite as _suite
from .index.index import FORMAT
from .index import BatchRecord, Index
from .store.lmdb import lineage, stamp
from .store.lmdb import journal as _journal
from .store.lmdb.env import DAMAGED_PAGES, IndexReadOnly, open_env, run_write
from .store.lmdb.lmdbfile import IndexDamaged
from .issuance import Issuer
from .keyring import Keyring
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


STORE_VAR = "TRACECODE_STORE"   # `tracecode --store URL`: the index's PostgreSQL URL, for a command


class DataDir:
    """An initialised data directory; open it with ``tracecode.open(DIR)``."""

    def __init__(self, path: str | Path, *, crypto: str | None = None, store: str | None = None):
        """crypto: the cipher suite the caller expects ("aes", "sm"); another is refused.
        store: the index's PostgreSQL URL, overriding settings.toml's `store` (None: that,
        else the LMDB index in DIR/index)."""
        self.path = Path(path)
        if not self.path.is_dir():
            raise KeyStoreError(f"{self.path} is not a data directory; run `tracecode init {path}`")
        self.keyring = _keyring(self.path, crypto)
        self.master_key = self.keyring.key()   # the current version: new batches use it
        custom = self.path / "schemes"
        # A bad definition is listed and warned about; the other schemes keep working.
        self.scheme_errors: list = []
        self.schemes = (_schemes.load_dir(custom, base=_schemes.builtin(), errors=self.scheme_errors)
                        if custom.is_dir() else dict(_schemes.builtin()))
        for err in self.scheme_errors:
            warnings.warn(f"scheme not loaded: {err}", _schemes.DefinitionWarning, stacklevel=2)
        self.settings = _settings.load(self.path)
        self.schemes = _on_base_url(self.schemes, self.settings.base_url)
        self.store_url = store or os.environ.get(STORE_VAR) or self.settings.store
        self._env = None
        self._index = None
        self._registry = None

    @classmethod
    def init(cls, path: str | Path, *, base_url: str | None = None, crypto: str = "aes",
             store: str | None = None) -> "DataDir":
        """Create a data directory with a fresh master key. Refuses to reuse one.
        base_url: the platform's public address (settings.py), checked before anything is made;
        crypto: the cipher suite, "aes" (AES-256, SHA-256) or "sm" (SM4, SM3), for good."""
        path = Path(path)
        settings = _settings.Settings(base_url=base_url, store=store)
        _suite(crypto)
        if path.exists() and any(path.iterdir()):
            raise KeyStoreError(f"{path} exists and is not empty; refusing to initialise it")
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        Keyring.create(path, crypto)
        (path / "schemes").mkdir(mode=0o700)
        (path / "schemes" / "README.txt").write_text(SCHEMES_README)
        if settings.base_url or settings.store:
            _settings.save(path, settings)
        dd = cls(path)
        dd._create_index()
        return dd

    def _create_index(self) -> None:
        """The index, its uuid inside it, the journal, then the stamp (last: a crash
        before it leaves an index that the next open adopts)."""
        if self.store_url:   # the index in PostgreSQL (store/postgres/pgdir.py)
            from .store.postgres import pgdir
            self._index = pgdir.create(self, self.store_url, Index, FORMAT)
            return
        env = open_env(self.path / "index")
        try:
            index = Index(env, self.schemes, self.master_key)
            uuid = stamp.new_uuid()
            end = _journal.create(self.path / _journal.NAME, uuid)

            def mark(txn):
                txn.put(stamp.UUID_KEY, uuid.encode(), db=index.batches.meta)
                txn.put(stamp.SUITE_KEY, self.keyring.suite.name.encode(), db=index.batches.meta)
                txn.put(lineage.JOURNAL_END, end.to_bytes(8, "big"), db=index.batches.meta)
            run_write(env, mark)
            stamp.write(self.path, uuid, FORMAT.decode(), crypto=self.keyring.suite.name)
            index.keyring = self.keyring
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
        if self._index is not None and self._env is None:   # a PostgreSQL index: no environment
            self._index.close()
            self._index = self._registry = None
        if self._index is not None:
            self._index.close()  # commits pending scans
            if self._index.batches.journal is not None:
                self._index.batches.journal.close()
            self._env.close()
            self._env = self._index = self._registry = None

    @property
    def readonly(self) -> bool:
        """The index cannot be written here (a read-only disk or directory)."""
        if self.store_url:
            return False   # a PostgreSQL index: the server refuses writes itself (IndexReadOnly)
        return not os.access(self.path / "index", os.W_OK)

    @property
    def index(self) -> Index:
        if self._index is None and self.store_url:   # the index in PostgreSQL (store/postgres/pgdir.py)
            from .store.postgres import pgdir
            self._index = pgdir.open_index(self, self.store_url, Index)
        if self._index is None:
            readonly = self.readonly
            hint = (f"restore this data directory's last backup (`tracecode restore BACKUP "
                    f"{self.path}`); a new index would issue the same codes again")
            env = open_env(self.path / "index", readonly=readonly, create=False,
                           restore_hint=hint)
            try:
                index = Index(env, self.schemes, self.master_key)
                index.keyring = self.keyring
                _index_suite(self.path, env, index, self.keyring.suite.name, readonly)
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
        is open here (LMDB opens an environment once per process: the open one is used).
        An index in PostgreSQL: pg_basebackup and the directory's files (store/postgres/backup.py)."""
        if self.store_url:
            from .store.postgres import backup as pg
            return pg.backup(self.path, self.store_url, dest, with_key=with_key)
        from .store.lmdb.backup import backup
        return backup(self.path, dest, with_key=with_key, env=self._env)

    def scheme(self, name: str):
        return _schemes.get(name, self.schemes)

    def issuer(self, scheme: str, product: dict, version: int | None = None) -> Issuer:
        """The (cached) issuer of one product of a scheme, under the current master-key
        version or the given one (a batch's: ``batch.record.key_version``)."""
        return self.index.issuer(self.scheme(scheme).name, product, version)

    def issue(self, scheme: str, product: dict, count: int, **details) -> Batch:
        """Durably reserve `count` fresh counters for a product and record the batch.

        details: lot, expiry, line, requester, attributes (GS1 expiry/lot...).
        The reservation is committed before this returns, so the codes may
        leave the engine; a retry after a crash gets new counters, never reused ones.
        """
        record = self.index.issue(self.scheme(scheme).name, product, count, **details)
        self.master_key = self.index.master_key   # the current version (a rotation moves it)
        return Batch(self.issuer(scheme, product, record.key_version), record)

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

    # -- codes others assigned (special equipment): registered, with their assets' steps --------
    def register(self, scheme: str, codes, *, owner: str, source: str = "-", numbers=None):
        """Register codes of an externally assigned scheme (a RegisterReport: how many,
        which lines were rejected and why); see tracecode.index.register."""
        from .index.register import register
        return register(self.index, scheme, codes, owner=owner, source=source, numbers=numbers)

    @property
    def assets(self):
        """The steps and verdicts of registered assets (tracecode.index.assets.Assets)."""
        from .index.assets import Assets
        from .index.licences import Licences
        if getattr(self, "_assets", None) is None:
            self._assets = Assets(self.index, licences=Licences(self.path))
        return self._assets

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
                          also=lambda write, record: store.link_batch_in(write, record.id, number, level))


def _keyring(path: Path, crypto: str | None) -> Keyring:
    """The directory's keyring, its suite checked against the stamp's and the caller's:
    a directory never mixes suites (codes of one would not verify under the other)."""
    try:
        claimed = (stamp.read(path) or {}).get("crypto")
    except stamp.StampError:
        claimed = None   # the index's open says what is wrong with it
    ring = Keyring.load(path, suite=claimed)
    if claimed is not None and claimed != ring.suite.name:
        raise KeyStoreError(f"{path / stamp.NAME} names cipher suite {claimed!r} but "
                            f"{path / 'keys.json'} names {ring.suite.name!r}: refusing to mix "
                            f"suites; restore this data directory's backup")
    if crypto is not None and _suite(crypto).name != ring.suite.name:
        raise KeyStoreError(f"{path} uses cipher suite {ring.suite.name!r}, not {crypto!r}: a data "
                            f"directory keeps the suite it was made with")
    return ring


def _index_suite(path: Path, env, index, name: str, readonly: bool) -> None:
    """The suite inside the index must be the keyring's; an index made before suites
    (none inside) is aes, and is marked so when writable."""
    with env.begin() as txn:
        raw = txn.get(stamp.SUITE_KEY, db=index.batches.meta)
    inner = raw.decode() if raw is not None else "aes"
    if inner != name:
        raise KeyStoreError(f"{path / 'index'} was made with cipher suite {inner!r}, but this data "
                            f"directory's keys are {name!r}: refusing to mix suites; restore this "
                            f"data directory's backup")
    if raw is None and not readonly:
        run_write(env, lambda txn: txn.put(stamp.SUITE_KEY, name.encode(), db=index.batches.meta))


def _on_base_url(schemes: dict, base_url: str | None) -> dict:
    """The schemes with Digital Link URIs on the platform's base URL: those that would
    point at id.gs1.org (the default) point at the platform; a scheme whose definition names
    another resolver keeps it (that choice is the scheme's own)."""
    if not base_url:
        return schemes
    return {name: replace(s, dl_base=base_url) if s.dl_base == _settings.GS1_RESOLVER else s
            for name, s in schemes.items()}


def init(path: str | Path, *, base_url: str | None = None, crypto: str = "aes",
         store: str | None = None) -> DataDir:
    """store: a postgresql:// URL to keep the index in (recorded in DIR/settings.toml)."""
    return DataDir.init(path, base_url=base_url, crypto=crypto, store=store)


def open(path: str | Path, *, crypto: str | None = None, store: str | None = None,  # noqa: A001 - mirrors io.open
         keys: str | Path | None = None) -> DataDir:
    """A data directory. open("postgresql://...", keys=DIR) is open(DIR, store=URL): the keys
    stay in DIR (or its HSM), the index is the database's."""
    if isinstance(path, str) and path.startswith(("postgresql://", "postgres://")):
        if keys is None:
            raise KeyStoreError("open a PostgreSQL store with keys=DIR: the data directory holding "
                                "its keys (master keys never go into the database)")
        path, store = keys, path
    return DataDir(path, crypto=crypto, store=store)
