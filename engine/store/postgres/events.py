"""Lifecycle events on PostgreSQL: an EventPlan (decided by the domain) written as rows in
the caller's write transaction; seqs from the "event" counter, so in commit order.

    tc_events       seq -> the event's JSON (its seq first, as LMDB's store writes it)
    tc_event_ids    (client, event id) -> seq, digest   ('' : this data directory's caller)
    tc_code_events  (ref, seq)                          a code's events, for history
    tc_children     (parent, child)                     aggregation, the other way round
    tc_sscc_users   ref -> client                       the first to pack into an SSCC
    tc_recalls      key -> seq of the latest recall     (records.recall_key)
Many plans (apply_events) go in one statement per table: arrays in, unnest, ON CONFLICT."""
from __future__ import annotations

import json

from .records import recall_key

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS tc_events (seq bigint PRIMARY KEY, record bytea NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tc_event_ids (client text NOT NULL, event_id text NOT NULL, "
    "seq bigint NOT NULL, digest bytea NOT NULL, PRIMARY KEY (client, event_id))",
    "CREATE TABLE IF NOT EXISTS tc_code_events (ref bytea NOT NULL, seq bigint NOT NULL, PRIMARY KEY (ref, seq))",
    "CREATE TABLE IF NOT EXISTS tc_children (parent bytea NOT NULL, child bytea NOT NULL, PRIMARY KEY (parent, child))",
    "CREATE TABLE IF NOT EXISTS tc_sscc_users (ref bytea PRIMARY KEY, client text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tc_recalls (key bytea PRIMARY KEY, seq bigint NOT NULL)",
]

_SET_STATE = ("INSERT INTO tc_codes (ref, status, seq) SELECT r, s, q FROM unnest(%b::bytea[], %s::smallint[], "
              "%s::bigint[]) AS t(r, s, q) ON CONFLICT (ref) DO UPDATE SET status = excluded.status, "
              "seq = excluded.seq")
_SET_PARENT = ("INSERT INTO tc_codes (ref, parent) SELECT r, p FROM unnest(%b::bytea[], %b::bytea[]) AS t(r, p) "
               "ON CONFLICT (ref) DO UPDATE SET parent = excluded.parent")
_CODE_EVENTS = ("INSERT INTO tc_code_events (ref, seq) SELECT * FROM unnest(%b::bytea[], %s::bigint[]) "
                "ON CONFLICT DO NOTHING")
_CHILDREN = ("INSERT INTO tc_children (parent, child) SELECT * FROM unnest(%b::bytea[], %b::bytea[]) "
             "ON CONFLICT DO NOTHING")
_ALIVE = ("INSERT INTO tc_codes AS c (ref, status, seq) SELECT r, s, q FROM unnest(%b::bytea[], %s::smallint[], "
          "%s::bigint[]) AS t(r, s, q) ON CONFLICT (ref) DO UPDATE SET status = excluded.status, seq = excluded.seq "
          "WHERE c.status IS NULL")   # a container not alive yet comes alive; a live one keeps its state
_USERS = ("INSERT INTO tc_sscc_users (ref, client) SELECT * FROM unnest(%b::bytea[], %s::text[]) "
          "ON CONFLICT DO NOTHING")   # the first user stays
_EVENTS = "INSERT INTO tc_events (seq, record) SELECT * FROM unnest(%s::bigint[], %b::bytea[])"
_IDS = ("INSERT INTO tc_event_ids (client, event_id, seq, digest) SELECT * FROM "
        "unnest(%s::text[], %s::text[], %s::bigint[], %b::bytea[])")


def event_json(seq: int, plan) -> bytes:
    if plan.encoded is not None and len(plan.encoded) > 2:
        return b'{"seq": %d, ' % seq + plan.encoded[1:]
    return json.dumps({"seq": seq, **plan.record}, ensure_ascii=False).encode()


class ViewPart:
    """Bulk statements go binary: bytea arrays without hex text, numbers without digits."""
    __slots__ = ()

    def event_seen(self, client, event_id):
        row = self.conn.execute("SELECT seq, digest FROM tc_event_ids WHERE client = %s AND event_id = %s",
                                (client or "", event_id)).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def apply_event(self, plan) -> int:
        return self.apply_events([plan])[0]

    def restore_states(self, states, undone=None) -> None:
        """Codes' own states put back (index/undo.py): status NULL is issued again; the event
        at seq `undone` marked so in its record."""
        if undone:
            row = self.conn.execute("SELECT record FROM tc_events WHERE seq = %s", (undone,)).fetchone()
            if row is not None:
                record = json.dumps({**json.loads(bytes(row[0])), "undone": True}, ensure_ascii=False).encode()
                self.conn.execute("UPDATE tc_events SET record = %s WHERE seq = %s", (record, undone))
        if states:
            refs = [bytes(r) for r, _, _ in states]
            self.conn.execute("UPDATE tc_codes c SET status = t.s, seq = t.q FROM unnest(%b::bytea[], "
                              "%s::smallint[], %s::bigint[]) AS t(r, s, q) WHERE c.ref = t.r",
                              (refs, [s for _, s, _ in states], [q for _, _, q in states]), binary=True)

    def apply_events(self, plans) -> list:
        """The plans in order, as apply_event of each in turn: one statement per table when
        no code is in two plans and none unpacks or recalls; else one plan at a time."""
        if not plans:
            return []
        keys, count = set(), 0
        for p in plans:
            keys.update(p.refs)
            count += len(p.refs) + (p.parent is not None)
            if p.parent is not None:
                keys.add(p.parent)
        if len(plans) > 1 and (len(keys) != count or any(p.recalls or p.link == "unpack" for p in plans)):
            return [x for p in plans for x in self._write([p])]
        return self._write(plans)

    def _write(self, plans) -> list:
        conn = self.conn
        first = self.next_seq("event", len(plans))
        st_r, st_s, st_q = [], [], []
        par_r, par_p = [], []
        ce_r, ce_q = [], []
        alive_r, alive_s, alive_q = [], [], []
        users_r, users_c = [], []
        seqs, records, ids_c, ids_e, ids_d = [], [], [], [], []
        unpack = []
        for seq, p in enumerate(plans, first):
            refs = [bytes(r) for r in p.refs]
            if p.state is not None:
                st_r += refs
                st_s += [p.state] * len(refs)
                st_q += [seq] * len(refs)
            ce_r += refs
            ce_q += [seq] * len(refs)
            parent = bytes(p.parent) if p.parent is not None else None
            if p.link == "pack":
                par_r += refs
                par_p += [parent] * len(refs)
            elif p.link == "unpack":
                unpack.append((parent, refs))
            if parent is not None:
                if p.parent_state_if_new is not None:
                    alive_r.append(parent)
                    alive_s.append(p.parent_state_if_new)
                    alive_q.append(seq)
                ce_r.append(parent)
                ce_q.append(seq)
                if p.bind_user is not None:
                    users_r.append(parent)
                    users_c.append(p.bind_user)
            for target in p.recalls:
                conn.execute("INSERT INTO tc_recalls (key, seq) VALUES (%s, %s) ON CONFLICT (key) "
                             "DO UPDATE SET seq = excluded.seq", (recall_key(target), seq))
            seqs.append(seq)
            records.append(event_json(seq, p))
            ids_c.append(p.client or "")
            ids_e.append(p.event_id)
            ids_d.append(bytes(p.digest))
        if st_r:
            conn.execute(_SET_STATE, (st_r, st_s, st_q), binary=True)
        if par_r:
            conn.execute(_SET_PARENT, (par_r, par_p), binary=True)
            conn.execute(_CHILDREN, (par_p, par_r), binary=True)
        for parent, refs in unpack:
            conn.execute("UPDATE tc_codes SET parent = NULL WHERE ref = ANY(%b::bytea[]) AND parent = %s",
                         (refs, parent))
            conn.execute("DELETE FROM tc_children WHERE parent = %s AND child = ANY(%b::bytea[])", (parent, refs))
        if alive_r:
            conn.execute(_ALIVE, (alive_r, alive_s, alive_q), binary=True)
        if users_r:
            conn.execute(_USERS, (users_r, users_c), binary=True)
        if ce_r:
            conn.execute(_CODE_EVENTS, (ce_r, ce_q), binary=True)
        conn.execute(_EVENTS, (seqs, records), binary=True)
        conn.execute(_IDS, (ids_c, ids_e, seqs, ids_d), binary=True)
        return seqs


class Part:
    def events_since(self, after_seq: int, limit: int) -> list:
        """Lifecycle events with seq > after_seq, in seq order, as stored."""
        with self.tx(read_only=True) as conn:
            rows = conn.execute("SELECT record FROM tc_events WHERE seq > %s ORDER BY seq LIMIT %s",
                                (after_seq, limit)).fetchall()
        return [json.loads(bytes(r)) for (r,) in rows]
