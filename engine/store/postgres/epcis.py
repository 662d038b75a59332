"""EPCIS events and capture jobs on PostgreSQL (store/port.py: epcis_put, epcis_events,
epcis_find, capture_job_*), the PostgreSQL twin of store/lmdb/epcis.py:

    tc_epcis_events    seq -> the event: its id (key), the columns EpcisQuery filters on,
                    the head (JSON: what EpcisRecord carries besides the event), the event
                    JSON as captured and its EPCs by role (JSON)
    tc_epcis_epcs      (key, seq, role, ref type): "events of one EPC" (and of a
                    bizTransaction, source or destination id: port.REF_ROLES)
    tc_epcis_seq       one row: the next seq, taken under its row lock (see below)
    tc_capture_jobs    job id -> job JSON, listed by (client, created) as first put

Text the events carry is kept as bytes (bytea), not text or jsonb: a captured event may
hold a lone surrogate (kept, as the LMDB store keeps it: UTF-8 with surrogatepass) or NUL,
which PostgreSQL text and jsonb refuse. Ids and EPCs longer than KEY_BYTES are kept under
their BLAKE2b digest (btree entries are bounded too).

Seq order is commit order: an EPCIS write takes the one row of tc_epcis_seq FOR UPDATE first,
assigns its events' seqs from it and holds the lock until it commits. A second writer waits
for that commit, so it reads the moved counter and its seqs come after seqs that are
already visible (PostgreSQL makes a transaction visible before it releases its locks). Any
snapshot therefore sees a prefix of the log, without gaps (a rolled-back write rolls the
counter back too): what a subscription's bookmark needs (outbox.py). EPCIS writers are
serialised by it, as the LMDB store's single writer serialises every write.
"""
from __future__ import annotations

import hashlib
import json

from ...epcis.facets import NUMBER_PATTERN, TIME_PATTERN
from ..port import EPC_ROLES, ORDER_BY, REF_ROLES, EpcisQuery, EpcisRecord
from .sqltx import reading, run_write, writing

KEY_BYTES = 400          # longer ids and EPCs are digested (as the LMDB store does)
ROLE = {r: i for i, r in enumerate(EPC_ROLES + REF_ROLES)}
_HEAD = ("event_id", "event_time", "time_offset", "record_time", "type", "biz_step",
         "disposition", "read_point", "biz_location", "client", "action", "refs", "declared", "facets")
