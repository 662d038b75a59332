"""The clients file: who may call a server, by bearer token hash or certificate name.

Clients are listed in a TOML file (``tracecode token add`` writes it) that holds
only SHA-256 hashes of bearer tokens, never a token:

    [[client]]
    name = "line-3"
    roles = ["issuer"]
    products = ["cn-drug-20:drug_id=8177322", "gs1-sgtin:gtin=0952123*"]
    token_sha256 = "9f86d081884c7d65..."   # or token_sm3 = "..." (GB/T 32905; `token add --hash sm3`)
    # certificate_cn = "line-3.plant.example"   # or: identified by its TLS client certificate

Roles: issuer (request codes and send events for its listed products only),
scanner (verify only), regulator (read everything, recall), admin (everything).
A product rule is a scheme, or a scheme and field values; a value ending in *
matches by prefix (a GS1 company prefix, say). The server re-reads the file when
it changes, so adding or revoking a client needs no restart.
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .. import limits
from .caller import LOCAL, PUBLIC, ROLES, Caller, ClientsFileError, ProductRule

# per-client entries the engine keeps for itself (the regulator page's logouts) are stored
# under client names of this prefix, which no clients file may give
RESERVED_PREFIX = "tracecode:"

__all__ = ["LOCAL", "ROLES", "Caller", "Clients", "ClientsFile", "ClientsFileError", "ProductRule",
           "new_token", "token_hash"]
log = logging.getLogger("tracecode.serve")
TOKEN_PREFIX = "tc_"


TOKEN_HASHES = ("sha256", "sm3")   # the field is token_<name>; sm3 for the sm cipher suite


def token_hash(token: str, digest: str = "sha256") -> str:
    """The hex hash a clients file keeps of a token: SHA-256, or SM3 (a data directory of the
    sm suite: GB/T 32905, through cryptography's OpenSSL)."""
    if digest == "sha256":
        return hashlib.sha256(token.encode()).hexdigest()
    if digest == "sm3":
        from ..keys import SUITES
        return SUITES["sm"].hash(token.encode())
    raise ValueError(f"token hash must be one of {', '.join(TOKEN_HASHES)}, got {digest!r}")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass
class ClientsFile:
    """The parsed file: callers by token hash and by certificate common name."""
    path: Path | None
    by_hash: dict = field(default_factory=dict)
    by_sm3: dict = field(default_factory=dict)     # callers by SM3 token hash
    by_cn: dict = field(default_factory=dict)
    entries: list = field(default_factory=list)   # raw tables, for rewriting

    @classmethod
    def load(cls, path) -> ClientsFile:
        path = Path(path)
        mode = path.stat().st_mode
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ClientsFileError(f"{path} is writable by others than its owner; "
                                   f"chmod go-w {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ClientsFileError(f"{path}: {exc}") from None
        except RecursionError:  # tomllib recurses: a hostile file nests 100,000 deep
            raise ClientsFileError(f"{path}: nested too deeply for a clients file") from None
        clients = data.get("client", [])
        if not isinstance(clients, list) or not all(isinstance(e, dict) for e in clients):
            raise ClientsFileError(f"{path}: 'client' must be [[client]] tables")
        out = cls(path)
        for n, entry in enumerate(clients, 1):
            out._add(entry, f"{path}: client {n}")
        return out

    def _add(self, entry: dict, where: str) -> None:
        name = entry.get("name")
        if not name or not isinstance(name, str):
            raise ClientsFileError(f"{where} has no name")
        # the name is stored (requester "<name> request <key>", scanner "<name>/<id>", event
        # ids and SSCCs are bound to it): bounded, and free of the separators it is read by
        if len(name.encode()) > limits.CLIENT_BYTES or not name.isprintable() or " " in name \
                or "/" in name:
            raise ClientsFileError(f"{where}: client name {name[:limits.CLIENT_BYTES]!r} must be 1 "
                                   f"to {limits.CLIENT_BYTES} bytes, printable, without spaces or '/'")
        if name == PUBLIC.name:   # the audit log and the scan records must tell it from the public
            raise ClientsFileError(f"{where}: the name {name!r} is the public window's")
        if name.startswith(RESERVED_PREFIX):   # the engine's own entries are kept under such names
            raise ClientsFileError(f"{where}: client names beginning {RESERVED_PREFIX!r} are the "
                                   "engine's own (web/regulator_session.py keeps its logouts so)")
        if any(e["name"] == name for e in self.entries):
            raise ClientsFileError(f"{where}: the name {name!r} is used twice")
        roles = entry.get("roles") or []
        bad = [r for r in roles if r not in ROLES]
        if not roles or bad:
            raise ClientsFileError(f"{where} ({name}): roles must be some of {', '.join(ROLES)}"
                                   + (f"; not {bad[0]!r}" if bad else ""))
        rules = tuple(ProductRule.parse(p) for p in entry.get("products") or ())
        if "issuer" in roles and not rules and "admin" not in roles:
            raise ClientsFileError(f"{where} ({name}): an issuer needs products")
        h, cn = entry.get("token_sha256"), entry.get("certificate_cn")
        h3 = entry.get("token_sm3")
        if not h and not h3 and not cn:
            raise ClientsFileError(f"{where} ({name}): give token_sha256, token_sm3 or certificate_cn")
        ident = Caller(name, frozenset(roles), rules)
        for value, table, what in ((h, self.by_hash, "token_sha256 must be a new SHA-256"),
                                   (h3, self.by_sm3, "token_sm3 must be a new SM3 hash")):
            if not value:
                continue
            value = value.lower() if isinstance(value, str) else ""
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value) or value in table:
                raise ClientsFileError(f"{where} ({name}): {what} in hex")
            table[value] = ident
        if cn:
            if cn in self.by_cn:
                raise ClientsFileError(f"{where} ({name}): certificate_cn {cn!r} is used twice")
            self.by_cn[cn] = Caller(name, ident.roles, rules, via="certificate")
        self.entries.append(dict(entry))

    def by_token(self, token: str) -> Caller | None:
        found = self.by_hash.get(token_hash(token)) if self.by_hash else None
        if found is None and self.by_sm3:
            found = self.by_sm3.get(token_hash(token, "sm3"))
        return found

    # -- writing (tracecode token) ---------------------------------------------------------
    def add(self, name: str, roles, products=(), certificate_cn: str | None = None,
            digest: str = "sha256") -> str | None:
        """Add a client; returns its new bearer token (shown once, stored hashed: SHA-256, or
        SM3 with digest="sm3"), or None for a client identified by certificate only."""
        token = None if certificate_cn else new_token()
        entry = {"name": name, "roles": list(roles), "products": [str(ProductRule.parse(p))
                                                                   for p in products]}
        if token:
            entry[f"token_{digest}"] = token_hash(token, digest)
        else:
            entry["certificate_cn"] = certificate_cn
        self._add(entry, str(self.path))
        self.save()
        return token

    def revoke(self, name: str) -> None:
        keep = [e for e in self.entries if e["name"] != name]
        if len(keep) == len(self.entries):
            raise ClientsFileError(f"{self.path} has no client named {name!r}")
        self.entries = keep
        self.save()

    def save(self) -> None:
        lines = ["# tracecode clients: who may call the gRPC service (see `tracecode token`).",
                 "# Bearer tokens are stored as SHA-256 (or SM3) hashes only.", ""]
        for e in self.entries:
            lines.append("[[client]]")
            for key in ("name", "roles", "products", "token_sha256", "token_sm3", "certificate_cn"):
                if e.get(key) not in (None, []):
                    lines.append(f"{key} = {_toml(e[key])}")
            lines.append("")
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    @classmethod
    def open_or_create(cls, path) -> ClientsFile:
        path = Path(path)
        return cls.load(path) if path.exists() else cls(path)


def _toml(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class Clients:
    """The server's view of the clients file, re-read when it changes (checked at most
    once a second). Without a file the server is open: every caller is LOCAL (admin);
    server.py allows that on loopback addresses only."""

    def __init__(self, path=None):
        self.path = Path(path) if path else None
        self._file = ClientsFile.load(self.path) if self.path else None
        self._stamp = self._mtime()
        self._checked = time.monotonic()

    @property
    def open(self) -> bool:
        return self.path is None

    def _mtime(self):
        return self.path.stat().st_mtime_ns if self.path else None

    def _current(self) -> ClientsFile:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            try:
                stamp = self._mtime()
            except OSError as exc:  # the file is gone: nobody is let in until it is back
                if self._file.by_hash or self._file.by_sm3 or self._file.by_cn:
                    log.error("clients file unreadable, refusing every client: %s", exc)
                self._stamp, self._file = None, ClientsFile(self.path)
                return self._file
            if stamp != self._stamp:  # a broken edit keeps the last good file in force
                self._stamp = stamp
                try:
                    self._file = ClientsFile.load(self.path)
                except (ClientsFileError, OSError) as exc:
                    log.warning("clients file not reloaded, the previous one stays in force: %s", exc)
        return self._file

    def by_token(self, token: str) -> Caller | None:
        return None if self._file is None else self._current().by_token(token)

    def by_cn(self, cn: str) -> Caller | None:
        return None if self._file is None else self._current().by_cn.get(cn)

    def identities(self) -> list:
        """Every client the file lists (none for an open server)."""
        if self._file is None:
            return []
        f = self._current()
        return list({w.name: w for w in (*f.by_hash.values(), *f.by_sm3.values(),
                                         *f.by_cn.values())}.values())
