"""Per-code records on PostgreSQL, and the reads of verification and history over them.

    tc_codes  ref -> status (NULL: no event set one), seq of the event that set it, parent
              (the container it is packed in), the scan summary (count, first time and
              seq, last seq, up to MAX_PLACES distinct place hashes)

A code's effective status is that of the most recent event on it or on a container it is
in, up to CONTAINER_DEPTH levels (shipping a pallet ships its cases): one recursive query
for a whole batch of refs."""
from __future__ import annotations

import json
import threading

import numpy as np

from ..known import KnownProducts

MAX_PLACES = 8          # distinct places a code remembers (as LMDB's _codes.MAX_PLACES)
CONTAINER_DEPTH = 8

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS tc_codes (ref bytea PRIMARY KEY, status smallint, seq bigint NOT NULL DEFAULT 0, "
    "parent bytea, scan_count integer NOT NULL DEFAULT 0, first_time double precision, "
    "first_seq bigint NOT NULL DEFAULT 0, last_seq bigint NOT NULL DEFAULT 0, "
    "places bigint[] NOT NULL DEFAULT '{}')",
]

# The effective record of each (row, ref): its own, with the status and seq of the
# container with the latest seq above it when that is later than its own.
_EFFECTIVE = f"""
WITH RECURSIVE q(i, ref) AS (SELECT * FROM unnest(%(i)s::int[], %(refs)b::bytea[])),
own AS (SELECT q.i, c.* FROM q JOIN tc_codes c ON c.ref = q.ref),
up(i, depth, parent, status, seq) AS (
    SELECT o.i, 1, p.parent, coalesce(p.status, 0), p.seq FROM own o JOIN tc_codes p ON p.ref = o.parent
  UNION ALL
    SELECT up.i, up.depth + 1, p.parent, coalesce(p.status, 0), p.seq FROM up
    JOIN tc_codes p ON p.ref = up.parent WHERE up.depth < {CONTAINER_DEPTH})
SELECT o.i, CASE WHEN u.seq > o.seq THEN u.status ELSE coalesce(o.status, 0) END,
       greatest(o.seq, u.seq), o.scan_count, o.first_time, o.first_seq, o.last_seq,
       (SELECT count(DISTINCT x) FROM unnest(o.places || %(place)s::bigint[]) x),
       o.places
FROM own o LEFT JOIN (SELECT DISTINCT ON (i) i, status, seq FROM up ORDER BY i, seq DESC, depth) u ON u.i = o.i
"""

# One code's record (the single verify, history): its own row and, only when it has a
# parent, the walk up; the bulk query's unnest, sorts and DISTINCT ON cost it 0.6-0.9 ms a
# call (planning included), this one an index lookup. The same effective status: the
# container with the newest event wins (ORDER BY seq DESC, depth as DISTINCT ON orders).
_EFFECTIVE_ONE = f"""
WITH RECURSIVE up(depth, parent, status, seq) AS (
    SELECT 1, p.parent, coalesce(p.status, 0), p.seq
      FROM tc_codes o JOIN tc_codes p ON p.ref = o.parent WHERE o.ref = %(ref)b
  UNION ALL
    SELECT up.depth + 1, p.parent, coalesce(p.status, 0), p.seq FROM up
      JOIN tc_codes p ON p.ref = up.parent WHERE up.depth < {CONTAINER_DEPTH}),
top AS (SELECT status, seq FROM up ORDER BY seq DESC, depth LIMIT 1)
SELECT CASE WHEN t.seq > o.seq THEN t.status ELSE coalesce(o.status, 0) END,
       greatest(o.seq, t.seq), o.scan_count, o.first_time, o.first_seq, o.last_seq, o.places
FROM tc_codes o LEFT JOIN top t ON true WHERE o.ref = %(ref)b
"""

_RECALL_FEW = {n: f"SELECT max(seq) FROM tc_recalls WHERE key IN ({', '.join(['%b'] * n)})" for n in (1, 2, 3, 4)}


def split_refs(refs) -> list:
    """The refs of a codekeys.Keys (buf, off) as bytes (b"": none)."""
    buf, off = bytes(refs.buf), refs.off
    return [buf[off[i]:off[i + 1]] for i in range(len(off) - 1)]


class PgKnown(KnownProducts):
    """The products issued (the scan parser's first question), followed in the view's snapshot."""

    def __init__(self, schemes):
        super().__init__(None, schemes)
        self._lock = threading.Lock()

    def refresh_pg(self, conn):
        rows = conn.execute("SELECT id, scheme, product FROM tc_products WHERE id >= %s ORDER BY id",
                            (self._next,)).fetchall()
        if rows:
            with self._lock:
                added: dict = {}
                for pid, scheme_name, product in rows:
                    if pid < self._next:
                        continue
                    scheme = self.schemes.get(scheme_name)
                    if scheme is not None:
                        chars = b"".join(str((product or {}).get(f.name, "")).encode() for f in scheme.product_fields)
                        added.setdefault(scheme.name, []).append(chars)
                    self._next = pid + 1
                for name, chars in added.items():
                    self._chars[name] = self._chars.get(name, frozenset()) | frozenset(chars)
        return self