TABLES = ("tc_epcis_events", "tc_epcis_epcs", "tc_epcis_seq", "tc_capture_jobs")   # bytes_in_use("epcis")

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tc_epcis_events (
        seq bigint PRIMARY KEY,
        id_key bytea NOT NULL UNIQUE,
        event_time double precision NOT NULL,
        record_time double precision NOT NULL,
        type bytea, biz_step bytea, disposition bytea, read_point bytea, biz_location bytea,
        action bytea,
        declared boolean NOT NULL DEFAULT false,
        head bytea NOT NULL,
        event_json bytea NOT NULL,
        epcs_json bytea NOT NULL)""",
    # EpcisRecord.facets as jsonb, for the parameters beyond the columns (EQ_ILMD_..., EQ_quantity,
    # the error declaration's, WD_): JSON-safe by construction (tracecode.epcis.facets)
    "ALTER TABLE tc_epcis_events ADD COLUMN IF NOT EXISTS facets jsonb",
    # the equalities on facets are containments (@>), which this index answers
    "CREATE INDEX IF NOT EXISTS tc_epcis_events_facets ON tc_epcis_events USING gin (facets jsonb_path_ops)",
    # the events from before facets (opened's backfill): found at once, and none to find after it
    "CREATE INDEX IF NOT EXISTS tc_epcis_events_no_facets ON tc_epcis_events (seq) WHERE facets IS NULL",
    # GT_/LT_ILMD_...: a text in the shape of a number or date-time (facets.NUMBER_PATTERN, TIME_PATTERN)
    # that is still no value (2024-02-30) is NULL, not an error that fails the whole query
    """CREATE OR REPLACE FUNCTION tc_try_numeric(t text) RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN RETURN t::numeric; EXCEPTION WHEN others THEN RETURN NULL; END $$""",
    """CREATE OR REPLACE FUNCTION tc_try_epoch(t text) RETURNS float8 LANGUAGE plpgsql IMMUTABLE AS $$
        BEGIN RETURN extract(epoch FROM t::timestamptz)::float8; EXCEPTION WHEN others THEN RETURN NULL; END $$""",
    "CREATE INDEX IF NOT EXISTS tc_epcis_events_event_time ON tc_epcis_events (event_time, seq)",
    "CREATE INDEX IF NOT EXISTS tc_epcis_events_record_time ON tc_epcis_events (record_time, seq)",
    """CREATE TABLE IF NOT EXISTS tc_epcis_epcs (
        key bytea NOT NULL, seq bigint NOT NULL, role smallint NOT NULL, rtype bytea)""",
    "CREATE INDEX IF NOT EXISTS tc_epcis_epcs_key ON tc_epcis_epcs (key, seq)",
    "CREATE INDEX IF NOT EXISTS tc_epcis_epcs_seq ON tc_epcis_epcs (seq)",
    """CREATE TABLE IF NOT EXISTS tc_epcis_seq (
        one boolean PRIMARY KEY DEFAULT true CHECK (one), next bigint NOT NULL)""",
    "INSERT INTO tc_epcis_seq VALUES (true, 1) ON CONFLICT DO NOTHING",
    """CREATE TABLE IF NOT EXISTS tc_capture_jobs (
        id_key bytea PRIMARY KEY, job bytea NOT NULL, client bytea, created bytea)""",
    "CREATE INDEX IF NOT EXISTS tc_capture_jobs_by_client ON tc_capture_jobs (client, created DESC, id_key DESC)",
]


def dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def loads(raw):
    return json.loads(bytes(raw).decode("utf-8", "surrogatepass"))


def text_bytes(text) -> bytes | None:
    return None if text is None else str(text).encode("utf-8", "surrogatepass")


def text_key(text: str) -> bytes:
    """The key of an id or EPC: its UTF-8, or a digest of it when too long."""
    if not isinstance(text, str) or not text:
        raise ValueError("an EPCIS event id or EPC must be non-empty text")
    raw = text.encode("utf-8", "surrogatepass")
    return raw if len(raw) <= KEY_BYTES else b"\x00#" + hashlib.blake2b(raw, digest_size=32).digest()


# -- the query, in SQL ---------------------------------------------------------------------
_COLUMN_OF = (("event_types", "type"), ("biz_steps", "biz_step"), ("dispositions", "disposition"),
              ("read_points", "read_point"), ("biz_locations", "biz_location"), ("actions", "action"))


def where(q: EpcisQuery | None) -> tuple[list[str], list]:
    """SQL conditions on tc_epcis_events e (and their parameters) selecting what q selects."""
    if q is None:
        return [], []
    conds, params = [], []
    for attr, column in _COLUMN_OF:
        values = getattr(q, attr)
        if values:
            conds.append(f"e.{column} = ANY(%s)")
            params.append([text_bytes(v) for v in values])
    for attr, op, column in (("ge_event_time", ">=", "event_time"), ("lt_event_time", "<", "event_time"),
                             ("ge_record_time", ">=", "record_time"), ("lt_record_time", "<", "record_time")):
        value = getattr(q, attr)
        if value is not None:
            conds.append(f"e.{column} {op} %s")
            params.append(float(value))
    if q.declared is not None:
        conds.append("e.declared = %s")
        params.append(bool(q.declared))
    if q.event_ids:
        conds.append("e.id_key = ANY(%s)")
        params.append([text_key(i) for i in q.event_ids])
    if q.epcs:
        roles = [ROLE[r] for r in (q.epc_roles or EPC_ROLES)]
        conds.append("EXISTS (SELECT 1 FROM tc_epcis_epcs x WHERE x.seq = e.seq AND x.key = ANY(%s)"
                     " AND x.role = ANY(%s))")
        params += [[text_key(k) for k in q.epcs], roles]
    facet_conds, facet_params = facets_where(q)
    conds += facet_conds
    params += facet_params
    for role, pairs in q.refs:
        if role not in REF_ROLES:
            raise ValueError(f"{role!r} is not one of {REF_ROLES}")
        alts = []
        for rtype, rid in pairs:
            if rtype is None:
                alts.append("x.key = %s")
                params.append(text_key(rid))
            else:
                alts.append("(x.key = %s AND x.rtype = %s)")
                params += [text_key(rid), text_bytes(rtype)]
        if not alts:
            conds.append("false")
            continue
        conds.append(f"EXISTS (SELECT 1 FROM tc_epcis_epcs x WHERE x.seq = e.seq AND x.role = {ROLE[role]}"
                     f" AND ({' OR '.join(alts)}))")
    return conds, params


def _contains(values) -> str:
    """facets @> one of values (JSON texts): each an equality the GIN index answers."""
    return "(" + " OR ".join(["e.facets @> %s::jsonb"] * len(values)) + ")" if values else "false"


_QUANTITY = {"EQ": ("e.facets @> %s::jsonb", lambda v: json.dumps({"q": [float(v)]})),
             "GT": ("(e.facets->>'qmax')::float8 > %s", float), "GE": ("(e.facets->>'qmax')::float8 >= %s", float),
             "LT": ("(e.facets->>'qmin')::float8 < %s", float), "LE": ("(e.facets->>'qmin')::float8 <= %s", float)}


# EpcisQuery.fields' groups of EpcisRecord.facets (tracecode.epcis.facets)
FACET_GROUPS = ("ilmd", "ext", "ilmdi", "exti", "tid", "pd", "sensor")
_RANGE_OPS = {"GT": ">", "GE": ">=", "LT": "<", "LE": "<="}


def facets_where(q: EpcisQuery) -> tuple[list[str], list]:
    """SQL conditions on e.facets for q's facet filters (what lmdb/epcis.py facets_match says)."""
    conds, params = [], []
    for kind, name, texts in q.fields:
        if kind not in FACET_GROUPS:
            raise ValueError(f"a field filter is on one of {FACET_GROUPS}, not {kind!r}")
        if texts:
            wanted = [json.dumps({kind: {name: [t]}}) for t in texts]
            conds.append(_contains(wanted))
            params += wanted
        else:
            conds.append(f"e.facets->'{kind}' ? %s")
            params.append(name)
    for op, value in q.quantity:
        sql, conv = _QUANTITY[op]
        conds.append(sql)
        params.append(conv(value))
    for kind, name, op, as_, value in q.ranges:
        if kind not in FACET_GROUPS or op not in _RANGE_OPS or as_ not in ("n", "t"):
            raise ValueError(f"a range filter is on {FACET_GROUPS} by {_RANGE_OPS}, not {kind!r} {op!r}")
        pattern, cast = (NUMBER_PATTERN, "tc_try_numeric(v.t)") if as_ == "n" else (TIME_PATTERN, "tc_try_epoch(v.t)")
        conds.append(f"EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(e.facets->'{kind}'->%s)"
                     f" = 'array' THEN e.facets->'{kind}'->%s END) v(t) WHERE v.t ~ %s"
                     f" AND {cast} {_RANGE_OPS[op]} %s::{'numeric' if as_ == 'n' else 'float8'})")
        params += [name, name, pattern, str(value) if as_ == "n" else float(value)]
    for field, values, one in (("r", q.error_reasons, False), ("c", q.corrective_ids, True)):
        if values:
            wanted = [json.dumps({"err": {field: [v] if one else v}}) for v in values]
            conds.append(_contains(wanted))
            params += wanted
    for attr, op in (("ge_declaration_time", ">="), ("lt_declaration_time", "<")):
        value = getattr(q, attr)
        if value is not None:
            conds.append(f"(e.facets->'err'->>'t')::float8 {op} %s")
            params.append(float(value))
    for short, glns in q.within:
        if short not in ("rp", "bl"):
            raise ValueError(f"a within filter is on rp or bl, not {short!r}")
        wanted = [json.dumps({short: g}) for g in glns]
        conds.append(_contains(wanted))
        params += wanted
    return conds, params


