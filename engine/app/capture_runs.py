"""Who runs a capture job, and the queue of captures begun in this process.

A capture answered at once (Service.start_capture) is stored "running" and finished in this
process's capture thread. The job names its runner (pid, the process's start time, the host),
so a reader can tell a job whose worker died (kill -9, OOM) from one still going: `stopped`
is true only when that process is certainly gone (or its pid reused). The queue is capped,
per client and in all, because each queued capture holds its document in memory.
"""
from __future__ import annotations

import logging
import os
import socket
import threading

from .refusal import Refusal

MAX_QUEUED = 32             # captures waiting or running in one process
MAX_QUEUED_PER_CLIENT = 8   # of them one client's
RETRY_AFTER = 5             # seconds a refused client is told to wait
STOPPED = ("the worker running it stopped before it finished; capture again (capture is idempotent "
           "by event id: events already stored are acknowledged, not applied twice)")


def process_start(pid: int) -> str | None:
    """The start time of process pid (clock ticks since boot, /proc/PID/stat field 22), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rpartition(b")")[2].split()   # after the command name, which may hold spaces
    return fields[19].decode() if len(fields) > 19 else None


def runner() -> dict:
    """This process, as a job records its runner."""
    pid = os.getpid()
    return {"pid": pid, "start": process_start(pid), "host": socket.gethostname()}


def stopped(holder) -> bool:
    """Whether the process a job names as its runner is gone (False when that cannot be told:
    no runner recorded, another host)."""
    if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int) or holder["pid"] <= 0:
        return False
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass   # it exists, another user's
    start = holder.get("start")
    return start is not None and process_start(holder["pid"]) not in (None, start)


class CaptureQueue:
    """One thread finishing the captures begun here, in order (LMDB has one writer), with a
    cap on how many wait: the one over it is refused (too_many_captures) before any job."""

    def __init__(self, total: int = MAX_QUEUED, per_client: int = MAX_QUEUED_PER_CLIENT):
        self.total, self.per_client = total, per_client
        self._lock = threading.Lock()
        self._queued: dict[str, int] = {}
        self._pool = None

    def reserve(self, client: str) -> None:
        with self._lock:
            mine, everyone = self._queued.get(client, 0), sum(self._queued.values())
            if mine >= self.per_client or everyone >= self.total:
                who = f"{client} has {mine}" if mine >= self.per_client else f"this server process has {everyone}"
                raise Refusal("too_many_captures", "", f"{who} captures waiting; nothing captured: try again in "
                              f"{RETRY_AFTER} s, or capture larger documents less often",
                              client=client, queued=max(mine, everyone), retry_after=RETRY_AFTER)
            self._queued[client] = mine + 1

    def release(self, client: str) -> None:
        with self._lock:
            n = self._queued.get(client, 0) - 1
            if n > 0:
                self._queued[client] = n
            else:
                self._queued.pop(client, None)

    def submit(self, client: str, finish, job_id: str) -> None:
        """Run finish (reserve'd for client) in the capture thread."""
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="tracecode-capture")
        self._pool.submit(self._run, client, finish, job_id)

    def _run(self, client: str, finish, job_id: str) -> None:
        try:
            finish()
        except Exception:   # noqa: BLE001 - recorded in the job (reason internal); the log says more
            logging.getLogger("tracecode").exception("capture job %s failed", job_id)
        finally:
            self.release(client)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
