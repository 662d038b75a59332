"""The audit log: DIR/audit.log, one JSON object a line, appended by every server process
and every local command, each record chained to the one before and periodically signed
(auditchain.py; `tracecode audit verify DIR` checks it).

Written: every issuance (its intent before the batch, its outcome after), every recall
(likewise), every call refused for want of rights (PERMISSION_DENIED) or of credentials
(UNAUTHENTICATED). Each record is one O_APPEND write of the whole line, followed by
fsync, so lines from several processes never interleave and a line that was written
survives a crash. The byte count is checked: a write the disk cut short (ENOSPC) raises
AuditError and leaves a torn line, which is never truncated (other processes append
to the same file); the next record, from any process, starts on a new line (a file
not ending in a newline gets one first), and read() skips torn or garbled lines,
recovers records glued to them and reports them. In the chain, the next record (any
process's) chains to the last WHOLE record and names the torn bytes (their offset, length
and hash: its "gap"), so a torn line is bound into the chain, never silently skipped.

Appending takes an exclusive flock on the file around reading the chain head and
writing: a process keeps the head it wrote and reads the file's tail again only when
the file has grown past what it wrote (another process appended).

An unauthenticated caller's address is not kept: its records carry a keyed pseudonym
of it (auditchain.pseudonym), the same for one address. Refusals of unauthenticated
calls, which anyone can cause, are rate-limited per
process (a token bucket: UNAUTHENTICATED_BURST, then UNAUTHENTICATED_RATE a second);
the ones left out are counted in one "suppressed" record, written before the next
one that is let through, or on close. Refusals of rights (a known client's calls) are
rate-limited likewise, per client (DENIED_BURST, then DENIED_RATE a second), their
"suppressed" records naming the client. The text of a refusal's record is at most
VALUE_CHARS characters a value (clipped, saying its length), so it stays a line whatever
a client sent.
"""
from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from dataclasses import dataclass

from ..errors import TracecodeError
from .auditchain import (HASHES, SIGNATURE, AuditKeys, digest, digest_range, keyed_name, last_record, load_keys,
                         pseudonym, seal)

UNAUTHENTICATED_BURST = 100     # records of unauthenticated refusals a process writes at once
UNAUTHENTICATED_RATE = 10.0     # and then a second, at most
DENIED_BURST = 100              # records of one client's refused calls a process writes at once
DENIED_RATE = 10.0              # and then a second, at most
VALUE_CHARS = 1024              # of any text value of a record
CHECKPOINT_EVERY = 1000         # records of a process between its signed checkpoints
CHECKPOINT_SECONDS = 300.0      # or seconds (checked when it writes; and one on close)
_RECORD_START = '{"time":'      # every record starts so; in a value the quotes are escaped


def _clip(value):
    if isinstance(value, str) and len(value) > VALUE_CHARS:
        return f"{value[:VALUE_CHARS]}…({len(value):,} characters)"
    return value


class AuditError(TracecodeError):
    """The audit log could not take a whole record (a full disk, a failing one)."""


