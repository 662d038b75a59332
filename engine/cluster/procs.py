"""Processes the lab starts, recorded so that `down` stops exactly those, even after the lab
itself crashed: a record is (pid, the kernel's start time of that pid), so a pid reused by
another process after a reboot or a crash is never signalled."""
from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), None if no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    return int(raw[raw.rindex(b")") + 2:].split()[19])


def is_zombie(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    return raw[raw.rindex(b")") + 2:][:1] == b"Z"


def alive(rec: dict) -> bool:
    """The recorded process still runs (same pid and start time, not a zombie)."""
    return start_time(rec["pid"]) == rec["start"] and not is_zombie(rec["pid"])


def run_as() -> dict:
    """Popen keywords that drop root to the postgres user (PostgreSQL refuses to run as
    root); nothing when not root."""
    if os.getuid() != 0:
        return {}
    pw = pwd.getpwnam("postgres")
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def owner() -> tuple[int, int]:
    """uid, gid the lab's processes run as (and own their directories)."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    pw = pwd.getpwnam("postgres")
    return pw.pw_uid, pw.pw_gid


def spawn(name: str, cmd: list, log: Path, env: dict | None = None, cwd: Path | None = None,
          as_postgres: bool = True) -> dict:
    """Start cmd in a session of its own (a signal to the lab's terminal does not reach it;
    `down` signals its group), output to log; return its record. as_postgres=False: as this
    user (a serving node, whose data directory is this user's)."""
    with open(log, "ab") as out:
        p = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True, env=env,
                             cwd=cwd, **(run_as() if as_postgres else {}))
    st = start_time(p.pid)
    # the child is reaped by whoever waits on it; the Popen object goes, so mark it done
    p.returncode = 0
    return {"name": name, "pid": p.pid, "start": st, "cmd": [str(c) for c in cmd], "log": str(log)}


def reap() -> None:
    """Collect exited children of this process (the lab's own, when it runs in-process)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def signal_rec(rec: dict, sig: int) -> bool:
    if not alive(rec):
        return False
    try:
        os.kill(rec["pid"], sig)
    except ProcessLookupError:
        return False
    return True


def stop(recs: list, timeout: float = 30.0) -> list:
    """SIGTERM every live record, wait up to timeout for all, SIGKILL what is left; return
    the names that had to be killed."""
    live = [r for r in recs if signal_rec(r, signal.SIGTERM)]
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        reap()
        live = [r for r in live if alive(r)]
        if live:
            time.sleep(0.05)
    killed = []
    for r in live:
        if signal_rec(r, signal.SIGKILL):
            killed.append(r["name"])
    deadline = time.monotonic() + 10
    while any(alive(r) for r in live) and time.monotonic() < deadline:
        reap()
        time.sleep(0.02)
    return killed


def postmaster_of(data_dir: Path) -> dict | None:
    """The postmaster running on data_dir (its postmaster.pid), as a record: Patroni starts
    it in a session of its own, so it outlives a Patroni killed with -9."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    st = start_time(pid)
    if st is None:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if b"postgres" not in cmdline:   # a stale file naming a reused pid
        return None
    return {"name": f"postgres {data_dir.name}", "pid": pid, "start": st, "cmd": [], "log": ""}
