"""Checking an audit log's chain (auditchain.py): every record's seq, its prev (the hash
of the record before), the bytes between records it names (its gap), its MAC (with the
signing key's MAC key) and every checkpoint's signature (with the public key). The
first record that fails is named: its line, its byte offset and what is wrong.

What each check catches:
- a record edited: its MAC fails (key given), else the next record's prev does not match
  (without the key, an edit of the very last record is caught only if a checkpoint follows);
- a record deleted or moved: the seq of the record after it is not the one expected;
- a line inserted that is no record, or a record's JSON broken: the bytes are not
  named by the next record's gap;
- truncation: the end of a cleanly closed log is a checkpoint; records after the last
  checkpoint are reported as not sealed (exit 3), a torn tail likewise. A log cut exactly
  at an earlier checkpoint looks whole from the inside: only an anchor kept elsewhere (the
  `--head SEQ:HASH` that verify prints) shows it, or the next checkpoint's missing seq;
- a forged tail (records a writer without the key appended after the last checkpoint):
  their MACs fail when the key is given; with only the public key they are "not sealed".
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from .auditchain import HASHES, AuditKeys, chained, digest, mac_body, sig_body, signature_ok


@dataclass
class Broken:
    line: int
    offset: int
    what: str


@dataclass
class Report:
    records: int = 0                 # chained records, checkpoints included
    checkpoints: int = 0
    chain: str = ""
    start_line: int = 0              # the first chained record's line (0: no chain)
    before: int = 0                  # lines before the chain (a log from before chaining)
    broken: Broken | None = None
    unsealed: int = 0                # records after the last checkpoint
    torn_tail: tuple | None = None   # (line, offset, bytes) no record names yet
    last_checkpoint: tuple | None = None   # (line, seq, hash)
    macs_checked: bool = False
    notes: list = field(default_factory=list)

    @property
    def status(self) -> int:
        """0 whole and sealed, 1 broken, 3 whole so far but its end not sealed by a checkpoint."""
        if self.broken:
            return 1
        return 3 if self.unsealed or self.torn_tail or not self.records else 0


def _hash_of(first: dict) -> str:
    return first.get("chain") if first.get("chain") in HASHES else "sha256"


def _lines(f):
    """(number, offset, line without its newline, had a newline) of a binary file."""
    offset = 0
    for number, raw in enumerate(f, 1):
        whole = raw.endswith(b"\n")
        yield number, offset, raw[:-1] if whole else raw, whole
        offset += len(raw)


def verify(path, *, public: str | None = None, keys: AuditKeys | None = None,
           head: tuple[int, str] | None = None) -> Report:
    """Check the chain of the audit log at `path`. `public`: the signing key's public half
    (hex); `keys`: the signing keys (their MAC key checks each record); `head`: (seq, hash)
    of a record known to be in the log (an anchor kept elsewhere)."""
    rep = Report(macs_checked=keys is not None and keys.mac_key is not None)
    if public is None and keys is not None:
        public = keys.public
    seen_head = False
    last_hash, last_line, expected = "", 0, 1
    gap_start, gap_first, gap = 0, 0, bytearray()   # bytes since the last record's end

    def broke(number, offset, what):
        rep.broken = Broken(number, offset, what)
        return rep

    with open(path, "rb") as f:
        for number, offset, line, whole in _lines(f):
            rec = chained(line) if whole else None
            if rec is None:
                if not rep.start_line:
                    rep.before += 1
                if not gap:
                    gap_first = number
                gap += line + (b"\n" if whole else b"")
                continue
            named = rec.get("gap")
            if gap:
                ok = (isinstance(named, dict) and named.get("at") == gap_start and named.get("bytes") == len(gap)
                      and named.get("hash") == digest(rep.chain or _hash_of(rec), bytes(gap)))
                if not ok:
                    return broke(gap_first, gap_start, f"{len(gap):,} bytes here (lines {gap_first}.."
                                 f"{number - 1}) are no record and the record after them (line {number}) does "
                                 f"not name them: lines inserted, or a record's text broken")
            elif named is not None:
                return broke(number, offset, f"it names {named.get('bytes')} bytes before it that are not "
                             f"there: bytes were removed")
            if not rep.start_line:
                name = rec.get("chain")
                if rec["seq"] != 1 or rec["prev"] or name not in HASHES:
                    return broke(number, offset, f"the first chained record has seq {rec['seq']} and no "
                                 f"chain start: the records before it were removed")
                rep.chain, rep.start_line = name, number
            elif rec["seq"] == 1 or "chain" in rec:
                return broke(number, offset, f"a second chain starts here (seq {rec['seq']}): the log "
                             f"was cut and begun again, or records before it replaced")
            elif rec["seq"] != expected:
                missing = rec["seq"] - expected
                why = (f"{missing} record{'s' if missing > 1 else ''} before it missing (deleted)" if missing > 0
                       else "records were reordered or repeated")
                return broke(number, offset, f"seq {rec['seq']} where {expected} was due: {why}")
            elif rec["prev"] != last_hash:
                return broke(number, offset, f"its prev is not the hash of the record before it (line "
                             f"{last_line}): that record was changed")
            if rep.macs_checked and not hmac.compare_digest(
                    str(rec["mac"]), keys.mac(rep.chain, mac_body(line))):
                return broke(number, offset, "its MAC does not match: the record was changed or written "
                             "without the audit key")
            if rec.get("event") == "checkpoint":
                if public is not None and rec.get("key") != public:
                    return broke(number, offset, "checkpoint signed by another key than the audit key")
                if not signature_ok(str(rec.get("key") if public is None else public), sig_body(line),
                                    str(rec.get("sig"))):
                    return broke(number, offset, "checkpoint signature does not verify: the checkpoint "
                                 "was changed or forged")
                rep.checkpoints += 1
                rep.unsealed = 0
            else:
                rep.unsealed += 1
            last_hash, last_line, expected = digest(rep.chain, line), number, rec["seq"] + 1
            if rec.get("event") == "checkpoint":
                rep.last_checkpoint = (number, rec["seq"], last_hash)
            if head is not None and rec["seq"] == head[0]:
                if last_hash != head[1]:
                    return broke(number, offset, f"record seq {head[0]} is not the anchored one (hash "
                                 f"{head[1][:16]}...): it was rewritten")
                seen_head = True
            rep.records += 1
            gap, gap_start = bytearray(), offset + len(line) + 1
    if gap:
        if rep.start_line and b"\n" in gap:   # a torn write never ends a line: the next writer does
            rep.broken = Broken(gap_first, gap_start, f"{len(gap):,} bytes after the last record (lines "
                                f"{gap_first}..) are no record: lines appended, or the last record's text broken")
        elif rep.start_line:
            rep.torn_tail = (gap_first, gap_start, len(gap))
        else:
            rep.notes.append(f"no chained record: {rep.before} lines from before the audit chain")
    if head is not None and not seen_head:
        rep.broken = Broken(last_line + 1, gap_start, f"the anchored record seq {head[0]} is not in the "
                            f"log (its last seq is {expected - 1}): the log was cut")
    return rep
