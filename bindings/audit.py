"""The audit log: DIR/audit.log, one JSON object a line, appended by every server process.

Written: every issuance, every recall, every call refused for want of rights
(PERMISSION_DENIED) or of credentials (UNAUTHENTICATED). Each line is one
O_APPEND write followed by fsync, so lines from several processes never interleave
and a line that was written survives a crash.
"""
from __future__ import annotations

import json
import os
import time


class AuditLog:
    def __init__(self, path):
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, event: str, client: str | None, method: str, peer: str = "", *,
              sync: bool = True, **detail) -> None:
        """Append one record; sync=False leaves the flush to the OS (for records anyone
        can cause without a token, so they cannot make the server fsync at will)."""
        record = {"time": round(time.time(), 6), "event": event, "client": client,
                  "method": method, "peer": peer, **detail}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        os.write(self._fd, line.encode())
        if sync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read(path) -> list[dict]:
    """Every record of an audit log, oldest first."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