def _order(q: EpcisQuery) -> tuple[str | None, str]:
    """(the time column pages are ordered by, None: seq alone; the token's kind letter)."""
    if q.order_by == "recordTime":
        column, kind = "record_time", "r"
    elif q.order_by == "eventTime" or not (q.event_ids or q.epcs or q.refs):
        column, kind = "event_time", "t"     # no EPC nor id named: eventTime order
    else:
        column, kind = None, "s"             # capture order
    return column, kind.upper() if q.descending else kind


def _token(after: str | None, kind: str) -> tuple | None:
    """(time, seq) or (seq,) of a page token; ValueError for one this query did not give."""
    if after is None or after == "":
        return None
    try:
        if not isinstance(after, str) or after[:1] != kind:
            raise ValueError
        parts = after[1:].split("/")
        if kind in "sS":
            (seq,) = parts
            return (int(seq),)
        value, seq = parts
        return float.fromhex(value), int(seq)
    except (ValueError, TypeError):
        raise ValueError(f"{str(after)[:40]!r} is not a page token of this query") from None


def _make_token(kind: str, row) -> str:
    return f"{kind}{row[0]}" if kind in "sS" else f"{kind}{float(row[1]).hex()}/{row[0]}"


_RECORD_COLUMNS = "e.seq, e.head, e.event_json, e.epcs_json"


