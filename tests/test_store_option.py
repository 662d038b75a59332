"""`tracecode --store URL`: the URL is checked when the command line is read, and a server
that does not answer is one clear line at once (no pool retrying for 30 s, no log spam)."""
import os
import socket
import subprocess
import sys
import time

import tracecode


def _cli(*args):
    env = {k: v for k, v in os.environ.items() if k != "TRACECODE_STORE"}
    return subprocess.run([sys.executable, "-m", "tracecode.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # closed again on leaving: connecting is refused


def test_a_store_that_is_not_a_url_is_a_usage_error(tmp_path):
    tracecode.init(tmp_path / "d").close()
    r = _cli("--store", "notaurl", "verify", tmp_path / "d", "X")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "--store" in r.stderr and "postgresql://" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_an_unreachable_store_fails_at_once_in_one_line(tmp_path):
    tracecode.init(tmp_path / "d").close()
    url = f"postgresql://postgres:s3cret@127.0.0.1:{_closed_port()}/nodb"
    t0 = time.monotonic()
    r = _cli("--store", url, "verify", tmp_path / "d", "X")
    took = time.monotonic() - t0
    assert r.returncode == 1, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach PostgreSQL" in lines[0], r.stderr
    assert "error connecting" not in r.stderr and "s3cret" not in r.stderr
    assert took < 20, took   # the pool alone waited 30 s before