class _Bucket:
    """A token bucket: `burst` at once, refilled at `rate` a second."""

    def __init__(self, burst: int, rate: float):
        self.burst, self.rate = burst, rate
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class AuditLog:
    """DIR/audit.log, chained (auditchain.py): `keys` the signing keys (by default DIR/audit.key
    beside the log, made on first use), `chain` the hash ("sha256", "sm3": by suite), a signed
    checkpoint every `checkpoint_every` records or `checkpoint_seconds` of this process's, and
    on close."""

    def __init__(self, path, *, unauthenticated_burst: int = UNAUTHENTICATED_BURST,
                 unauthenticated_rate: float = UNAUTHENTICATED_RATE,
                 denied_burst: int = DENIED_BURST, denied_rate: float = DENIED_RATE,
                 chain: str = "sha256", keys: AuditKeys | None = None,
                 checkpoint_every: int = CHECKPOINT_EVERY, checkpoint_seconds: float = CHECKPOINT_SECONDS):
        self.path = path
        if chain not in HASHES:
            raise ValueError(f"unknown audit chain hash {chain!r}; known: {', '.join(HASHES)}")
        self._keys = keys if keys is not None else load_keys(os.path.dirname(os.path.abspath(path)))
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        self._chain = chain
        self._mutex = threading.Lock()   # flock is per open file: threads of a process share ours
        self._end = -1             # the file's size after our last append; -1: read its tail again
        self._seq, self._head = 0, ""
        self._checkpoint = (checkpoint_every, checkpoint_seconds)
        self._unsigned, self._signed_at = 0, time.monotonic()
        self._bucket = _Bucket(unauthenticated_burst, unauthenticated_rate)
        self._suppressed = 0       # unauthenticated refusals left out since the last summary
        self._suppressed_since = 0.0
        self._denied_limit = (denied_burst, denied_rate)
        self._denied: dict = {}    # client -> [its bucket, refusals left out, since]

    def write(self, event: str, client: str | None, method: str, peer: str = "", *,
              sync: bool = True, **detail) -> None:
        """Append one record, whole or not at all (AuditError); sync=False leaves the
        flush to the OS (for records anyone can cause, so they cannot make the server
        fsync at will)."""
        record = {"time": round(time.time(), 6), "event": event, "client": client,
                  "method": method, "peer": peer, **detail}
        body = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode()
        self._append(body[:-1], sync)

    def write_unauthenticated(self, method: str, peer: str, reason: str) -> bool:
        """Record an unauthenticated refusal, within the rate limit; False if left out."""
        if not self._bucket.take():
            if not self._suppressed:
                self._suppressed_since = round(time.time(), 6)
            self._suppressed += 1
            return False
        self._write_suppressed()
        self.write("unauthenticated", None, _clip(method), pseudonym(self._keys, peer), sync=False,
                   reason=_clip(reason))
        return True

    def write_denied(self, client: str, method: str, peer: str, reason: str,
                     event: str = "denied") -> bool:
        """Record a refusal of a known client's call, within that client's rate limit;
        False if left out (counted in the client's next "suppressed" record)."""
        state = self._denied.get(client)
        if state is None:
            if len(self._denied) >= 10_000:   # clients are few; forget the idle ones' buckets
                self._denied = {c: s for c, s in self._denied.items() if s[1]}
            state = self._denied[client] = [_Bucket(*self._denied_limit), 0, 0.0]
        if not state[0].take():
            if not state[1]:
                state[2] = round(time.time(), 6)
            state[1] += 1
            return False
        self._write_denied_suppressed(client, state)
        self.write(event, client, _clip(method), _clip(peer), reason=_clip(reason))
        return True

    def _write_denied_suppressed(self, client: str, state: list) -> None:
        if state[1]:
            n, state[1] = state[1], 0
            burst, rate = self._denied_limit
            self.write("suppressed", client, "-", count=n, since=state[2], sync=False,
                       reason=f"{n} refused calls of {client} suppressed (rate limit: "
                              f"{burst} at once, {rate:g} a second)")

    def _write_suppressed(self) -> None:
        if self._suppressed:
            n, self._suppressed = self._suppressed, 0
            self.write("suppressed", None, "-", count=n, since=self._suppressed_since, sync=False,
                       reason=f"{n} refused unauthenticated calls suppressed (rate limit: "
                              f"{self._bucket.burst} at once, {self._bucket.rate:g} a second)")

    def _append(self, body: bytes, sync: bool, *, sign: bool = False) -> None:
        """Chain, MAC and append one record (its JSON without the closing brace), under an
        exclusive lock on the file so that the head read and the append are one step
        among all processes; then, if one is due, a signed checkpoint."""
        with self._mutex:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError as exc:
                raise AuditError(f"the audit log {self.path} cannot be locked ({exc.strerror})") from None
            try:
                self._append_locked(body, sync, sign)
                every, seconds = self._checkpoint
                if not sign and (self._unsigned >= every or
                                 time.monotonic() - self._signed_at >= seconds):
                    self._append_locked(self._checkpoint_body(), True, True)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _checkpoint_body(self) -> bytes:
        record = {"time": round(time.time(), 6), "event": "checkpoint", "client": None, "method": "-",
                  "peer": "", "alg": SIGNATURE, "key": self._keys.public}
        return json.dumps(record, separators=(",", ":")).encode()[:-1]

    def _append_locked(self, body: bytes, sync: bool, sign: bool) -> None:
        try:
            end = os.fstat(self._fd).st_size
            good, lead = end, b""
            if end != self._end:   # another process wrote (or a write of ours failed): read its tail
                found = last_record(self._fd, end)
                self._seq, self._head, good = (found[2]["seq"], digest(self._chain, found[1]), found[0]) \
                    if found else (0, "", 0)
                if end and os.pread(self._fd, 1, end - 1) != b"\n":
                    lead = b"\n"      # a torn line: this record starts a new one
            gap = None
            if end > good:     # a torn line (any process's) or a log from before the chain
                gap = (good, end - good + len(lead), digest_range(self._chain, self._fd, good, end, lead))
            line = seal(body, seq=self._seq + 1, prev=self._head, name=self._chain, keys=self._keys,
                        gap=gap, sign=sign)
            data = lead + line + b"\n"
            self._end = -1     # until this write is known whole
            n = os.write(self._fd, data)
        except OSError as exc:
            raise AuditError(f"the audit log {self.path} took no record ({exc.strerror}); "
                             f"free space on its disk") from None
        if n != len(data):
            raise AuditError(f"the audit log {self.path} took {n} of a record's {len(data)} bytes "
                             f"(its disk is full); free space: readers skip the torn line")
        self._seq, self._head, self._end = self._seq + 1, digest(self._chain, line), end + n
        if sign:
            self._unsigned, self._signed_at = 0, time.monotonic()
        else:
            self._unsigned += 1
        if sync:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise AuditError(f"the audit log {self.path} could not sync a record "
                                 f"({exc.strerror}); it may not survive a crash") from None

    def keyed_name(self, kind: str, text: str) -> str:
        """What the log keeps of a name it must not hold in clear (auditchain.keyed_name)."""
        return keyed_name(self._keys, kind, text)

    def checkpoint(self) -> None:
        """Sign the chain head now (if this process wrote since its last checkpoint)."""
        if self._unsigned:
            self._append(self._checkpoint_body(), True, sign=True)

    def close(self) -> None:
        if self._fd is not None:
            try:
                self._write_suppressed()
                for client, state in self._denied.items():
                    self._write_denied_suppressed(client, state)
                self.checkpoint()
            except AuditError:
                pass  # closing: the count is lost with the disk full, the records are not
            os.close(self._fd)
            self._fd = None