def record_of(seq, head, event_json, epcs_json) -> EpcisRecord:
    return EpcisRecord(event=loads(event_json), epcs=loads(epcs_json), seq=seq, **loads(head))


def find(conn, q: EpcisQuery, after: str | None, limit: int) -> tuple[list, str | None]:
    if not isinstance(q, EpcisQuery):
        raise ValueError(f"epcis_find takes an EpcisQuery, got {type(q).__name__}")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    if q.order_by not in ORDER_BY:
        raise ValueError(f"order_by is one of {ORDER_BY}, not {q.order_by!r}")
    column, kind = _order(q)
    last = _token(after, kind)
    conds, params = where(q)
    direction = "DESC" if q.descending else "ASC"
    cmp = "<" if q.descending else ">"
    if column is None:
        order = f"e.seq {direction}"
        if last is not None:
            conds.append(f"e.seq {cmp} %s")
            params.append(last[0])
        extra = ""
    else:
        order = f"e.{column} {direction}, e.seq {direction}"
        if last is not None:
            conds.append(f"(e.{column}, e.seq) {cmp} (%s, %s)")
            params += list(last)
        extra = f", e.{column}"
    sql = (f"SELECT {_RECORD_COLUMNS}{extra} FROM tc_epcis_events e"
           f"{' WHERE ' + ' AND '.join(conds) if conds else ''} ORDER BY {order} LIMIT %s")
    rows = conn.execute(sql, params + [limit + 1]).fetchall()
    page = rows[:limit]
    out = [record_of(*r[:4]) for r in page]
    if len(rows) <= limit:
        return out, None
    tail = page[-1]
    return out, _make_token(kind, (tail[0],) if column is None else (tail[0], tail[4]))


# -- writes --------------------------------------------------------------------------------
def _rows(rec: EpcisRecord, seq: int):
    head = {k: getattr(rec, k) for k in _HEAD}
    event = (seq, text_key(rec.event_id), float(rec.event_time), float(rec.record_time),
             text_bytes(rec.type), text_bytes(rec.biz_step), text_bytes(rec.disposition),
             text_bytes(rec.read_point), text_bytes(rec.biz_location), text_bytes(rec.action),
             bool(rec.declared), dumps(head), dumps(rec.event), dumps(rec.epcs),
             json.dumps(rec.facets or {}))   # never NULL: NULL is an event from before facets (backfill)
    keys = []
    for role, epcs in rec.epcs.items():
        tag = ROLE[role] if role in EPC_ROLES else None
        if tag is None:
            raise KeyError(role)   # a role the port does not name (as the LMDB store)
        keys += [(text_key(e), seq, tag, None) for e in dict.fromkeys(epcs)]
    for role, entries in rec.refs.items():
        if role not in REF_ROLES:
            raise ValueError(f"{role!r} is not one of {REF_ROLES}")
        keys += [(text_key(i), seq, ROLE[role], text_bytes(t))
                 for t, i in dict.fromkeys((t, i) for t, i in entries)]
    return event, keys


_EVENT_COLUMNS = ("seq, id_key, event_time, record_time, type, biz_step, disposition, read_point, "
                  "biz_location, action, declared, head, event_json, epcs_json, facets")


