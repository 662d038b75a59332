"""Peak resident memory of a piece of work, run alone in a child process.

The child reports its own high-water mark (VmHWM in /proc/self/status): that
belongs to the address space exec gave it. The parent's view (ru_maxrss from
wait4) is no good here: Linux carries the forking parent's resident size into
the child's ru_maxrss, so every child would look at least as big as the parent.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from ..errors import TracecodeError


class ChildFailed(TracecodeError, RuntimeError):
    """A measuring child process exited with an error."""


def _status(field: str) -> int | None:
    """A size from /proc/self/status in bytes, None without /proc."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def own_peak() -> int:
    """This process's peak resident memory in bytes."""
    peak = _status("VmHWM")
    if peak is None:  # no /proc: ru_maxrss (kilobytes on Linux, bytes on macOS)
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return peak


class PrivatePeak:
    """The peak of private (anonymous) resident memory, sampled every `interval` seconds.

    VmHWM also counts the index's pages LMDB maps from the page cache: shared, clean,
    reclaimable, and sized separately (the hot set of the index). What a worker process
    costs on its own is its private memory; the kernel keeps no high-water mark of it,
    so a thread samples it.
    """

    def __init__(self, interval: float = 0.005):
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            self.peak = max(self.peak, _status("RssAnon") or 0)
            if self._stop.wait(self.interval):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _status("RssAnon") or 0)


def report(**figures) -> None:
    """What a measuring child prints last: its figures and its peak memory, as JSON."""
    print(json.dumps({**figures, "peak_rss_bytes": own_peak()}))


def measure(argv, cwd=None) -> dict:
    """Run a child that ends with report(); the figures it reported."""
    proc = subprocess.run(argv, capture_output=True, cwd=cwd)
    if proc.returncode != 0:
        raise ChildFailed(f"{' '.join(map(str, argv))} exited {proc.returncode}: "
                          f"{proc.stderr.decode(errors='replace').strip()[-500:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def run(kind: str, count: int, workdir: Path) -> dict:
    """Peak memory of `python -m tracecode.capacity.child KIND COUNT DIR`; DIR is removed after."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return measure([sys.executable, "-m", "tracecode.capacity.child", kind, str(count), str(workdir)])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
