"""A real throwaway PostgreSQL server for tests: initdb into a tmp dir, pg_ctl start on
127.0.0.1 and a free port, stopped at the end. fsync=off is for tests only (the data is
thrown away); synchronous_commit stays on so an acknowledged commit means what it means in
production. PostgreSQL refuses to run as root: then initdb/pg_ctl run as the `postgres` user
through runuser, in a directory that user owns."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def pg_bindir() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL cluster: `start()`, `dsn(dbname)`, `stop()`. Usable as a context manager."""

    def __init__(self, root: Path | None = None, *, port: int | None = None, settings: dict | None = None):
        self.bindir = pg_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb)")
        self._own_root = root is None
        # /tmp, not pytest's tmp_path: that lies under root's home, which `postgres` cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="tc-pg-")) if root is None else Path(root)
        self.datadir = self.root / "pgdata"
        self.port = port or free_port()
        self.settings = {"fsync": "off", "synchronous_commit": "on", "full_page_writes": "off",
                         "max_connections": "200", "shared_buffers": "128MB",
                         "unix_socket_directories": "''", "listen_addresses": "'127.0.0.1'"}
        self.settings.update(settings or {})
        self.user = "postgres" if os.getuid() == 0 else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> "PgServer":
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.root, self.user, self.user)
        if not (self.datadir / "PG_VERSION").exists():
            self._run("initdb", "-A", "trust", "--no-sync", "-U", "postgres", "-E", "UTF8",
                      "--locale=C", "-D", str(self.datadir))
            with open(self.datadir / "postgresql.conf", "a") as f:
                for k, v in self.settings.items():
                    f.write(f"{k} = {v}\n")
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.root / "log"), "-w", "-t", "60",
                  "-o", f"-p {self.port}", "start")
        return self

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        import psycopg
        with psycopg.connect(self.dsn(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self, mode: str = "fast") -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "60", "stop", check=False)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "PgServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