def put(conn, records) -> list[bool]:
    """Store the records whose event ids are new, inside conn's transaction; which were."""
    records = list(records)
    for rec in records:
        if not isinstance(rec, EpcisRecord):
            raise ValueError(f"epcis_put takes EpcisRecords, got {type(rec).__name__}")
    if not records:
        return []
    ids = [text_key(r.event_id) for r in records]
    # the counter's row lock first: seqs in commit order, and no other writer of these ids
    (seq,) = conn.execute("SELECT next FROM tc_epcis_seq FOR UPDATE").fetchone()
    seen = {bytes(k) for (k,) in conn.execute(
        "SELECT id_key FROM tc_epcis_events WHERE id_key = ANY(%s)", [list(set(ids))])}
    out, events, keys = [], [], []
    for rec, key in zip(records, ids):
        if key in seen:
            out.append(False)
            continue
        seen.add(key)
        event, epcs = _rows(rec, seq)
        events.append(event)
        keys += epcs
        out.append(True)
        seq += 1
    cur = conn.cursor()
    if events:
        with cur.copy(f"COPY tc_epcis_events ({_EVENT_COLUMNS}) FROM STDIN") as copy:
            for row in events:
                copy.write_row(row)
    if keys:
        with cur.copy("COPY tc_epcis_epcs (key, seq, role, rtype) FROM STDIN") as copy:
            for row in keys:
                copy.write_row(row)
    conn.execute("UPDATE tc_epcis_seq SET next = %s", [seq])
    return out


def by_ids(conn, ids) -> list:
    keys = [text_key(i) for i in ids]
    found = {bytes(r[0]): r[1:] for r in conn.execute(
        f"SELECT e.id_key, {_RECORD_COLUMNS} FROM tc_epcis_events e WHERE e.id_key = ANY(%s)", [keys])}
    return [record_of(*found[k]) if k in found else None for k in keys]


# -- capture jobs --------------------------------------------------------------------------
def _job_listing(job: dict):
    client, created = job.get("client"), job.get("created")
    if isinstance(client, str) and isinstance(created, str) and client:
        return text_bytes(client), text_bytes(created)
    return None, None


class EpcisMixin:
    """The port's EPCIS event and capture job verbs (PgStore composes it)."""

    def epcis_put(self, records) -> list[bool]:
        records = list(records)
        return run_write(self, lambda conn: put(conn, records))

    def epcis_events(self, ids) -> list:
        with reading(self) as conn:
            return by_ids(conn, list(ids))

    def epcis_find(self, query, after=None, limit: int = 100):
        with reading(self) as conn:
            return find(conn, query, after, limit)

    def epcis_count(self, query, most: int) -> int:
        if not isinstance(query, EpcisQuery):
            raise ValueError(f"epcis_count takes an EpcisQuery, got {type(query).__name__}")
        if not isinstance(most, int) or isinstance(most, bool) or most < 0:
            raise ValueError(f"most must be a whole number, got {most!r}")
        conds, params = where(query)
        with reading(self) as conn:   # the rows' columns only: no event JSON read
            return conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM tc_epcis_events e"
                                f"{' WHERE ' + ' AND '.join(conds) if conds else ''} LIMIT %s) t",
                                params + [most + 1]).fetchone()[0]

    def capture_job_put(self, job: dict) -> None:
        if not isinstance(job, dict) or not isinstance(job.get("id"), str):
            raise ValueError("a capture job is a dict with an id (text)")
        client, created = _job_listing(job)
        with writing(self) as conn:   # listed under the client and created it was first put with
            conn.execute("INSERT INTO tc_capture_jobs (id_key, job, client, created) VALUES (%s, %s, %s, %s) "
                         "ON CONFLICT (id_key) DO UPDATE SET job = excluded.job, "
                         "client = coalesce(tc_capture_jobs.client, excluded.client), "
                         "created = CASE WHEN tc_capture_jobs.client IS NULL THEN excluded.created "
                         "ELSE tc_capture_jobs.created END",
                         [text_key(job["id"]), dumps(job), client, created])

    def capture_job_get(self, job_id: str) -> dict | None:
        with reading(self) as conn:
            row = conn.execute("SELECT job FROM tc_capture_jobs WHERE id_key = %s", [text_key(job_id)]).fetchone()
        return None if row is None else loads(row[0])

    def capture_jobs(self, client: str, after=None, limit: int = 100):
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        if not isinstance(client, str) or not client:
            raise ValueError("tc_capture_jobs needs a client name")
        conds, params = ["client = %s"], [text_bytes(client)]
        if after:
            try:
                if after[:1] != "j":
                    raise ValueError
                created, id_key = (bytes.fromhex(p) for p in after[1:].split("/"))
            except (ValueError, TypeError):
                raise ValueError(f"{str(after)[:40]!r} is not a page token of this query") from None
            conds.append("(created, id_key) < (%s, %s)")
            params += [created, id_key]
        with reading(self) as conn:
            rows = conn.execute(f"SELECT job, created, id_key FROM tc_capture_jobs WHERE {' AND '.join(conds)} "
                                "ORDER BY created DESC, id_key DESC LIMIT %s", params + [limit + 1]).fetchall()
        out = [loads(r[0]) for r in rows[:limit]]
        if len(rows) <= limit:
            return out, None
        tail = rows[limit - 1]
        return out, f"j{bytes(tail[1]).hex()}/{bytes(tail[2]).hex()}"


