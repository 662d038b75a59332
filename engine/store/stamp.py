"""The index's identity: a stamp outside the LMDB file, and the same uuid inside it.

    DIR/index.stamp   JSON: {"index": UUID, "format": ..., "created": ISO time,
                             "crypto": "aes" | "sm" (the cipher suite; absent: aes)}
    meta b"index_uuid" in the LMDB environment: the same UUID
    meta b"crypto_suite": the same suite (datadir.py checks the three agree with keys.json)

Written at init. A data directory whose index/data.mdb is gone or empty still
has its stamp, so it refuses to open instead of starting a fresh index at
counter 0 (which would issue the same codes again); an index/ that is another
directory's (a copy put in the wrong place) carries another uuid and is refused.
"""
from __future__ import annotations

import datetime as _dt
import json
import uuid as _uuid
from pathlib import Path

from ..errors import TracecodeError
from .durable import write_atomically

NAME = "index.stamp"
UUID_KEY = b"index_uuid"
SUITE_KEY = b"crypto_suite"


class StampError(TracecodeError):
    """The index stamp is unreadable, or names another index than the one in index/."""


def new_uuid() -> str:
    return str(_uuid.uuid4())


def read(datadir: str | Path) -> dict | None:
    """The stamp, None if the directory has none."""
    path = Path(datadir) / NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StampError(f"{path} cannot be read: {exc.strerror}") from None
    try:
        stamp = json.loads(raw)
        _uuid.UUID(stamp["index"])
    except (ValueError, KeyError, TypeError):
        raise StampError(f"{path} is damaged (not the JSON tracecode wrote); restore it from "
                         f"a backup of this data directory") from None
    return stamp


def write(datadir: str | Path, index_uuid: str, fmt: str, created: str | None = None,
          crypto: str | None = None) -> dict:
    """Write the stamp atomically (temporary file, fsync, rename, fsync of the directory).
    crypto None keeps the suite of the stamp being replaced, if it names one."""
    datadir = Path(datadir)
    if crypto is None:
        try:
            crypto = (read(datadir) or {}).get("crypto")
        except StampError:
            crypto = None
    stamp = {"index": index_uuid, "format": fmt,
             "created": created or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    if crypto is not None:
        stamp["crypto"] = crypto
    write_atomically(datadir / NAME, json.dumps(stamp, indent=1).encode() + b"\n")
    return stamp