class ViewPart:
    __slots__ = ()

    def known_products(self):
        return self.store.known.refresh_pg(self.conn)

    def code_records(self, refs, place_hash, status, seq, scan_count, places, first_scan_time, first_seq):
        keys = split_refs(refs)
        at = [i for i, k in enumerate(keys) if k]
        if not at:
            return
        # rows with no record: issued, never seen (status 0, the place alone)
        idx = np.array(at, np.int64)
        status[idx], seq[idx], scan_count[idx] = 0, 0, 0
        places[idx] = 1 if place_hash else 0
        first_scan_time[idx], first_seq[idx] = 0.0, 0
        rows = self.conn.execute(_EFFECTIVE, {"i": at, "refs": [keys[i] for i in at],
                                              "place": [place_hash] if place_hash else []},
                                 binary=True).fetchall()   # binary: bytea without hex text
        if not rows:
            return
        cols = list(zip(*rows))
        i = np.array(cols[0], np.int64)
        status[i] = cols[1]
        seq[i] = cols[2]
        scan_count[i] = cols[3]
        places[i] = cols[7]
        first_scan_time[i] = [t if t is not None else 0.0 for t in cols[4]]
        first_seq[i] = cols[5]

    def code_record(self, ref):
        rows = self.conn.execute(_EFFECTIVE_ONE, {"ref": bytes(ref)}, binary=True).fetchall()
        if not rows:
            return 0, 0, 0, (), None, 0, 0
        st, sq, count, first_time, first_seq, last_seq, pl = rows[0]
        if not count:
            return st, sq, 0, (), None, 0, 0
        return st, sq, count, tuple(p for p in pl), first_time, first_seq, last_seq

    def parent_of(self, ref):
        row = self.conn.execute("SELECT parent FROM tc_codes WHERE ref = %s", (bytes(ref),)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def children(self, ref):
        return [bytes(c) for (c,) in self.conn.execute(
            "SELECT child FROM tc_children WHERE parent = %s ORDER BY child", (bytes(ref),))]

    def parents(self, refs):
        rows = self.conn.execute("SELECT ref, parent FROM tc_codes WHERE ref = ANY(%b::bytea[]) "
                                 "AND parent IS NOT NULL", ([bytes(r) for r in refs],)).fetchall()
        return {bytes(k): bytes(v) for k, v in rows}

    def holding(self, refs):
        rows = self.conn.execute("SELECT DISTINCT parent FROM tc_children WHERE parent = ANY(%b::bytea[])",
                                 ([bytes(r) for r in refs],)).fetchall()
        return {bytes(k) for (k,) in rows}

    def sscc_user(self, ref):
        row = self.conn.execute("SELECT client FROM tc_sscc_users WHERE ref = %s", (bytes(ref),)).fetchone()
        return row[0] if row else None

    def recall_seq(self, targets):
        keys = [recall_key(t) for t in targets]
        if not keys:   # a code of no batch (an imported one): nothing to recall it by
            return 0
        # a scan's batch and lot (the usual one or two keys): one statement per count, which
        # PostgreSQL plans once; over an array it planned every call afresh (custom plans)
        sql = _RECALL_FEW.get(len(keys)) or "SELECT max(seq) FROM tc_recalls WHERE key = ANY(%b::bytea[])"
        row = self.conn.execute(sql, keys if len(keys) in _RECALL_FEW else (keys,), binary=True).fetchone()
        return row[0] or 0

    def code_event_seqs(self, refs):
        refs = [bytes(r) for r in refs]
        got: dict = {}
        for ref, seqs in self.conn.execute("SELECT ref, array_agg(seq ORDER BY seq) FROM tc_code_events "
                                           "WHERE ref = ANY(%b::bytea[]) GROUP BY ref", (refs,)):
            got[bytes(ref)] = list(seqs)
        return [got.get(r, []) for r in refs]

    def events_at(self, seqs):
        rows = self.conn.execute("SELECT seq, record FROM tc_events WHERE seq = ANY(%s::bigint[])",
                                 (list(seqs),)).fetchall()
        return {s: json.loads(bytes(raw)) for s, raw in rows}

    def events_of(self, ref, max_codes: int | None = None):
        rows = self.conn.execute("SELECT e.record FROM tc_code_events ce JOIN tc_events e ON e.seq = ce.seq "
                                 "WHERE ce.ref = %s ORDER BY ce.seq", (bytes(ref),)).fetchall()
        out = []
        for (raw,) in rows:
            ev = json.loads(bytes(raw))
            codes = ev.get("codes") or []
            if max_codes is not None and len(codes) > max_codes:
                ev["codes_total"], ev["codes"] = len(codes), codes[:max_codes]
            out.append(ev)
        return out


def recall_key(target) -> bytes:
    """b"B" batch id | b"L" scheme \\0 product \\0 lot (as LMDB's store keys a recall)."""
    if target[0] == "batch":
        return b"B" + int(target[1]).to_bytes(8, "big")
    _, scheme, product_key, lot = target
    return b"L" + scheme.encode() + b"\x00" + bytes(product_key) + b"\x00" + lot.encode()


def opened(store) -> None:
    store.known = PgKnown(store.schemes)