class ViewPart:
    """The write view's epcis_put: EPCIS events and the lifecycle events they carry commit
    together, in the view's transaction."""

    __slots__ = ()

    def epcis_put(self, records) -> list[bool]:
        return put(self.conn, records)


Part = EpcisMixin   # the store methods PgStore mixes in (connection.py's contract)

FACETS_CHUNK = 2_000   # events given their facets per transaction by the backfill


def opened(store) -> None:
    """Events stored before facets (facets IS NULL), given theirs; then, once per facets.VERSION
    (tc_meta's 'facets'), every event's facets drawn again (the sensor and INNER_ ones came with
    version 3), written where they changed: FACETS_CHUNK per committed transaction in seq
    order with the seq reached ('facets_at'), so a kill -9 loses one chunk's work and the next
    open carries on. Computed in Python from the stored event (tracecode.epcis.facets, the one
    definition); only the event's own @context is known (the document's was not kept). A
    standby skips it (its primary's backfill replicates)."""
    from ...epcis.facets import VERSION
    from ..errors import IndexReadOnly

    def done(view):
        view.meta_put("facets", str(VERSION).encode())
        view.conn.execute("DELETE FROM tc_meta WHERE key = 'facets_at'")
    try:
        _refacet(store, "facets IS NULL", 0)
        if store.meta_get("facets") != str(VERSION).encode():
            at = store.meta_get("facets_at")
            _refacet(store, "true", int(at) if at else 0, every=True)
            store.write(done)
    except IndexReadOnly:
        return


def _refacet(store, where: str, last: int, every: bool = False) -> None:
    """Facets drawn for the events after seq `last` that `where` selects, a chunk per
    transaction; `every`: a pass over all events, so only those whose facets changed are
    written, and the seq reached is kept ('facets_at')."""
    from ...epcis.facets import facets_of
    # a pass over all waits for a row another transaction holds, not skip it for good
    lock = "FOR UPDATE" if every else "FOR UPDATE SKIP LOCKED"

    def chunk(view, after: int) -> int | None:   # the seq reached, None: no event left
        rows = view.conn.execute(f"SELECT seq, head, event_json FROM tc_epcis_events WHERE seq > %s AND {where} "
                                 f"ORDER BY seq LIMIT %s {lock}", [after, FACETS_CHUNK]).fetchall()
        if not rows:
            return None
        updates = []
        for seq, head, event_json in rows:
            facets, old = facets_of(loads(event_json)), loads(head)
            if not every or old.get("facets") != facets:
                updates.append((json.dumps(facets), dumps({**old, "facets": facets}), seq))
        with view.conn.cursor() as cur:
            cur.executemany("UPDATE tc_epcis_events SET facets = %s::jsonb, head = %s WHERE seq = %s", updates)
        if every:
            view.meta_put("facets_at", str(rows[-1][0]).encode())
        return rows[-1][0]
    while (reached := store.write(lambda view: chunk(view, last))) is not None:
        last = reached