@dataclass(frozen=True)
class Damage:
    """A stretch of an audit log that is no whole record: a torn write, or garbage."""
    line: int        # 1-based line number
    text: str        # its first 80 characters
    tail: bool       # the file's last line, without its newline (a write cut short)


class AuditRecords(list):
    """The records of an audit log, oldest first; ``damaged`` lists what was skipped."""

    def __init__(self, records=(), damaged=()):
        super().__init__(records)
        self.damaged: list[Damage] = list(damaged)


_decoder = json.JSONDecoder()


def read(path, *, checkpoints: bool = False) -> AuditRecords:
    """Every whole record of an audit log, oldest first (its signed checkpoints too when
    `checkpoints`). Torn or garbled lines are skipped and listed in ``.damaged``; a record
    glued to a torn one is recovered. This reads; `tracecode audit verify` checks."""
    out = AuditRecords()
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            tail = not raw.endswith(b"\n")
            text = raw.decode("utf-8", "replace").strip()
            at = 0
            while at < len(text):
                try:
                    record, end = _decoder.raw_decode(text, at)
                    if isinstance(record, dict) and "event" in record:
                        if checkpoints or record["event"] != "checkpoint":
                            out.append(record)
                        at = end
                        while at < len(text) and text[at].isspace():
                            at += 1
                        continue
                except ValueError:
                    pass
                resume = text.find(_RECORD_START, at + 1)
                out.damaged.append(Damage(number, text[at:resume if resume >= 0 else len(text)][:80],
                                          tail and resume < 0))
                if resume < 0:
                    break
                at = resume
    return out
