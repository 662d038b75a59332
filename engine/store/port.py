"""The storage port: what the domain (verdicts, events, issuance, registries) asks of a store.

Batch-shaped: numpy arrays in, numpy arrays out, one call per batch of scans or codes, never
a call per code. No transaction object, cursor or key layout crosses it: a read is a view of
one consistent snapshot (``Store.reading()``), and what a key of a code looks like is the
implementation's business (it builds the ``refs`` the view reads, from product ids and
counters or from a code's text). LMDB implements it in store/lmdb/; a replicated store
(PostgreSQL) is the next implementation, run against the same tests.

Verification's read path, lifecycle events and packing (an EventPlan per event, applied in
one atomic write), imported codes, history, statistics, idempotency keys, the scan log
(record_scans, group-committed) and the product registries (RegistryStore: approvals,
national code data, imports with their audit record), the links of products (links_get,
links_put) and EPCIS events with capture jobs (epcis_put, epcis_find...) are on the port
today; reservations, backup and restore and the reservation journal still use the LMDB store
directly (tracecode.store.lmdb) and move behind it next.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator, Protocol

import numpy as np

# -- national code data: the registry's fixed-width records --------------------------------
# A code, approval number, lot or parent of national code data is at most NATIONAL_TEXT
# bytes (codes are 24 or 32 digits, lots at most limits.REGISTRY_LOT_BYTES: records.py
# refuses wider rows): the width every store keeps them in, so a batch of records is one
# numpy array in and out.
NATIONAL_TEXT = "S32"
NATIONAL_CODE_DTYPE = np.dtype([("number", NATIONAL_TEXT), ("lot", NATIONAL_TEXT),
                                ("produced", "<u4"), ("expiry", "<u4"),   # YYYYMMDD, 0: none
                                ("level", "u1"), ("parent", NATIONAL_TEXT)])  # b"": at the top


# The scanner name of the public window's queries (tracecode.app.caller.PUBLIC): the store
# keeps those of each code apart, for ReadView.public_queries.
PUBLIC_SCANNER = "public"


# What an event recalls, named by what it means (the store keys it):
# ("batch", batch_id) or ("lot", scheme name, product key, lot).
RecallTarget = tuple


@dataclass
class EventPlan:
    """What one lifecycle event writes: decided and checked by the domain (index.py) over a
    view, applied by the store in the same atomic write (WriteView.apply_event)."""
    record: dict                   # the event as stored (the store gives it its seq)
    client: str | None             # whose event id it is (None: this data directory's caller)
    event_id: str
    digest: bytes                  # the event's content digest: a resend is known by it
    refs: list                     # its codes, as the view's refs, in event order
    state: int | None = None       # every ref's new status (None: the event changes none)
    parent: object = None          # the container of an aggregation (a ref)
    link: str | None = None        # "pack": refs go into parent; "unpack": they leave it
    parent_state_if_new: int | None = None   # a container not alive yet comes alive so
    bind_user: str | None = None   # the client that becomes the SSCC parent's user
    recalls: list = field(default_factory=list)   # RecallTargets
    encoded: bytes | None = None   # record as UTF-8 JSON, when the domain encoded it already


# -- EPCIS events (tracecode.epcis reads them; the store keeps and indexes them) ------------
# The roles an EPC plays in an event: epcList, parentID, childEPCs, inputEPCList,
# outputEPCList, and class level the epcClass of quantityList and childQuantityList
# ("class"), of inputQuantityList and of outputQuantityList.
EPC_ROLES = ("epc", "parent", "child", "input", "output", "class", "input_class", "output_class")
# What else an event names by id, indexed like its EPCs (EpcisRecord.refs): the ids of its
# bizTransactionList, sourceList and destinationList (queryable by transaction number).
REF_ROLES = ("transaction", "source", "destination")
ORDER_BY = ("", "eventTime", "recordTime")   # "": capture order by EPC, else eventTime


@dataclass
class EpcisRecord:
    """One captured EPCIS event as the store keeps it: the event JSON as sent (plus its
    recordTime) and what queries select it by. Times are seconds since the epoch; EPCs by
    role (EPC_ROLES) as the application keys them (tracecode.app.epcis: a code's own form
    when it has one, so every URI of a code finds it; queries give the same keys)."""
    event_id: str                  # the event's eventID, or its GS1 event hash
    event: dict                    # the event JSON as captured, recordTime added
    event_time: float
    time_offset: str               # eventTimeZoneOffset, "+08:00"
    record_time: float
    type: str                      # ObjectEvent, AggregationEvent...
    biz_step: str | None = None
    disposition: str | None = None
    read_point: str | None = None
    biz_location: str | None = None
    epcs: dict = field(default_factory=dict)   # role -> [EPC URI]
    client: str | None = None      # who captured it (None: the data directory's own caller)
    seq: int | None = None         # the store's, in capture order (None until stored)
    action: str | None = None      # ADD, OBSERVE, DELETE (None: a TransformationEvent)
    # REF_ROLES -> [[type or None, id]]: bizTransactionList, sourceList, destinationList
    refs: dict = field(default_factory=dict)
    declared: bool = False         # it carries an errorDeclaration (the event it declares wrong)
    # what the other query parameters test (tracecode.epcis.facets: ilmd, ext, q, err, rp, bl):
    # JSON-safe text and numbers, drawn from the event at capture
    facets: dict = field(default_factory=dict)


@dataclass
class LoggedEvent:
    """A stored EPCIS event as a delivery sends it (Store.epcis_log): its JSON as captured,
    not decoded, and what rights are judged by."""
    seq: int
    event_id: str
    client: str | None
    event_json: bytes              # UTF-8 (a lone surrogate the capture kept: as surrogatepass)
    epcs: dict                     # role -> [EPC key], as EpcisRecord.epcs


@dataclass(frozen=True)
class EpcisQuery:
    """What epcis_find selects (every field that is set must match; a tuple matches any of
    its values). epcs: events naming any of them in one of epc_roles (all roles when
    empty), answered in capture order; without epcs, events in eventTime order (or
    order_by's, newest first when descending). event_ids: those events only. refs:
    REF_ROLES -> ((type, id), ...): an event with an entry of that role, type and id (type
    None: any type), as the binding's EQ_bizTransaction_type, EQ_source_type..."""
    event_types: tuple = ()
    ge_event_time: float | None = None
    lt_event_time: float | None = None
    ge_record_time: float | None = None
    lt_record_time: float | None = None
    biz_steps: tuple = ()
    dispositions: tuple = ()
    read_points: tuple = ()
    biz_locations: tuple = ()
    epcs: tuple = ()
    epc_roles: tuple = ()
    event_ids: tuple = ()
    actions: tuple = ()
    refs: tuple = ()               # ((role, ((type, id), ...)), ...): every role given must match
    order_by: str = ""             # ORDER_BY
    descending: bool = False
    declared: bool | None = None   # True: error declarations only; False: none of them
    # on EpcisRecord.facets (every one given must hold):
    fields: tuple = ()             # ((facet group: ilmd, ext, tid, pd; name, (texts...)), ...): one equal; () exists
    quantity: tuple = ()           # (("EQ" | "GT" | "GE" | "LT" | "LE", number), ...): some quantity
    ranges: tuple = ()             # ((group, name, "GT"|"GE"|"LT"|"LE", "n"|"t", value), ...): some value
                                   # of the field, as a number (Decimal text) or date-time (epoch), compares so
    ge_declaration_time: float | None = None   # errorDeclaration's declarationTime
    lt_declaration_time: float | None = None
    error_reasons: tuple = ()      # errorDeclaration's reason (bare CBV word)
    corrective_ids: tuple = ()     # one of errorDeclaration's correctiveEventIDs
    within: tuple = ()             # (("rp" | "bl", (GLN "(414)...", ...)), ...): readPoint / bizLocation under it


class ReadView(Protocol):
    """One consistent snapshot of the store, for the length of one verification call."""

    def known_products(self):
        """The products that have had a batch (the scan parser decides schemes by them)."""

    def product_id(self, scheme: str, product_key: bytes) -> int | None:
        """The product's id, None if it never had a batch."""

    def table_mark(self, scheme: str, product_key: bytes):
        """A token that changes whenever the product's batch table does (to cache it by)."""

    def batch_table(self, scheme: str, product_key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, ids) of the product's batches: sorted uint64 arrays."""

    def batch(self, batch_id: int):
        """The BatchRecord of an id, None if there is none."""

    def recall_seq(self, targets) -> int:
        """The latest recall event's seq among RecallTargets, 0 if none."""

    def code_records(self, refs, place_hash: int, status, seq, scan_count, places,
                     first_scan_time, first_seq) -> None:
        """Per-code records of every ref, in bulk, into the given numpy columns."""

    def code_record(self, ref) -> tuple:
        """One code's record: (status, seq, scan count, places, first scan time, first seq, _)."""

    def imported_values(self, buf, off, found) -> list:
        """Imported codes' records of keys buf[off[i]:off[i+1]]; found[i] set for each hit."""

    def imported_one(self, ref) -> bytes | None:
        """One imported code's record (JSON bytes), None if it was not imported."""

    def scan_place(self, seq: int) -> str | None:
        """The place of a logged scan."""

    def parent_of(self, ref):
        """The container a code is packed in (a ref), None if none."""

    def children(self, ref) -> list:
        """The codes packed directly in a container (refs)."""

    def parents(self, refs) -> dict:
        """ref -> its container for those of refs packed in one, in one bulk read."""

    def holding(self, refs) -> set:
        """Those of refs that have codes packed in them, in one bulk read."""

    def sscc_user(self, ref) -> str | None:
        """The client that first packed into an SSCC, None if nobody did."""

    def product_of(self, product_id: int) -> tuple | None:
        """(scheme name, product) of a product id."""

    def code_event_seqs(self, refs) -> list:
        """Each ref's event seqs, ascending ([] for none): what depends on an event (index/undo.py)."""

    def events_at(self, seqs) -> dict:
        """{seq: the event record} of lifecycle event seqs (those that exist)."""

    def events_of(self, ref, max_codes: int | None = None) -> list:
        """The events of a code, in seq order; max_codes: each lists at most that many of
        its codes (and codes_total, how many it had, when it had more)."""

    def scans_of(self, ref) -> list:
        """(seq, scan record) of a code's logged scans, newest first."""

    def event_seen(self, client: str | None, event_id: str) -> tuple[int, bytes] | None:
        """(seq, digest) of the event a client applied under an id, None if none."""

    def public_queries(self, ref, bound: int) -> tuple:
        """(count, first time, first place) of a code's scans by PUBLIC_SCANNER, the count
        up to bound + 1 (more than bound: "more than bound"): one bounded range read, never
        the code's whole scan log. Committed scans only (the log commits every few ms)."""


class WriteView(ReadView, Protocol):
    """A view inside one atomic write: reads see the writes before them."""

    def apply_event(self, plan: EventPlan) -> int:
        """Write the plan; returns the event's seq."""

    def restore_states(self, states: list, undone: int | None = None) -> None:
        """[(ref, status or None, seq)]: each code's own state put back (None: no state, issued
        again), for an event declared erroneous (index/undo.py); the event stays logged, its
        record (seq `undone`) marked "undone": true."""

    def apply_events(self, plans: list) -> list[int]:
        """Write the plans in order, as apply_event of each would; returns their seqs (in
        one pass: many small events cost one sorted write, not one write each)."""

    def nested(self, body: Callable):
        """body(view) in a nested write: its writes are undone if it raises."""

    def epcis_put(self, records: list) -> list[bool]:
        """Store.epcis_put inside this write: EPCIS events and the lifecycle events they
        carry commit together, or neither does."""


class Store(Protocol):
    def reading(self) -> ContextManager[ReadView]:
        """A view of one snapshot, released on leaving the block."""

    def stamp_format(self, fmt: bytes) -> bytes:
        """The record format the store holds, stamping a new store with fmt."""

    def upgrade_format(self, have: bytes, fmt: bytes) -> bytes:
        """Rewrite a store of format `have` in format `fmt` where the store knows how (all or
        nothing); returns the format it holds after (`have` when it knows no way)."""

    def put_imported(self, codes: list, value: bytes) -> None:
        """Codes issued elsewhere, each with one record (JSON bytes), in one commit."""

    # -- codes others assigned, registered (tracecode.index.register), and their assets' steps
    def put_registered(self, codes: np.ndarray, value: bytes, order=None) -> np.ndarray:
        """Codes others assigned (a numpy S array of codes compact as their Scheme.compact
        leaves them; ``order``: an int64 order to write them in), each with the record value
        (JSON bytes), in one commit; a code already there keeps its record. A uint8 array: 1
        where the code was there (or earlier in this call) before. Verify finds them as
        imported codes."""

    def registered_one(self, code: str) -> bytes | None:
        """The record (JSON bytes) of a code registered or imported, compact as registered;
        None if there is none."""

    def asset_steps(self, code: str) -> list:
        """The steps of an asset (its compact code), oldest first (JSON bytes each); [] for none."""

    def asset_append(self, code: str, expect: int, record: bytes) -> bool:
        """Append a step (JSON bytes) only if the asset has exactly ``expect`` steps (the
        history the caller checked it against), durably; False and nothing written if not.
        Steps are never rewritten nor pruned."""

    def asset_append_all(self, appends: list) -> bool:
        """asset_append of each (code, expect, record) of distinct codes, in one durable
        write: all appended, or False and nothing written when any code has not exactly its
        ``expect`` steps (a lost ear tag's replacement and its new tag's tagging together)."""

    def write(self, body: Callable):
        """body(WriteView) in one atomic, durable write; its value once committed. A full
        store is IndexFull with nothing written."""

    def stats(self) -> dict:
        """events, scans, products per scheme, bytes in use and the map's size."""

    def bytes_in_use(self, part: str | None = None) -> int:
        """Bytes one part of the data occupies, for capacity planning: "issuance" (batch
        tables), "verdicts" (per-code records verification reads), "history" (events and
        packing links only history() reads), "scan_log", "epcis" (captured EPCIS events and
        capture jobs); None: all of it."""

    def reserve(self, scheme: str, product_key: bytes, product: dict, count: int, capacity: int,
                *, also=None, **details):
        """Reserve `count` counters of a product and record the batch (a BatchRecord) in one
        durable write, acknowledged after its commit; CapacityExceeded past `capacity`.
        also(txn_or_view, record) writes what belongs with the batch in the same write."""

    def issued(self, scheme: str, product_key: bytes) -> int:
        """Counters reserved so far for a product (the next start)."""

    def batches_after(self, after_id: int = 0):
        """Batch records with ids above after_id, in id order."""

    def versions(self) -> dict:
        """The storage software's versions, for reports."""

    def batch(self, batch_id: int):
        """The BatchRecord of an id, None if there is none."""

    def next_batch_id(self) -> int:
        """The id the next batch will get."""

    # -- the scan log ----------------------------------------------------------------------
    # Recording is group-committed: record_scans returns once the scans are queued, and
    # the store commits what has gathered every few milliseconds (LMDB: 5 ms; a PostgreSQL
    # store: one COPY) together with each code's per-code record (scan count, first scan,
    # places). A crash loses at most the scans of the last interval, never more than twice
    # the store's queue bound (LMDB: 2 x scanlog.MAX_PENDING), never a committed scan and
    # never an event. While commits fail (a full disk) the queue stays bounded: a call that
    # would pass the bound is refused (IndexFull), its scans neither recorded nor queued.

    def record_scans(self, refs, verdicts: np.ndarray, scanner: str | None, place: str | None,
                     when: float, *, region: str | None = None, lat: float | None = None,
                     lon: float | None = None) -> None:
        """Log one call's scans: the codes' refs (empty for a scan of no known code) and
        their verdicts (uint8), from one scanner at one place at one time. region: a GB/T
        2260 code (6 digits, checked by tracecode.regions.location before it gets here),
        lat/lon WGS-84 degrees (range-checked likewise); None: not given, and scans logged
        before these existed read as None."""

    def record_scan(self, ref, verdict: int, scanner: str | None, place: str | None,
                    when: float, *, region: str | None = None, lat: float | None = None,
                    lon: float | None = None) -> None:
        """Log one scan (the single verify's path: a few list appends)."""

    def flush_scans(self) -> int:
        """Commit the queued scans now; how many. The commit's error if it fails (they stay queued)."""

    def purge_scanner(self, scanner: str, *, dry_run: bool = False) -> dict:
        """Remove one scanner's scans (queued ones first committed) and mend the per-code
        summaries they were in (count, first and last scan, places, each scan's previous
        one), in one write: {"scans": removed, "codes": summaries changed}. dry_run counts
        only. PUBLIC_SCANNER is refused (ValueError): its queries name nobody."""

    def purge_before(self, when: float, *, dry_run: bool = False) -> dict:
        """Remove every scan recorded before `when` (Unix time), the public window's queries
        among them, mending the summaries as purge_scanner does: a retention period."""

    # -- the analytics export's reads (tracecode.analytics.export): the logs in seq order, a
    # chunk at a time. Both stores implement them (store/lmdb/exportread.py,
    # store/postgres/scanlog.py and events.py).
    def scans_since(self, after_seq: int, limit: int) -> dict:
        """Committed scans with seq > after_seq, at most limit, in seq order, as columns:
        seq (int64), time (float64), verdict (uint8, Verdict values), source (int32: an index
        into sources, the chunk's distinct (scanner, place, region, lat, lon)), keys (the
        codes' refs packed as codekeys.Keys, empty for a scan of no known code)."""

    def events_since(self, after_seq: int, limit: int) -> list:
        """Lifecycle events with seq > after_seq, at most limit, in seq order (their records
        as stored: dicts with seq, id, action, type, bizStep, codes, time...)."""

    def export_last_seqs(self) -> tuple[int, int]:
        """(the last scan seq, the last event seq) the store ever gave, purged or not; 0
        when none: an export's marks past them are another store's."""

    def close(self) -> None:
        """Commit what is queued and stop the store's background work."""

    def registry(self) -> RegistryStore:
        """The product registries (their tables made on first use: a read-only store that
        never had them is IndexReadOnly, a full one IndexFull)."""

    def idempotency_get(self, client: str, key: str) -> dict | None:
        """The entry recorded under a client's idempotency key, None if none."""

    def idempotency_put(self, client: str, key: str, entry: dict) -> None:
        """Record (replace) a client's idempotency entry, durably; IndexFull on a full disk."""

    # -- the analytics' alerts (tracecode.analytics.alerts) ---------------------------------
    # An alert is a dict with a stable id (rule, subject, window); both stores implement
    # these (engine/store/lmdb/alerts.py, engine/store/postgres/alerts.py), alike in what an
    # update keeps (engine/store/alert_merge.py).

    def alerts_put(self, alerts: list) -> list[bool]:
        """Store alerts in one durable write; an id already stored is updated (last time,
        evidence), never duplicated, its status (open/closed) kept — except that a closed one
        with a later last_time than when it was closed opens again. True for each new one."""

    def alerts_find(self, rule: str | None = None, code: str | None = None,
                    open_only: bool = False, subject: str | None = None, limit: int = 1000,
                    after: tuple | None = None, region: str | None = None, since: str | None = None,
                    products=None) -> list:
        """Alerts matching every filter given, newest last_time first (then id, descending),
        at most limit; after=(last_time, id) of a page's last alert: the next page. region: a
        prefix of the alert's region code; since: last_time >= it (an ISO date or time);
        products: the alert's product is one of these."""

    def alert_close(self, alert_id: str, by: str, note: str = "") -> bool:
        """Close an open alert (who, why); False if none by that id is open."""

    def alerts_version(self) -> int:
        """A number every alerts_put and alert_close changes: a reader of the open alerts
        (tracecode.app.alertfeed) rereads them only when it moved."""

    def alerts_open_codes(self, rules) -> list[tuple[str, str, str]]:
        """(code, rule, alert id) of every open alert of these rules that names a code, in
        one read that decodes no alert (the verification feed's)."""

    # -- the links of products (the resolver's targets) -----------------------------------
    # A link key names a product ("01/<GTIN-14>", "01/<GTIN-14>/10/<lot>", "<scheme>/<product>":
    # tracecode.app.links); its links are plain dicts (tracecode.digitallink.links.Link.to_dict),
    # kept as one list that a put replaces whole, atomically.

    def links_get(self, key: str) -> list[dict]:
        """The links stored under a key, in the order they were put; [] if none (a store
        that never had links, read-only included, has none)."""

    def links_put(self, key: str, links: list[dict]) -> None:
        """Replace a key's links, durably, in one write (an empty list deletes the key);
        IndexFull with nothing written on a full disk, IndexReadOnly on a read-only store.
        ValueError for a key the store cannot hold (empty, NUL, over 256 bytes of UTF-8)."""

    def links_keys(self, prefix: str = "") -> list[str]:
        """The keys with links that start with prefix, in key (UTF-8 byte) order."""

    # -- EPCIS events and capture jobs -----------------------------------------------------
    # An event is kept whole (EpcisRecord.event) and indexed by each EPC it names and by its
    # eventTime, so the events of one EPC, or of a time range, are found without reading the
    # others. Capture jobs are plain dicts (tracecode.app.epcis), replaced whole.

    def epcis_put(self, records: list) -> list[bool]:
        """Store EpcisRecords in one durable write; which were new (an event id stored
        before, or twice in records, is not stored again: capture is idempotent).
        IndexFull with nothing written on a full disk, IndexReadOnly on a read-only store."""

    def epcis_events(self, ids: list) -> list:
        """The stored EpcisRecord of each event id (with its seq), None where none is."""

    def epcis_find(self, query: EpcisQuery, after: str | None = None,
                   limit: int = 100) -> tuple[list, str | None]:
        """(at most limit EpcisRecords matching query, the token of the next page or None
        when there is none); after: a token this query gave. A page may hold fewer than
        limit records and still name a next page (a bounded read per call). ValueError
        for a token the query did not give."""

    def epcis_count(self, query: EpcisQuery, most: int) -> int:
        """How many events query selects, counted to most + 1 at most (more is more than
        most), from what the store indexes: no event is decoded (maxEventCount's count)."""

    def capture_job_put(self, job: dict) -> None:
        """Record (replace) a capture job ({"id": text, ...} JSON), durably."""

    def capture_job_get(self, job_id: str) -> dict | None:
        """The capture job of an id, None if none."""

    def capture_jobs(self, client: str, after: str | None = None, limit: int = 100) -> tuple[list, str | None]:
        """(a page of client's capture jobs, newest first, the token of the next page or None).
        A job is listed under the "client" and "created" it was first put with."""

    # Named queries: a saved query definition per owner (the EPCIS REST binding's /queries;
    # subscriptions run these same queries). A definition is plain JSON the application
    # writes ({"name", "query": {GS1 parameter: [values]}, "created", ...}). Names are
    # non-empty text of at most 256 bytes of UTF-8 without NUL (ValueError otherwise), and
    # are per owner: two owners may each have a query "recalls".

    def queries_put(self, owner: str, name: str, definition: dict) -> bool:
        """Store a new named query durably; False (nothing written) if owner has one of
        that name already (a definition is never replaced: delete it first)."""

    def queries_get(self, owner: str, name: str) -> dict | None:
        """The definition of owner's query of that name, None if none."""

    def queries_delete(self, owner: str, name: str) -> bool:
        """Delete owner's query of that name durably; whether there was one."""

    def queries_list(self, owner: str | None = None, after: str | None = None,
                     limit: int = 100) -> tuple[list, str | None]:
        """(a page of (owner, name, definition), by owner then name (UTF-8 byte order),
        the token of the next page or None); owner None lists every owner's."""


    # -- EPCIS subscriptions: the outbox is the event log in seq (commit) order --------------
    # A record's seq is assigned inside its write transaction, so seq order is commit order
    # and a subscription's bookmark (the last seq delivered) names a point of the log.

    def epcis_since(self, query: EpcisQuery | None, after: int, limit: int = 1000) -> tuple[list, int]:
        """(at most limit EpcisRecords with seq > after matching query (None: all), in seq
        order; the last seq read, matching or not, to move a bookmark to). A bounded read
        per call: fewer than limit records does not mean the log is at its end (that is
        when the last seq read is epcis_last_seq()). ValueError for a negative bookmark or
        a limit under 1."""

    def epcis_log(self, query: EpcisQuery | None, after: int, limit: int = 1000,
                  with_epcs: bool = True) -> tuple[list, int]:
        """epcis_since with LoggedEvents: each event's JSON as stored, for a delivery to
        pass on without decoding and encoding it again; with_epcs=False leaves their epcs
        empty (an overseer's delivery judges no rights by them)."""

    def epcis_last_seq(self) -> int:
        """The seq of the last EPCIS record stored, 0 when none is."""

    def subscription_put(self, sub: dict, bookmark: int | None = None) -> dict:
        """Record (replace) a subscription ({"id": text, ...} JSON), durably; its delivery
        state is created at bookmark (default: the last seq, so only what comes next is
        delivered) or, for one that exists, kept unless bookmark is given. The subscription
        with its "state" ({"bookmark", "generation", "attempts", "next_try", "last_error",
        "last_notified", "delivered"})."""

    def subscription_get(self, sub_id: str) -> dict | None:
        """A subscription with its "state", None if none."""

    def subscriptions(self) -> list:
        """Every subscription with its "state", in id order."""

    def subscription_delete(self, sub_id: str) -> bool:
        """Delete a subscription and its state; False if there was none."""

    def subscription_rewind(self, sub_id: str, bookmark: int) -> dict | None:
        """Move the bookmark (back, or on) and start a new generation: retries reset, and
        a delivery begun before cannot record progress. The new state, None if no such
        subscription."""

    def subscription_progress(self, sub_id: str, generation: int, changes: dict,
                              lease: tuple[str, str] | None = None) -> bool:
        """Update the delivery state (bookmark, attempts, next_try, last_error,
        last_notified, delivered) only while the generation is still the given one and,
        with lease=(name, holder), only while holder still holds that lease (a stalled
        former delivery runner cannot move bookmarks back); whether it was."""

    def lease(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew a named lease for ttl seconds: True when holder has it (it was
        free, expired, or its own), False while another holder's is current."""

    def lease_release(self, name: str, holder: str) -> None:
        """Give a lease back (only its holder's; another holder's is left alone)."""


class RegistryView(Protocol):
    """One consistent snapshot of the product registries (approvals and registrations, the
    links of our batches to them, national code data, the import audit trail)."""

    def approval(self, number: str):
        """The ApprovalRecord of a canonical number, None if it is not in the registry."""

    def numbers_by_enterprise(self, enterprise_id: str) -> list[str]:
        """The numbers of the veterinary approvals an enterprise (5-digit id) holds."""

    def numbers_by_prefix(self, prefix: str) -> list[str]:
        """The numbers of the pesticide registrations a label code's 7-digit prefix encodes."""

    def approvals(self) -> Iterator:
        """Every ApprovalRecord, in number order."""

    def batch_links(self, batch_ids) -> dict:
        """batch id -> {"number", "level"} for those of our batches linked to an approval."""

    def national_codes(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For a sorted, unique NATIONAL_TEXT array of codes: (positions found,
        NATIONAL_CODE_DTYPE records of them), in one bulk read."""

    def imports(self) -> list[dict]:
        """The audit trail: one summary per import, oldest first."""


class RegistryWriteView(RegistryView, Protocol):
    """A registry view inside one atomic write: reads see the writes before them."""

    def put_approval(self, record, old) -> None:
        """Store (replace) a record; old is the one it replaces (None: a new number)."""

    def put_national_codes(self, codes: np.ndarray, records: np.ndarray, imported: list) -> None:
        """National code data: codes (sorted NATIONAL_TEXT) with their NATIONAL_CODE_DTYPE
        records, and each code's imported record (JSON bytes) for verification, together."""

    def log_import(self, summary: dict) -> int:
        """Append an import's summary to the audit trail (the store adds seq and time)."""


class RegistryStore(Protocol):
    """The product registries of a store (Store.registry())."""

    def reading(self) -> ContextManager[RegistryView]:
        """A view of one snapshot, released on leaving the block."""

    def link_batch_in(self, write, batch_id: int, number: str, level: int) -> None:
        """link_batch inside another write of this store: `write` is what an `also=` callback
        of Store.issue receives (so a batch and its link are one transaction)."""

    def write(self, body: Callable):
        """body(RegistryWriteView) in one atomic, durable write (an import and its audit
        record together); its value once committed. A full store is IndexFull with nothing
        written."""

    def link_batch(self, batch_id: int, number: str, level: int) -> None:
        """Record, durably, that one of our batches carries an approval (and packaging level)."""
