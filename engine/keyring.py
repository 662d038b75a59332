"""The master-key versions of a data directory: which exist, which is current, which are retired.

    DIR/keys.json        {"suite": "aes"|"sm", "current": N, "versions": [{version, file,
                          created, fingerprint, retired: null | {at, codes: warn|refuse}}]}
    DIR/master.key       version 1 (every directory made before versions existed has only it)
    DIR/master.vN.key    version N, made by `tracecode key rotate`

New batches use the current version and record it (BatchRecord.key_version); codes of
older versions keep verifying under their own version's keys. A retired version is one
thought compromised: it is never current again, so its unissued counters are never
used, and its codes verify with a warning or are refused (``codes``), as the operator
chose. A directory without keys.json is version 1 of the suite its stamp names (aes).

keys.json holds no key material: fingerprints only. It is rewritten atomically, under
DIR/keys.lock, so two rotations at once make two versions, never one lost.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .errors import KeyStoreError
from .keys import MASTER_KEY_FILE, Key, create_master_key, load_master_key, suite as _suite
from .keywrap import WRAPPED_SUFFIX, Token, read_wrapped, remove_clear
from .store.lmdb.durable import write_atomically

NAME = "keys.json"
LOCK = "keys.lock"
RETIRED_CODES = ("warn", "refuse")
REFRESH_SECONDS = 1.0


def key_file(version: int) -> str:
    return MASTER_KEY_FILE if version == 1 else f"master.v{version}.key"


@dataclass(frozen=True)
class Version:
    version: int
    file: str
    created: str | None = None
    fingerprint: str | None = None
    retired: dict | None = None      # {"at": ISO time, "codes": "warn" | "refuse"}
    backup_fingerprint: str | None = None   # version 1 wrapped: master.key's fingerprint (backup.py)

    @property
    def state(self) -> str:
        return f"retired ({self.retired['codes']})" if self.retired else "active"


def _write_new(path: Path, blob: dict) -> None:
    """A wrapped key file, mode 0600, never over another."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(blob, indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class Keyring:
    """A data directory's master-key versions; keys are read from their files when first used."""

    def __init__(self, datadir: Path, suite: str, current: int, versions: dict, stamp=None, hsm=None):
        self.datadir = Path(datadir)
        self.hsm = hsm                    # a keywrap.Token when the keys are wrapped by an HSM
        self.suite = _suite(suite)
        self.current = current
        self.versions = versions          # version number -> Version
        self._keys: dict = {}             # version -> Key, read once
        self._stamp = stamp               # keys.json's (mtime_ns, size) when read
        self._file = os.fspath(self.datadir / NAME)   # for changed(), asked on every single verify
        self._looked = time.monotonic()

    @property
    def _retired(self) -> dict:
        return {v: i.retired["codes"] for v, i in self.versions.items() if i.retired}

    def __repr__(self):
        return f"Keyring({self.suite.name}, current v{self.current}, {len(self.versions)} versions)"

    # -- reading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, datadir, *, suite: str | None = None) -> "Keyring":
        """The directory's keyring; without keys.json, version 1 of ``suite`` (default aes)."""
        datadir = Path(datadir)
        path = datadir / NAME
        try:
            st = path.stat()
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(datadir, suite or "aes", 1, {1: Version(1, MASTER_KEY_FILE)})
        try:
            doc = json.loads(raw)
            versions = {int(v["version"]): Version(**v) for v in doc["versions"]}
            current = int(doc["current"])
            name = doc["suite"]
            hsm = Token.from_dict(doc["hsm"]) if doc.get("hsm") else None
        except (ValueError, KeyError, TypeError):
            raise KeyStoreError(f"{path} is damaged (not the JSON tracecode wrote); restore it "
                                f"from a backup of this data directory") from None
        if current not in versions:
            raise KeyStoreError(f"{path} names current version {current}, which it does not list")
        return cls(datadir, name, current, versions, (st.st_mtime_ns, st.st_size), hsm)

    def changed(self) -> bool:
        """keys.json was rewritten since this keyring read it (another process rotated)."""
        try:
            st = os.stat(self._file)
        except FileNotFoundError:
            return self._stamp is not None
        return (st.st_mtime_ns, st.st_size) != self._stamp

    def current_now(self) -> int:
        """The current version as keys.json says now: read again when another process rewrote it."""
        if self.changed():
            self.reload()
        return self.current

    def reload(self) -> None:
        """Read keys.json again (keys already read stay: a version's key never changes)."""
        fresh = Keyring.load(self.datadir, suite=self.suite.name)
        if fresh.suite != self.suite:
            raise KeyStoreError(f"{self.datadir / NAME} now names cipher suite {fresh.suite.name!r}, "
                                f"not {self.suite.name!r}: refusing to mix suites")
        self.current, self.versions, self._stamp = fresh.current, fresh.versions, fresh._stamp
        self.hsm = fresh.hsm

    def _aad(self, version: int) -> bytes:
        """What a wrapped key is bound to: its version and the suite."""
        return f"tracecode master key v{version} {self.suite.name}".encode()

    def key(self, version: int | None = None) -> Key:
        """The master key of a version (the current one by default)."""
        version = self.current if version is None else version
        hit = self._keys.get(version)
        if hit is None:
            if version not in self.versions and self.changed():
                self.reload()   # a version another process made since
            info = self.versions.get(version)
            if info is None:
                raise KeyStoreError(f"{self.datadir} has no master-key version {version} "
                                    f"(versions: {', '.join(map(str, sorted(self.versions)))})")
            if info.file.endswith(WRAPPED_SUFFIX):
                if self.hsm is None:
                    raise KeyStoreError(f"{self.datadir / info.file} is wrapped but {self.datadir / NAME} "
                                        f"names no HSM token; restore keys.json from a backup")
                raw = self.hsm.unwrap(read_wrapped(self.datadir / info.file), self._aad(version))
            else:
                raw = bytes(load_master_key(self.datadir, info.file))
            hit = Key(raw, self.suite, version)
            if info.fingerprint and hit.fingerprint() != info.fingerprint:
                raise KeyStoreError(f"{self.datadir / info.file} is not master-key version "
                                    f"{version} (fingerprint {info.fingerprint}); put its own file back")
            self._keys[version] = hit   # cached only once checked: a wrong file never sticks
        return hit

    def retired_now(self) -> dict:
        """{version: "warn" | "refuse"} of the retired versions, keys.json looked at again at most
        once a second (a long-running server sees another process's retirement within a second)."""
        now = time.monotonic()
        if now - self._looked >= REFRESH_SECONDS:
            self._looked = now
            if self.changed():
                self.reload()
        return self._retired

    def retired(self, version: int) -> str | None:
        """"warn" or "refuse" for a retired version's codes, None for an active one."""
        info = self.versions.get(version)
        return info.retired["codes"] if info is not None and info.retired else None

    # -- writing ---------------------------------------------------------------------------
    @classmethod
    def create(cls, datadir, suite: str = "aes") -> "Keyring":
        """A new directory's keyring: version 1 in master.key, keys.json naming the suite."""
        datadir = Path(datadir)
        _suite(suite)  # an unknown suite is refused before any file is made
        create_master_key(datadir)
        ring = cls(datadir, suite, 1, {1: Version(1, MASTER_KEY_FILE, _now())})
        ring.versions[1] = replace(ring.versions[1], fingerprint=ring.key(1).fingerprint())
        ring._save()
        return ring

    def _save(self) -> None:
        doc = {"suite": self.suite.name, "current": self.current,
               "versions": [asdict(self.versions[v]) for v in sorted(self.versions)]}
        if self.hsm is not None:
            doc["hsm"] = self.hsm.to_dict()
        path = self.datadir / NAME
        write_atomically(path, json.dumps(doc, indent=1).encode() + b"\n")
        os.chmod(path, 0o600)
        st = path.stat()
        self._stamp = (st.st_mtime_ns, st.st_size)

    @contextmanager
    def _locked(self):
        """The keyring re-read under DIR/keys.lock: changes start from what is on disk."""
        fd = os.open(self.datadir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.reload()
            yield
        finally:
            os.close(fd)

    def rotate(self) -> Version:
        """Start a new master-key version and make it current; returns it."""
        with self._locked():
            return self._rotate()

    def _rotate(self) -> Version:
        version = max(self.versions) + 1
        name = key_file(version)
        if self.hsm is not None:   # born wrapped: the new key is never written in clear
            name += WRAPPED_SUFFIX
            raw = os.urandom(32)
            _write_new(self.datadir / name, self.hsm.wrap(raw, self._aad(version)))
            self._keys[version] = Key(raw, self.suite, version)
        else:
            create_master_key(self.datadir, name)
        info = Version(version, name, _now())
        self.versions[version] = info
        info = self.versions[version] = replace(info, fingerprint=self.key(version).fingerprint())
        self.current = version
        self._save()
        return info

    def wrap(self, token: Token, *, create_key: bool = False) -> list[int]:
        """Wrap every clear master-key version with the token's key; each wrapped file is
        read back and unwrapped to the same key before keys.json names it, and only then are
        the clear files removed. Returns the versions wrapped now."""
        with self._locked():
            if self.hsm is not None and self.hsm != token:
                raise KeyStoreError(f"{self.datadir}'s keys are wrapped by {self.hsm.where()} already")
            done, clear = [], []
            for v in sorted(self.versions):
                info = self.versions[v]
                if info.file.endswith(WRAPPED_SUFFIX):
                    continue
                raw = bytes(self.key(v))
                name = info.file + WRAPPED_SUFFIX
                (self.datadir / name).unlink(missing_ok=True)   # a wrap that stopped half-way
                _write_new(self.datadir / name, token.wrap(raw, self._aad(v), create=create_key))
                if token.unwrap(read_wrapped(self.datadir / name), self._aad(v)) != raw:
                    raise KeyStoreError(f"{self.datadir / name} does not unwrap to master-key version "
                                        f"{v}; the clear key is kept")
                extra = {"backup_fingerprint": Key(raw).fingerprint()} if v == 1 else {}
                self.versions[v] = replace(info, file=name, **extra)
                clear.append(self.datadir / info.file)
                done.append(v)
            self.hsm = token
            self._save()
            for path in clear:
                remove_clear(path)
            for v in sorted(self.versions):   # a clear copy a stopped wrap left behind
                stale = self.datadir / key_file(v)
                if self.versions[v].file.endswith(WRAPPED_SUFFIX) and stale.exists():
                    remove_clear(stale)
            return done

    def retire(self, version: int, codes: str) -> tuple[Version, Version | None]:
        """Retire a version (its codes: warn or refuse). Retiring the current version first
        rotates, so no new batch uses it. Returns (the retired version, the new one or None)."""
        if codes not in RETIRED_CODES:
            raise KeyStoreError(f"--codes must be warn or refuse, got {codes!r}")
        with self._locked():
            info = self.versions.get(version)
            if info is None:
                raise KeyStoreError(f"{self.datadir} has no master-key version {version} "
                                    f"(versions: {', '.join(map(str, sorted(self.versions)))})")
            fresh = self._rotate() if version == self.current else None
            retired = self.versions[version] = replace(info, retired={"at": _now(), "codes": codes})
            self._save()
            return retired, fresh
