"""The index: verdicts on scans, lifecycle events, history, imported codes.

It decides; the store (tracecode.store) keeps. Verification reads through store.reading(),
events are EventPlans applied by store.write(); the LMDB tables and keys are in
store/lmdb/store.py.
"""
from __future__ import annotations

import bisect
import datetime as _dt
import json
import math
import time as _time

import numpy as np

from .. import dates, limits
from ..errors import InvalidComponent, InvalidFormat, KeyStoreError, TracecodeError
from ..issuance import Issuer
from ..scan import Fault, ScanParser
from ..cache import BoundedCache
from ..store.lmdb import _codes, codekeys, scankeys
from ..store.lmdb.batches import BatchRecord
from ..store.lmdb.codekeys import Keys
from ..store.lmdb.env import IndexFull, read_only_error
from . import lifecycle
from . import retired
from .keyversions import KeyVersions
from .lifecycle import ACTIONS, EventError, Status, check_transition
from .verdicts import DECIDE, Answer, Verdict, decide_one, reasons
from ..store.lmdb.scanlog import place_hash
from ..store.lmdb.store import LmdbStore
from ..store.port import EventPlan
from ..regions.location import scan_location
from . import gcpause
from .pending import PendingView, PendingWrites

FORMAT = b"3"  # bump when a record layout changes (3: LMDB scan summaries in a table of their own)
MAX_DEPTH = _codes.CONTAINER_DEPTH            # unit < case < pallet < ... at most this deep
HISTORY_CODES = 100     # codes of one event shown in a history item (codes_total: all)
_SHARED_TEXT = 200      # longer event codes are parsed by their own event (junk, mostly)
_SSCC_LENGTHS = (18, 22)   # 18 digits, or (00) and 18 digits
TABLE_CACHE = 4096      # products whose batch tables are kept (LRU)
BATCH_CACHE = 16384     # batch records and their recall keys kept (LRU)
# codes of ours verify just read: the same request's next reads of the code (its history,
# its public queries, the query recorded once its limits let it through) parse and decrypt
# it once. Small on purpose: the requests in flight, not a cache of the catalogue
JUST_READ = 256


class _Refused(Exception):
    def __init__(self, results):
        self.results = results


class _Replayed(Exception):
    """The very event this client applied before, sent again: acknowledged, not applied twice."""

    def __init__(self, seq):
        self.seq = seq


VERIFY_DTYPE = np.dtype([("verdict", "u1"), ("status", "u1"), ("fault", "u1"), ("places", "u1"),
                         ("scan_count", "u4"), ("batch", "u8"), ("seq", "u8"),
                         ("first_scan_time", "f8"), ("first_seq", "u8")], align=True)


class VerifyBatch:
    """verify_many's result: numpy records (``records``: verdict, status, batch,
    scan_count...), the parse of each scan (``parsed``), which scans name a known
    code (``found``) and, on demand, one Answer per scan (iterate, or index)."""

    def __init__(self, index, parsed, keys, records, batches, imported):
        self.records = records
        self._index, self._parsed, self._keys = index, parsed, keys
        self._batches, self._imported = batches, imported
        self.alert_reasons = {}   # row -> reasons, set where an open alert made it SUSPICIOUS

    def __len__(self):
        return len(self.records)

    @property
    def verdicts(self) -> np.ndarray:
        return self.records["verdict"]

    @property
    def parsed(self):
        """The scan parser's reading of each scan (a ScanBatch: fault, form, scheme, code...)."""
        return self._parsed

    @property
    def found(self) -> np.ndarray:
        """True where the scan names a code of ours (in a batch) or an imported one."""
        return self._keys.known

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, i) -> Answer:
        i = range(len(self))[i]  # -1 is the last row: keys and imported records are by row
        r, p = self.records[i], self._parsed.records[i]
        scheme = self._parsed.scheme_names[p["scheme"]] if p["scheme"] >= 0 else None
        code = p["code"].decode() or None
        verdict, status = Verdict(int(r["verdict"])), Status(int(r["status"]))
        if self._keys[i] is None:
            fault = None if r["fault"] == Fault.OK else Fault(int(r["fault"])).name
            return Answer(verdict, reasons(verdict, status, known=False, fault=fault),
                          scheme=scheme, code=code, fault=fault)
        ans = Answer(verdict, [], scheme=scheme, code=code, batch=int(r["batch"]) or None,
                     status=status.name.lower(), scan_count=int(r["scan_count"]))
        batch = self._batches.get(int(r["batch"]))
        if batch is not None:
            ans.product, ans.lot, ans.expiry = batch.product, batch.lot, batch.expiry
        else:
            rec = self._imported.get(i, {})
            ans.product, ans.lot, ans.expiry = rec.get("product", {}), rec.get("lot"), rec.get("expiry")
            ans.reasons.append("imported code")
            if rec.get("scheme") in self._index.schemes:   # a registered code names its scheme
                ans.scheme = rec["scheme"]
        if r["first_seq"]:
            ans.first_scan_time = float(r["first_scan_time"])
            with self._index.store.reading() as view:
                ans.first_scan_place = view.scan_place(int(r["first_seq"]))
        ans.reasons += self.alert_reasons.get(i) or reasons(
            verdict, status, expiry=ans.expiry, places=int(r["places"]),
            max_places=self._index.max_places)
        return retired.answer(self._index, ans, batch)


def _check_expiry(expiry) -> None:
    """Refuse an expiry verification could not read later: YYYYMMDD or YYMMDD only."""
    if expiry is None:
        return
    exp = str(expiry)
    try:
        dates.expiry_date(exp)
    except ValueError:
        shown = repr(exp) if len(exp) <= 40 else f"{exp[:40]!r}...({len(exp):,} characters)"
        raise InvalidFormat(f"expiry {shown} is not a YYYYMMDD or YYMMDD date",
                            field="expiry") from None


def _scan_bytes(scan) -> bytes:
    """A scan given as bytes-like as its bytes; anything else (None, a number) is no
    text: b"", read as that scan's fault (EMPTY), never the call's TypeError."""
    if isinstance(scan, (bytes, bytearray, memoryview)):
        return bytes(scan)
    return b""


def _check_issue_args(count, attributes) -> None:
    """A count that is an int (not a bool, a float, a str) and attributes that are a mapping."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise InvalidFormat(f"count must be a whole number, got {type(count).__name__}",
                            field="count")
    if attributes is not None and not hasattr(attributes, "items"):
        raise InvalidFormat(f"attributes must be a mapping of name to value, got "
                            f"{type(attributes).__name__}", field="attributes")


def _check_batch_text(scheme, details: dict, attrs: dict) -> None:
    """Refuse batch text past its bounds (limits.py): a batch record travels with
    every verdict on its codes, so a 12 MB lot would break every reply that names it."""
    gs1 = scheme.is_gs1
    details["lot"] = limits.lot(details.get("lot"), gs1=gs1)
    if "lot" in attrs and attrs["lot"] != details["lot"]:
        raise InvalidComponent(f"lot {details['lot']!r} and attributes.lot {attrs['lot']!r} "
                               "differ: the label would show one, verification the other",
                               field="lot")
    limits.text("line", details.get("line"), limits.LINE_BYTES)
    limits.text("requester", details.get("requester"), limits.REQUESTER_BYTES)
    for name, value in attrs.items():
        limits.text(f"attributes.{name}", value, limits.ATTRIBUTE_BYTES)


def _check_import_record(record: dict) -> None:
    """An imported code's record goes with each of its codes and into every verdict on
    them: its text values are bounded like a batch's (limits.py)."""
    limits.lot(record.get("lot"), gs1=False)
    for name, value in record.items():
        for sub, v in (value.items() if isinstance(value, dict) else [(None, value)]):
            where = f"{name}.{sub}" if sub is not None else name
            if isinstance(v, str):
                limits.text(where, v, limits.IMPORT_FIELD_BYTES)
            elif not (v is None or isinstance(v, (int, float))):
                raise InvalidFormat(f"{where} must be text or a number", field=where)


def _batch_ids(table, counters: np.ndarray) -> np.ndarray:
    """Batch id holding each counter in a product's (starts, ends, ids) table, 0 where none does."""
    starts, ends, ids = table
    if not len(starts):
        return np.zeros(len(counters), np.uint64)
    pos = np.searchsorted(starts, counters, side="right") - 1
    inside = (pos >= 0) & (counters < ends[np.maximum(pos, 0)])
    return np.where(inside, ids[np.maximum(pos, 0)], 0).astype(np.uint64)


class Index:
    """Issuance, lifecycle and verification over one LMDB environment."""

    def __init__(self, env, schemes: dict, master_key, *, record_scans: bool = True,
                 flush_interval: float = 0.005, max_places: int = 3, store=None):
        self.env = env
        self.schemes = schemes
        self.master_key = master_key
        # Verification reads through the storage port (store.reading()); events, imports and
        # history still write LMDB's tables directly, through these names, until they move too.
        # store: another implementation of the port (tracecode.store.postgres.PgStore; env None)
        self.store = store if store is not None else LmdbStore(env, schemes, scan_interval=flush_interval)
        self.batches = self.store.batches
        for name in ("codes", "events", "event_ids", "recalls", "imported", "scans", "sscc_users",
                     "children", "code_events"):
            setattr(self, f"db_{name}", getattr(self.store, f"db_{name}", None))
        self._check_format()
        self.parser = ScanParser(schemes, master_key)
        self.keyring = None   # the data directory's master-key versions (set by DataDir)
        self.key_versions = KeyVersions(self)
        if not 1 <= max_places < _codes.MAX_PLACES:  # a code remembers MAX_PLACES places
            raise ValueError(f"max_places must be 1 to {_codes.MAX_PLACES - 1}, got {max_places}")
        self.max_places = max_places
        self.record_scans = record_scans
        self.log = self.store.scan_log   # its queue and failure, for flush() and the tests
        # Bounded (LRU): keyed by products and batches that scans name.
        self._tables = BoundedCache(TABLE_CACHE)     # (scheme, product key) -> batch table
        self._batch_cache = BoundedCache(BATCH_CACHE)
        self._recall_cache = BoundedCache(BATCH_CACHE)
        # scan bytes -> (scheme, code, key, batch id) of codes of ours verify just read, and
        # code text -> key (JUST_READ): a code's key and batch never change once issued
        self._just_read = BoundedCache(JUST_READ)
        self._found_keys = BoundedCache(JUST_READ)
        self._known = self.store.known   # products issued (the parser keeps no Issuer for others)
        self._last_source = (None, None)    # the last (scanner, place) found within bounds

    def _check_format(self):
        """Stamp a new index with its record format; refuse one written in another."""
        have = self.store.stamp_format(FORMAT)
        if have != FORMAT:   # an older format the store can rewrite (LMDB 2 -> 3: seentable.py)
            have = self.store.upgrade_format(have, FORMAT)
        if have != FORMAT:
            raise TracecodeError(f"this index uses record format {have.decode()}; this "
                                 f"tracecode reads format {FORMAT.decode()}")

    def _recording(self, record) -> bool:
        """Whether to log this call's scans; a clear error on a read-only index."""
        if not (self.record_scans if record is None else record):
            return False
        if self.batches.readonly:
            raise read_only_error(self.env.path(), "record scans")
        return True

    def close(self):
        self.store.close()

    # -- issuance --------------------------------------------------------------------------
    def issuer(self, scheme: str, product: dict, version: int | None = None) -> Issuer:
        """The product's issuer: under the current master-key version, or under `version`."""
        sch = self.schemes[scheme] if isinstance(scheme, str) else scheme
        if sch.external:   # a maker's or authority's codes: registered (tracecode.index.register)
            raise InvalidComponent(f"{sch.name} codes are assigned by others, never issued here: "
                                   f"register them (tracecode register DIR FILE --scheme {sch.name})",
                                   field="scheme")
        current = self.parser.issuer(sch, sch.product_values(product))
        if version is None or version == current.key_version:
            return current
        return self.key_versions.issuer(sch, current.product, version, current)

    def _issuing(self, scheme: str, product: dict) -> Issuer:
        """The issuer new batches use: the current master-key version as keys.json says now
        (another process may have rotated), never a retired one."""
        ring = self.keyring
        if ring is not None:
            if ring.current_now() != self.master_key.version:   # a rotation: new batches use the new key
                self.master_key = ring.key()
                self.parser = ScanParser(self.schemes, self.master_key)
        iss = self.issuer(scheme, product)
        if ring is not None and ring.retired(iss.key_version):
            raise KeyStoreError(f"master-key version {iss.key_version} is retired; run "
                                f"`tracecode key rotate` (no batch is issued under a retired key)")
        return iss

    def issue(self, scheme: str, product: dict, count: int, *, also=None, **details) -> BatchRecord:
        """Reserve counters and record the batch (committed before this returns);
        also(txn, record) writes what belongs with it in the same transaction."""
        _check_issue_args(count, details.get("attributes"))
        iss = self._issuing(scheme, product)
        attrs = iss.scheme.attribute_values(details.pop("attributes", None))
        for k in ("lot", "expiry"):
            if details.get(k) is None and k in attrs:
                details[k] = attrs[k]
        _check_expiry(details.get("expiry"))
        _check_batch_text(iss.scheme, details, attrs)
        return self.store.reserve(iss.scheme.name, iss.product_key, iss.product, count,
                                  iss.capacity, attributes=attrs, also=also,
                                  key_version=iss.key_version, **details)

    # -- imported codes ----------------------------------------------------------------------
    def import_codes(self, codes, **record) -> int:
        """Store codes issued by other systems, per code; they then verify like ours.

        `codes` is any iterable of text (a file object works: one code per line);
        `record` (product, lot, expiry, approval_number, source...) goes with each.
        """
        _check_expiry(record.get("expiry"))
        _check_import_record(record)
        value = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
        n = 0
        chunk = []

        def flush():
            try:
                self.store.put_imported(chunk, value)
            except IndexFull as exc:  # say what is in: each chunk is whole, importing again finishes
                raise IndexFull(f"{exc}; {n - len(chunk):,} codes were imported before this "
                                f"chunk of {len(chunk):,} (import them again to finish)") from None
        for line in codes:
            line = line.strip()
            if line:
                if len(codekeys.ext(line)) > _codes.KEY_LIMIT:
                    raise ValueError(f"imported code {line[:60]!r} is longer than "
                                     f"{_codes.KEY_LIMIT - 4} bytes (UTF-8, spaces and dashes removed)")
                if any(ch < " " for ch in line):
                    raise ValueError(f"imported code {line[:60]!r} holds a control character")
                chunk.append(line)
                n += 1
            if len(chunk) >= 100_000:
                flush()
                chunk = []
        if chunk:
            flush()
        return n

    # -- resolving codes ---------------------------------------------------------------------
    def _table(self, view, scheme, product_key):
        """A product's batch table, cached until its mark moves (other processes
        issue into the same store, so the mark is read in this view)."""
        return self._table_entry(view, scheme, product_key)[1]

    def _table_entry(self, view, scheme, product_key):
        key = (scheme, product_key)
        mark = view.table_mark(scheme, product_key)
        cached = self._tables.get(key)
        if cached is None or cached[0] != mark:
            table = view.batch_table(scheme, product_key)
            cached = self._tables[key] = (mark, table, tuple(a.tolist() for a in table))
        return cached

    def _cached_batch(self, scheme_name: str, iss, counter) -> int:
        """The batch holding counter by the product's batch table as last read, with no store
        read (0: not found there; read the table's mark then). Batches never change once
        reserved, so a hit stands whatever was issued since, when every cached batch is under
        the parser's key version and that version is the current one as keys.json says now:
        a later batch is under it too (new batches take the current key), so it holds other
        counters. With several versions, or a rotation (here or by another process: the
        parser moves only when this process issues), a newer batch could hold the code and
        the table is read (newest version first, key_versions.counter_of): no hit."""
        key = (scheme_name, iss.product_key)
        cached = self._tables.get(key)
        if cached is None or counter is None:
            return 0
        versions = self.key_versions.cached(key, cached[0])
        if versions is None or not versions <= {iss.key_version}:
            return 0
        if self.keyring is not None and self.keyring.current_now() != iss.key_version:
            return 0   # current_now: a stat of keys.json, cheaper than the read it saves
        return _batch_at(cached[2], counter)

    def _table_lists(self, view, scheme, product_key):
        """The same table as Python lists, for bisect on the single-scan path."""
        return self._table_entry(view, scheme, product_key)[2]

    def _resolve(self, view, texts, offsets=None):
        """Parse texts; for each, its code key, batch id (0 none) and imported record.

        Returns (parse results, Keys, batch ids, batch records by id, the
        imported records of the rows). Vectorised per scheme and product; scans of no batch of
        ours are looked up among imported codes in one C loop.
        """
        try:
            parsed = self.parser.parse_many(texts, offsets, known=view.known_products())
        except TypeError:   # an item that is no text (None, 5): that item's fault, not the call's
            if offsets is not None or not isinstance(texts, (list, tuple)):
                raise
            texts = [t if isinstance(t, (str, bytes)) else _scan_bytes(t) for t in texts]
            parsed = self.parser.parse_many(texts, offsets, known=view.known_products())
        if offsets is not None:  # the text of a row, for the few the parser could not read
            data, offsets = memoryview(texts).cast("B"), np.asarray(offsets)
            texts = _Slices(data, offsets)
        rec = parsed.records
        count = len(rec)
        batch_ids = np.zeros(count, np.uint64)
        parts = []
        for scheme, iss, members in parsed.groups:  # per distinct product the parser found
            self.key_versions.settle(view, parsed, scheme, iss, members)  # rotated keys only
            rows = np.arange(count)[members]
            rows = rows[parsed.counter_ok[rows]]
            pid = view.product_id(scheme.name, iss.product_key) if len(rows) else None
            if pid is None:
                continue
            batch_ids[rows] = _batch_ids(self._table(view, scheme.name, iss.product_key),
                                         parsed.counter[rows])
            mine = rows[batch_ids[rows] != 0]
            parts.append((mine, *Keys.ours(pid, parsed.counter[mine])))
        imported, more, other, looked_up = self._imported(view, texts, rec["code"], np.flatnonzero(batch_ids == 0),
                                                          parsed.packed)
        keys = Keys(count, parts + more, other)
        if not parts and not other:   # only registered codes: their lookup order is near key order
            keys.order_hint = looked_up
        records = {int(b): self._batch(view, int(b)) for b in np.unique(batch_ids).tolist() if b}
        return parsed, keys, batch_ids, records, imported

    def _imported(self, view, texts, codes, rows, packed):
        """Imported records of the rows (an _Imported), and their keys: a Keys part
        for rows the parser read a bare code from (numpy), the rest by row (from
        the text). One C lookup each; a record is decoded once per distinct value.
        Last, the part's found rows in the order they were looked up (near key order)."""
        imported = _Imported(len(codes))
        if not len(rows):
            return imported, [], {}, rows
        read = codes[rows] != b""
        bare = np.flatnonzero(read)
        matrix, lens = Keys.ext(codes[rows[bare]])
        # looked up in key order: B-tree pages visited in sequence (1e5 registered codes of
        # random serials: ~3x faster than in scan order), found and values put back by row
        order = _key_order(matrix)
        got = np.zeros(len(bare), np.uint8)
        rows_of = np.ascontiguousarray(matrix).view(f"V{matrix.shape[1]}").ravel()   # one gather of rows
        cand = Keys(len(bare), [(np.arange(len(bare)), rows_of[order].view(np.uint8).reshape(matrix.shape),
                                 lens[order])])
        distinct = getattr(view, "imported_distinct", None)  # a store's bulk path, where it has one
        if distinct is not None:
            which = np.empty(len(bare), np.int32)
            values = distinct(cand.buf, cand.off, got, which)
            imported.add_distinct(rows[bare[order]][got.astype(bool)], values, which[:int(got.sum())])
        else:
            values = view.imported_values(cand.buf, cand.off, got)
            imported.add(rows[bare[order]][got.astype(bool)], values)
        found = np.zeros(len(rows), np.uint8)
        found[bare[order]] = got
        hits = found[bare].astype(bool)
        part = (rows[bare[hits]], rows_of[hits].view(np.uint8).reshape(-1, matrix.shape[1]), lens[hits])
        unread, other = rows[~read], {}
        if len(unread):  # keyed by their text, built in numpy: junk costs no Python per scan
            buf, off = scankeys.text_keys(*packed, unread, texts, _codes.KEY_LIMIT)
            found = np.zeros(len(unread), np.uint8)
            values = view.imported_values(buf, off, found)
            hit = np.flatnonzero(found)
            imported.add(unread[hit], values)
            other = {int(unread[j]): buf[off[j]:off[j + 1]].tobytes() for j in hit.tolist()}
        return imported, [part], other, rows[bare[order]][got.astype(bool)]

    def _recall_seq(self, view, batch_id, batch) -> int:
        """The event seq of the latest recall of the code's batch or lot, 0 if none."""
        return view.recall_seq(self._recall_keys(batch_id, batch))

    def _recall_keys(self, batch_id, batch):
        """What a recall of the code's batch or lot would name (RecallTargets, cached per batch)."""
        if not batch_id:
            return ()
        hit = self._recall_cache.get(batch_id)
        if hit is None:
            hit = [("batch", batch_id)]
            if batch is not None and batch.lot:
                pk = self.schemes[batch.scheme].product_key(batch.product)
                hit.append(("lot", batch.scheme, pk, batch.lot))
            self._recall_cache[batch_id] = hit
        return hit

    def _read(self, view, keys: Keys, batch_ids, records, place=None) -> np.ndarray:
        """Effective status (own, containers', batch and lot recalls), seq and scan
        summary of every row with a key: the C kernel, then recalls per batch."""
        res = np.zeros(len(keys), VERIFY_DTYPE)
        res["batch"] = batch_ids
        view.code_records(keys, place_hash(place),
                          res["status"], res["seq"], res["scan_count"], res["places"],
                          res["first_scan_time"], res["first_seq"])
        if records:  # batch and lot recalls, later than the code's own event, win
            recall = self._per_batch(batch_ids, records, lambda b, r: self._recall_seq(view, b, r))
            hit = (recall > res["seq"]) & (res["status"] != Status.DESTROYED)
            res["status"][hit], res["seq"][hit] = Status.RECALLED, recall[hit]
        return res

    @staticmethod
    def _per_batch(batch_ids, records, fn, dtype=np.uint64):
        """fn(batch id, record) for each row's batch (0 where none), computed once
        per distinct batch: the cost follows the batches in a call, not the rows."""
        ids, inverse = np.unique(batch_ids, return_inverse=True)
        values = np.array([fn(int(b), records[int(b)]) if b else 0 for b in ids.tolist()], dtype)
        return values[inverse.ravel()]

    # -- verification ------------------------------------------------------------------------
    def verify(self, scan, *, scanner: str | None = None, place: str | None = None,
               when: float | None = None, record: bool | None = None,
               today: _dt.date | None = None, region=None, lat=None, lon=None) -> Answer:
        """The verdict on one scan, with its reasons; recorded in the scan log by default.

        The single-scan path: no numpy, one parse, one FF1 decryption, one descent
        into the code's records (and its containers') in one read transaction.
        """
        when = self._scan_source(scanner, place, when)
        loc = self._location(region, lat, lon)
        raw = scan.encode("utf-8", "surrogatepass") if isinstance(scan, str) else _scan_bytes(scan)
        with self.store.reading() as view:
            fault, scheme, code, key, batch_id, batch, hit = self._one(view, raw)
            imported = json.loads(hit) if hit is not None else None
            if key is not None and code:
                self._found_keys[code.decode()] = key
            ans = self._answer(view, scheme, code.decode() or None, fault, key, batch_id, batch,
                               imported, place, today or _dt.date.fromtimestamp(when))
            ans = retired.answer(self, ans, batch)   # a retired key version: warn or refuse
        if self._recording(record):
            self.store.record_scan(key, int(ans.verdict), scanner, place, when, **loc)
        return ans

    def _one(self, view, raw: bytes):
        """One scan read to its code key, as verify_many reads it but with no numpy (the
        single-code paths: verify, history): (fault, scheme name, code bytes, key or None,
        batch id (0: none), batch record, the imported record's raw value or None)."""
        seen = self._just_read.get(raw)
        if seen is not None:
            scheme, code, key, batch_id = seen
            return Fault.OK, scheme, code, key, batch_id, self._batch(view, batch_id), None
        key, batch_id, batch, hit, scheme = None, 0, None, None, None
        # a code fitting several schemes is decided as verify_many decides it
        known = view.known_products()
        fault, si, code = self.parser.read_code(raw, known)
        if fault == Fault.OK and si >= 0:
            sch = self.parser.schemes[si]
            scheme = sch.name
            found = self.parser.product_of(sch, code, known)
            if isinstance(found, Exception):
                fault = Fault.INVALID_FIELD
            elif found is not None:  # None: a product never issued, so no genuine code
                iss = found
                counter = iss.counter(code)
                pid = view.product_id(sch.name, iss.product_key)
                if pid is not None:
                    batch_id = self._cached_batch(sch.name, iss, counter)
                    if not batch_id:   # batches under several key versions: which
                        counter = self.key_versions.counter_of(view, sch, iss, code, counter)
                        if counter is not None and counter < sch.capacity:
                            batch_id = _batch_at(self._table_lists(view, sch.name, iss.product_key), counter)
                if batch_id:
                    batch = self._batch(view, batch_id)
                    key = codekeys.ours(pid, counter)
                    self._just_read[bytes(raw)] = (scheme, code, key, batch_id)
        if key is None:
            # a scheme's code as the parser left it (compact, as verify_many keys it: a
            # case-sensitive scheme's lower case is not folded), then as imports key it
            ext = codekeys.ext(code or raw)
            exact = b"ext\x00" + code if scheme is not None and code else ext
            hit = view.imported_one(exact)
            if hit is not None:
                ext = exact
            elif exact != ext:
                hit = view.imported_one(ext)
            if hit is not None:
                key = ext
        return fault, scheme, code, key, batch_id, batch, hit

    def record(self, scan, ans: Answer, *, scanner: str | None = None, place: str | None = None,
               when: float | None = None, region=None, lat=None, lon=None) -> None:
        """Record a scan that verify(record=False) answered (ans: that Answer) with the verdict
        it was given: an adapter answers first and records the query once its limits let it
        through, without verifying the code again (its key: the one verify just found)."""
        when = self._scan_source(scanner, place, when)
        loc = self._location(region, lat, lon)
        if not self._recording(True):
            return
        key = self._found_keys.get(ans.code) if ans.code else None
        if key is None:   # not one verify found (or long since): read again
            raw = scan.encode("utf-8", "surrogatepass") if isinstance(scan, str) else _scan_bytes(scan)
            with self.store.reading() as view:
                key = self._one(view, raw)[3]
        self.store.record_scan(key, int(ans.verdict), scanner, place, when, **loc)

    def _scan_source(self, scanner, place, when) -> float:
        """The scan's time; scanner and place checked against their bounds (the scan log
        packs their lengths in 16 bits), once per distinct pair in a row."""
        if (scanner, place) != self._last_source:
            limits.text("scanner", scanner, limits.SCANNER_BYTES)
            limits.text("place", place, limits.PLACE_BYTES)
            self._last_source = (scanner, place)
        return _time.time() if when is None else limits.epoch("when", when)

    def _location(self, region, lat, lon) -> dict:
        """The scan's region and coordinates checked (tracecode.regions.location), as the
        store's record_scan(s) keywords; once per call, never per scan."""
        if region is None and lat is None and lon is None:
            return {}
        region, lat, lon = scan_location(region, lat, lon)
        return {"region": region, "lat": lat, "lon": lon}

    def _batch(self, view, batch_id):
        hit = self._batch_cache.get(batch_id)
        if hit is None:
            hit = self._batch_cache[batch_id] = view.batch(batch_id)
        return hit

    def verify_many(self, scans, offsets=None, *, scanner=None, place=None, when=None, record=None,
                    today: _dt.date | None = None, region=None, lat=None, lon=None) -> "VerifyBatch":
        """Verdicts on many scans: one read transaction, one (group-committed) log write.

        ``scans``: a list of str/bytes, or a packed buffer (bytes or uint8 array) with
        int64 ``offsets`` (N + 1), as the scan parser takes them. Parsing, FF1, the
        batch lookup and the code records (a C loop over LMDB) run over arrays.
        """
        when = self._scan_source(scanner, place, when)
        loc = self._location(region, lat, lon)
        today = today or _dt.date.fromtimestamp(when)
        with self.store.reading() as view:
            parsed, keys, batch_ids, records, imported = self._resolve(view, scans, offsets)
            out = self._verdicts(view, parsed, keys, batch_ids, records, imported, place, today)
            retired.verdicts(self, out.records, records)   # a retired key version: warn or refuse
        if self._recording(record):
            self.store.record_scans(keys, out.records["verdict"], scanner, place, when, **loc)
        return out

    def _verdicts(self, view, parsed, keys, batch_ids, records, imported, place, today):
        res = self._read(view, keys, batch_ids, records, place)
        res["fault"] = parsed.records["fault"]
        known = keys.known
        expired = self._per_batch(batch_ids, records, lambda b, r: dates.expired(r.expiry, today), bool)
        expired |= imported.expired(today)
        crowded = (res["places"] > self.max_places).view(np.uint8) if place is not None else 0
        # the one rule (verdicts.DECIDE); a known code of no batch of ours is an imported one
        res["verdict"] = DECIDE[known.view(np.uint8), res["status"], (batch_ids == 0).view(np.uint8),
                                expired.view(np.uint8), crowded]
        res["scan_count"] += known  # this scan counts
        return VerifyBatch(self, parsed, keys, res, records, imported)

    def _answer(self, view, scheme, code, fault, key, batch_id, batch, imported, place, today):
        if key is None:
            name = None if fault == Fault.OK else Fault(fault).name
            return Answer(Verdict.UNKNOWN, reasons(Verdict.UNKNOWN, 0, known=False, fault=name),
                          scheme=scheme, code=code, fault=name)
        ans = Answer(Verdict.GENUINE, [], scheme=scheme, code=code, batch=batch_id or None)
        if batch is not None:
            ans.product, ans.lot, ans.expiry = batch.product, batch.lot, batch.expiry
        else:
            ans.product = imported.get("product", {})
            ans.lot, ans.expiry = imported.get("lot"), imported.get("expiry")
            ans.reasons.append("imported code")
            if imported.get("scheme") in self.schemes:   # a registered code names its scheme
                ans.scheme = imported["scheme"]
        status, seq, count, places, ans.first_scan_time, first_seq, _ = view.code_record(key)
        recall = self._recall_seq(view, batch_id, batch)
        if recall > seq and status != Status.DESTROYED:
            status = Status.RECALLED
        status = Status(status)
        ans.status = status.name.lower()
        ans.first_scan_place = view.scan_place(first_seq) if first_seq else None
        ans.scan_count = count + 1
        seen = len(set(places) | {place_hash(place)}) if place is not None else 0
        # the same rule as verify_many's (verdicts.DECIDE), indexed by this scan's scalars
        ans.verdict = decide_one(status, batch is None, dates.expired(ans.expiry, today),
                                 seen > self.max_places)
        ans.reasons += reasons(ans.verdict, status, expiry=ans.expiry, places=seen,
                               max_places=self.max_places)
        return ans

    # -- lifecycle -------------------------------------------------------------------------
    # events of one call share one parse and one bulk read (False: each its own, for A/B)
    share_call_reads = True
    # the checked events of one call written together (False: each in a nested write of its own, for A/B)
    batch_call_writes = True

    def apply(self, events, *, atomic: bool = False, client: str | None = None,
              bind_ssccs: bool = True, also=None):
        """Apply lifecycle events in order; returns one result per event.

        Each event is all-or-nothing over its codes. With atomic=False (default)
        invalid events are rejected with their reason and the valid ones
        applied; with atomic=True one invalid event refuses the whole call.
        A result is {"id", "ok", and "seq" or "error" and "reason"}: reason is one of
        lifecycle.INVALID_EVENT, DUPLICATE_EVENT, UNKNOWN_CODE, ILLEGAL_TRANSITION,
        NOT_HOLDER, NOT_APPLIED; "field" names the event field at fault when one is.

        Event ids are the sending client's (None: this data directory's own caller):
        another client's same id is its own event. The same event sent again by the
        same client is acknowledged with the first one's seq and "replayed": True;
        a different event under an id already used is DUPLICATE_EVENT. The first
        client that packs into an SSCC is recorded as its user (sscc_user), and another
        client's pack into it is NOT_HOLDER, in the same transaction (bind_ssccs=False:
        neither, for a caller acting for others, such as an admin).

        also(view, results): more writes in the same transaction, once the events are
        applied (not when atomic refuses them): EPCIS capture stores its events with the
        lifecycle events they carry; if it raises, nothing of the call is written.
        """
        if client is not None:
            limits.text("client", client, limits.CLIENT_BYTES, required=True)

        binder = client if bind_ssccs else None

        def body(view):
            results = []
            # the call's codes parsed and their states read once, for all its events
            shared = self._read_call(view, events) if self.share_call_reads else None
            # checked plans wait and are written together; the checks read through a view
            # that writes them first wherever they could be seen (pending.py)
            pending = PendingWrites(view) if self.batch_call_writes else None
            checks = PendingView(view, pending) if pending is not None else view
            for ev in events:
                eid = ev.get("id") if isinstance(ev, dict) else None
                try:  # checked whole before anything of it is written: all of it or nothing
                    plan = self._plan_event(checks, ev, binder, client, shared)
                    if pending is None:
                        seq = view.nested(lambda v: v.apply_event(plan))
                    if shared is not None:
                        shared.applied(plan)
                    results.append({"id": eid, "ok": True, "seq": seq if pending is None else None})
                    if pending is not None:
                        pending.add(plan, results[-1])
                except _Replayed as again:
                    results.append({"id": eid, "ok": True, "seq": again.seq, "replayed": True})
                except (EventError, TracecodeError, ValueError, KeyError) as exc:
                    results.append({"id": eid, "ok": False, "error": str(exc),
                                    "reason": getattr(exc, "reason", lifecycle.INVALID_EVENT)})
                    if getattr(exc, "field", None):
                        results[-1]["field"] = exc.field
            if atomic and not all(r["ok"] for r in results):
                raise _Refused(results)
            if pending is not None:
                pending.flush()
            if also is not None:
                also(view, results)
            return results
        try:
            with gcpause.paused():   # the call's many small objects: collected once, after it
                return self.store.write(body)
        except _Refused as refused:
            return [r if not r["ok"] else {"id": r["id"], "ok": False, "reason": lifecycle.NOT_APPLIED,
                                           "error": "not applied: another event in the call is invalid"}
                    for r in refused.results]

    def undo_in(self, view, events, clients=(None,)) -> list:
        """Inside a write (view): the state changes of applied lifecycle events undone, for an
        EPCIS error declaration (index/undo.py). events: [{"id"}], each looked up under the
        first of `clients` (whose event ids they are) that applied it. One result per event:
        {"id", "ok": True, "undone": codes put back (0: never applied)} or {"id", "ok": False,
        "error", "reason", "later": the later event's id}. All or nothing: one refused and none
        is written (the others "not_applied"), as one EPCIS event's lifecycle events are one."""
        from . import undo
        out, planned = [], []
        for ev in events:
            eid = ev.get("id") if isinstance(ev, dict) else None
            try:
                client = next((c for c in clients if view.event_seen(c, eid) is not None), None)
                states = undo.plan(self, view, eid, client)
            except (EventError, TracecodeError, ValueError, KeyError) as exc:
                out.append({"id": eid, "ok": False, "error": str(exc),
                            "reason": getattr(exc, "reason", lifecycle.INVALID_EVENT),
                            "later": getattr(exc, "later", None)})
                continue
            planned.append((states or [], view.event_seen(client, eid)[0] if states is not None else None))
            out.append({"id": eid, "ok": True, "undone": len(states or ())})
        if not all(r["ok"] for r in out):
            return [r if not r["ok"] else {"id": r["id"], "ok": False, "reason": lifecycle.NOT_APPLIED,
                                           "error": "not undone: another event of the declaration is refused"}
                    for r in out]
        for states, seq in planned:
            if seq is not None:
                view.restore_states(states, seq)
        return out

    def _key_one(self, view, code):
        """The key of one code (an SSCC, ours or imported) by the single-scan path, or the
        EventError _keys_of raises: a page's history costs one parse, not a vectorised one."""
        text = _text(code)
        key = self._found_keys.get(text)
        if key is not None:
            return key
        key = codekeys.sscc(text)
        if key is None:
            raw = code if isinstance(code, bytes) else code.encode("utf-8", "surrogatepass")
            key = self._one(view, raw)[3]
        if key is None:
            return self._keys_of(view, [code], None)[0][0]   # its error, worded once
        return key

    def _keys_of(self, view, codes, event_id, shared=None):
        """Code keys of event codes (our codes, imported ones or SSCCs) and their batch
        ids (0: not ours, a uint64 array), or EventError. shared: the call's codes,
        parsed once (a code's key never changes within a write)."""
        n = len(codes)
        known = shared.keys if shared is not None else {}
        hits = list(map(known.get, codes)) if known else [None] * n   # (key, batch id) each
        if n and None not in hits:   # the usual event of a call: every code read, and known
            out, got = zip(*hits)
            return list(out), np.array(got, np.uint64)
        out, bids = [None] * n, np.zeros(n, np.uint64)
        todo, unknown = [], []
        for i, c in enumerate(codes):
            hit = hits[i]
            if hit is not None:
                out[i], bids[i] = hit
            elif c in known:   # read by the call's parse: no such code
                unknown.append(i)
            else:   # no SSCC is among the call's reads: looked up first
                k = codekeys.sscc(c)
                if k is not None:
                    out[i] = k
                else:
                    todo.append(i)
        if todo:
            texts = codes if len(todo) == len(codes) else [codes[i] for i in todo]
            _, keys, batch_ids, _, _ = self._resolve(view, texts)
            unknown += [todo[j] for j in np.flatnonzero(~keys.known).tolist()]
            for i, k in zip(todo, keys.tolist()):
                out[i] = k
            bids[todo] = batch_ids
        if unknown:
            bad = _text(codes[min(unknown)])
            shown = bad if len(bad) <= 80 else bad[:80] + "..."  # not all of a 12 MB one
            raise EventError(f"unknown code {shown!r}: never issued or imported",
                             event_id=event_id, code=shown, reason=lifecycle.UNKNOWN_CODE)
        return out, bids

    def _statuses(self, view, keys, batch_ids, shared=None) -> np.ndarray:
        """Effective status of each code, in bulk (the verdict kernel's reading); codes
        the call's earlier events may have changed are read again (see _CallReads)."""
        if shared is not None and shared.status:
            got = shared.statuses(view, keys)
            again = [i for i, s in enumerate(got) if s is None]
            if not again:
                return np.array(got, np.uint8)
            if len(again) < len(keys):
                fresh = self._statuses(view, [keys[i] for i in again], batch_ids[again])
                for i, s in zip(again, fresh.tolist()):
                    got[i] = s
                return np.array(got, np.uint8)
        records = {b: self._batch(view, b) for b in np.unique(batch_ids).tolist() if b}
        return self._read(view, Keys.packed(keys), batch_ids, records)["status"]

    def _read_call(self, view, events):
        """The keys and effective states of every code (and parent) the call's events
        name, in one parse and one bulk read; None when there is nothing to share."""
        if not isinstance(events, (list, tuple)) or len(events) < 2:
            return None   # one event reads its codes once anyway
        texts = {}
        for ev in events:
            if not isinstance(ev, dict):
                continue
            codes, parent = ev.get("codes"), ev.get("parent")
            if isinstance(codes, (list, tuple)):
                try:   # in C; what is no text is left out below
                    texts.update(dict.fromkeys(codes))
                except TypeError:   # an unhashable item (a list): that event's own error later
                    texts.update(dict.fromkeys(c for c in codes if type(c) is str))
            if type(parent) is str:
                texts[parent] = None
        # an SSCC has 18 digits, bare or after (00): a code of letters and digits only (no
        # space to strip) of another length is none, without asking codekeys.sscc
        texts = [t for t in texts if type(t) is str and len(t) <= _SHARED_TEXT
                 and ((len(t) not in _SSCC_LENGTHS and t.isalnum()) or codekeys.sscc(t) is None)]
        if not texts:
            return None
        _, keys, batch_ids, _, _ = self._resolve(view, texts)
        found = keys.tolist()
        shared = _CallReads(dict(zip(texts, (None if k is None else (k, b)
                                              for k, b in zip(found, batch_ids.tolist())))))
        rows = [i for i, k in enumerate(found) if k is not None]
        if rows:
            refs = [found[i] for i in rows]
            shared.status = dict(zip(refs, self._statuses(view, refs, batch_ids[rows]).tolist()))
            shared.parent, shared.holding = view.parents(refs), view.holding(refs)
        return shared

    def _plan_event(self, view, ev, binder=None, client=None, shared=None) -> EventPlan:
        """One event checked against the store as the view sees it, and what it writes.
        binder: the client an SSCC packed into becomes bound to (None: nobody);
        client: whose event ids these are (None: this data directory's own caller);
        shared: the call's codes read once (_read_call), None: read them here."""
        checked = lifecycle.check_event(ev, _time.time())
        eid = checked["id"]
        action = ACTIONS.get(ev.get("action"))
        if action is None:
            raise EventError(f"unknown action {str(ev.get('action'))[:40]!r}; actions: "
                             f"{', '.join(ACTIONS)}", event_id=eid, field="action")
        codes = [c if type(c) is str else _text(c)
                 for c in (ev.get("codes") if ev.get("codes") is not None else ())]
        said = lifecycle.digest(checked, ev, codes, _text(ev["parent"]) if ev.get("parent") else None)
        seen = view.event_seen(client, eid)
        if seen is not None:
            if seen[1] == said:  # this client's own event, sent again (an acknowledgement lost)
                raise _Replayed(seen[0])
            raise EventError(f"duplicate event id {eid!r}: this client applied a different event "
                             "under it", event_id=eid, reason=lifecycle.DUPLICATE_EVENT, field="id")
        targets = []
        if action.name == "recall" and (checked["batch"] or ev.get("lot")):
            targets = self._recall_targets(view, ev, checked["batch"])
        elif not codes:
            raise EventError(f"event {eid!r} names no codes", event_id=eid)
        parent = None
        if action.epcis_type == "AggregationEvent":
            if not ev.get("parent"):
                raise EventError(f"{action.name} needs a parent (an SSCC or a case's code)", event_id=eid)
            keys, bids = self._keys_of(view, codes + [_text(ev["parent"])], eid, shared)  # one parse
            parent, keys, bids = keys.pop(), keys, bids[:-1]
            if binder is not None and action.name == "pack" and codekeys.kind(parent) == codekeys.SSCC:
                user = view.sscc_user(parent)
                if user is not None and user != binder:
                    raise EventError(f"{_text(ev['parent'])} is {user}'s: the first client "
                                     "that packed into it", event_id=eid, code=_text(ev["parent"]),
                                     reason=lifecycle.NOT_HOLDER)
        else:
            keys, bids = self._keys_of(view, codes, eid, shared)
        if len(set(keys)) != len(keys):
            dup = next(c for c, k in zip(codes, keys) if keys.count(k) > 1)
            raise EventError(f"{dup} is listed twice in event {eid!r}", event_id=eid, code=dup)
        statuses = self._statuses(view, keys, bids, shared) if keys else np.zeros(0, np.uint8)
        if action.name == "pack":  # a logistic unit comes alive when something is packed in it
            for i, k in enumerate(keys):   # a key of ours starts with 0: no kind() for it
                if k[0] != 0 and statuses[i] == Status.ISSUED and codekeys.kind(k) == codekeys.SSCC:
                    statuses[i] = Status.COMMISSIONED
        if len(statuses) <= 64:   # a case's few codes: np.isin's fixed cost is most of it
            st = statuses.tolist()
            wrong = () if action.allowed_from.issuperset(st) else \
                [i for i, s in enumerate(st) if s not in action.allowed_from]
        else:
            wrong = np.flatnonzero(~np.isin(statuses, list(action.allowed_from)))
        if len(wrong):
            check_transition(action, Status(int(statuses[wrong[0]])), codes[wrong[0]], eid)
        if parent is not None and action.name == "pack":
            above = self._containers(view, parent)
            # the usual case in one go: codes read before the call, untouched since, none
            # packed, holding codes or above the parent, and the parent not at the depth limit
            fine = shared is not None and len(above) <= MAX_DEPTH and shared.untouched(keys) \
                and shared.parent.keys().isdisjoint(keys) and shared.holding.isdisjoint(keys) \
                and set(above).isdisjoint(keys)
            for k, text in zip(keys, () if fine else codes):
                if (view.parent_of(k) if shared is None else shared.parent_of(view, k)) is not None:
                    raise EventError(f"{text} is already packed; unpack it first", event_id=eid, code=text,
                                     reason=lifecycle.ILLEGAL_TRANSITION)
                if k in above:
                    raise EventError(f"{text} cannot be packed into {_text(ev['parent'])}: "
                                     f"it is, or contains, that container", event_id=eid, code=text)
                if len(above) + (0 if shared is not None and shared.holds_nothing(k)
                                 else self._height(view, k)) > MAX_DEPTH:
                    raise EventError(f"packing {text} into {_text(ev['parent'])} would nest codes more "
                                     f"than {MAX_DEPTH} containers deep", event_id=eid, code=text)
        elif parent is not None:
            for k, text in zip(keys, codes):
                if (view.parent_of(k) if shared is None else shared.parent_of(view, k)) != parent:
                    raise EventError(f"{text} is not in {ev['parent']}", event_id=eid, code=text,
                                     reason=lifecycle.ILLEGAL_TRANSITION)
        record = {"id": eid, "action": action.name, "type": action.epcis_type,
                  "epcis_action": action.epcis_action, "bizStep": action.biz_step,
                  "disposition": action.disposition, "codes": codes,
                  "parent": _text(ev["parent"]) if parent is not None else None,
                  "time": checked["time"], "time_offset": checked["time_offset"],
                  "place": ev.get("place"), "batch": checked["batch"], "lot": ev.get("lot"),
                  "reason": ev.get("reason"), "client": client}
        for role in ("source", "destination"):   # stored only when given (older records unchanged)
            if ev.get(role):
                record[role] = ev[role]
            if checked.get(f"{role}_region"):
                record[f"{role}_region"] = checked[f"{role}_region"]
        bind = binder if parent is not None and codekeys.kind(parent) == codekeys.SSCC else None
        # encoded here: a record JSON cannot hold (a lone surrogate) refuses this event, not the write
        encoded = json.dumps(record, ensure_ascii=False).encode()
        return EventPlan(record=record, encoded=encoded, client=client, event_id=eid, digest=said, refs=keys,
                         state=action.to, parent=parent,
                         link=None if parent is None else "pack" if action.name == "pack" else "unpack",
                         parent_state_if_new=Status.COMMISSIONED if parent is not None else None,
                         bind_user=bind, recalls=targets)

    def sscc_user(self, sscc) -> str | None:
        """The client that first packed into an SSCC (None: nobody yet, or only this data
        directory's own caller): the service binds the SSCC to it (see bindings/service.py)."""
        key = codekeys.sscc(_text(sscc))
        if key is None:
            raise InvalidFormat(f"{_text(sscc)[:40]!r} is not an SSCC", field="sscc")
        with self.store.reading() as view:
            return view.sscc_user(key)

    def _containers(self, view, key) -> list:
        """key and the containers above it, innermost first."""
        chain = [key]
        while len(chain) <= MAX_DEPTH:
            k = view.parent_of(chain[-1])
            if k is None:
                break
            chain.append(k)
        return chain

    def _height(self, view, key) -> int:
        """How many levels of contents lie below key (0: none), counted up to MAX_DEPTH + 1."""
        level, height = [key], 0
        while height <= MAX_DEPTH:
            below = [c for k in level for c in view.children(k)]
            if not below:
                break
            level, height = below, height + 1
        return height

    def contents(self, code) -> list[str]:
        """The codes packed directly in a container (a case's code or an SSCC)."""
        with self.store.reading() as view:
            key = self._keys_of(view, [code], None)[0][0]
            return [self.code_text(view, k) for k in view.children(key)]

    def _recall_targets(self, view, ev, batch_id):
        """What a recall event names: its batch, or a product's lot (RecallTargets)."""
        if batch_id:
            batch = view.batch(batch_id)
            if batch is None:
                raise EventError(f"no batch {batch_id}", event_id=ev.get("id"),
                                 reason=lifecycle.UNKNOWN_CODE)
            return [("batch", batch.id)]
        if not ev.get("scheme") or not ev.get("product"):
            raise EventError("a recall by lot names the lot's scheme and product", event_id=ev.get("id"))
        scheme = self.schemes.get(ev["scheme"])
        if scheme is None:
            raise EventError(f"unknown scheme {ev['scheme']!r}", event_id=ev.get("id"))
        product = scheme.product_values(ev["product"])
        return [("lot", scheme.name, scheme.product_key(product), str(ev["lot"]))]

    # -- history ---------------------------------------------------------------------------
    def code_text(self, view, key: bytes) -> str:
        """A code key written out as the code it names."""
        kind = codekeys.kind(key)
        if kind == codekeys.EXT:
            return key[4:].decode()
        if kind == codekeys.SSCC:
            return "(00)" + key[5:].decode()
        pid, counter = codekeys.split_ours(key)
        scheme, product = view.product_of(pid)
        sch = self.schemes[scheme]
        version = self.key_versions.version_at(view, scheme, sch.product_key(sch.product_values(product)),
                                               counter)
        return self.issuer(scheme, product, version).codes(counter, 1)[0].decode()

    def public_queries(self, code, bound: int) -> tuple:
        """(count up to bound + 1, first time, first place) of a code's public queries
        (scans by the public window, store.port.PUBLIC_SCANNER): one bounded read."""
        if not isinstance(code, (str, bytes)):
            raise InvalidFormat(f"code must be text, got {type(code).__name__}", field="code")
        with self.store.reading() as view:
            key = self._key_one(view, code)
            return view.public_queries(key, bound) if key else (0, None, None)

    def history(self, code, *, scans: bool = True) -> list:
        """Every event and scan of a code and of the containers it is in, in time order.
        An event lists its first HISTORY_CODES codes, and codes_total when it had more.
        scans=False: the events only (a code queried a million times reads no scan)."""
        if not isinstance(code, (str, bytes)):
            raise InvalidFormat(f"code must be text, got {type(code).__name__}", field="code")
        with self.store.reading() as view:
            key = self._key_one(view, code)
            items = []
            for k in self._containers(view, key):
                via = None if k == key else self.code_text(view, k)
                for ev in view.events_of(k, HISTORY_CODES):
                    ev["kind"], ev["via"] = "event", via
                    _readable_time(ev)
                    if len(ev["codes"]) > HISTORY_CODES:  # a 200,000-code commission
                        ev["codes_total"], ev["codes"] = len(ev["codes"]), ev["codes"][:HISTORY_CODES]
                    items.append(ev)
                for seq, sc in view.scans_of(k) if scans else ():
                    items.append({"kind": "scan", "time": sc["time"], "scanner": sc["scanner"],
                                  "place": sc["place"], "verdict": Verdict(sc["verdict"]).name,
                                  "via": via, "scan": seq})
        seen, unique = set(), []
        for item in items:  # a pack event is on the unit and on its container: once
            tag = (item["kind"], item.get("seq", item.get("scan")))
            if tag not in seen:
                seen.add(tag)
                unique.append(item)
        return sorted(unique, key=_history_order)


def _batch_at(lists, counter: int) -> int:
    """The id of the batch of a table (starts, ends, ids as lists) holding counter, 0: none."""
    starts, ends, ids = lists
    pos = bisect.bisect_right(starts, counter) - 1
    return ids[pos] if pos >= 0 and counter < ends[pos] else 0


def _readable_time(ev: dict) -> None:
    """An event stored before times were checked may hold any JSON as its time
    ("yesterday", NaN, 1e20): such a time is kept as time_given and time is None,
    so history still sorts (those first) and answers."""
    t = ev.get("time")
    if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t):
        return
    try:
        ev["time"], ev["time_offset"] = limits.event_time("time", t, now=float("inf"))
    except (ValueError, TypeError):
        ev["time_given"], ev["time"] = t, None


def _history_order(item: dict):
    t = item["time"]
    return (t is not None, t if t is not None else 0.0, item.get("seq", 0), item.get("scan", 0))


class _CallReads:
    """What one apply() call's events read, read once before the first of them: each code
    text's (key, batch id) (None: unknown) and each key's effective status.

    Keys never change within a write; states do. A later event must see what the call's
    earlier events did (pack then ship of one case), so a status from before is used only
    when no event applied since touched the code or a container above it (a code's
    effective state is its own or a container's: see lifecycle). A recall changes whole
    batches' states, so after one every status is read again."""

    def __init__(self, keys: dict):
        self.keys = keys
        self.status = {}       # key -> effective status before the call ({}: none kept)
        self.parent = {}       # key -> its container before the call (packed ones)
        self.holding = set()   # keys that held codes before the call
        self.touched = set()   # keys whose state or container an applied event changed
        self.containers = set()  # touched keys that hold, or may hold, codes

    def status_of(self, view, key):
        """The key's status from before the call, None when it must be read again."""
        s = self.status.get(key)
        if s is None or not self.touched:
            return s
        if key in self.touched:
            return None
        if not self.containers:   # no touched code holds others: none is above this one
            return s
        # an untouched code's container link is unchanged: walk up to a touched one
        up, depth = self.parent_of(view, key), 0
        while up is not None and depth <= MAX_DEPTH:
            if up in self.touched:
                return None
            up, depth = self.parent_of(view, up), depth + 1
        return s

    def statuses(self, view, keys) -> list:
        """status_of of each key; in one go when none was touched and none was packed before
        the call (no container to walk up: its status from before stands)."""
        if self.touched.isdisjoint(keys) and (not self.containers or self.parent.keys().isdisjoint(keys)):
            return list(map(self.status.get, keys))
        return [self.status_of(view, k) for k in keys]

    def untouched(self, keys) -> bool:
        """Whether every key was read before the call and no event of it touched one."""
        return self.touched.isdisjoint(keys) and all(map(self.status.__contains__, keys))

    def parent_of(self, view, key):
        """The key's container: from before the call while no event touched the key."""
        if key in self.status and key not in self.touched:
            return self.parent.get(key)
        return view.parent_of(key)

    def holds_nothing(self, key) -> bool:
        """Whether the key surely has nothing packed in it (only a pack into it adds any)."""
        return key in self.status and key not in self.touched and key not in self.holding

    def applied(self, plan: EventPlan) -> None:
        """Note what an applied event changed, for the events after it."""
        if plan.recalls:
            self.status = {}   # every status is read again
        if plan.state is not None or plan.link is not None:
            for k in plan.refs:   # a touched code that may hold others makes walks needed
                if k not in self.status or k in self.holding:
                    self.containers.add(k)
            self.touched.update(plan.refs)
        if plan.parent is not None:
            self.touched.add(plan.parent)
            self.containers.add(plan.parent)


def _key_order(matrix: np.ndarray) -> np.ndarray:
    """An order of code keys (rows of a uint8 matrix) sorted by their 16 bytes after the
    b"ext\\0" prefix: key order for codes of up to 16 characters. 8 bytes were not
    enough: tags of one county share them, and get_values' cursor then jumped back and
    forth within the county's pages instead of stepping to the next key."""
    head = np.zeros((len(matrix), 16), np.uint8)
    part = matrix[:, 4:20]
    head[:, :part.shape[1]] = part
    if len(head):   # the columns' spans as digits of one number, where it fits in 64 bits
        low = head.min(axis=0).astype(np.uint64)
        span = head.max(axis=0).astype(np.uint64) - low + np.uint64(1)
        if sum(int(s - 1).bit_length() for s in span.tolist()) <= 64:   # decimal tags: 16 x 4 bits
            number = np.zeros(len(head), np.uint64)
            for c in np.flatnonzero(span > 1).tolist():
                number *= span[c]
                number += head[:, c] - low[c]
            return np.argsort(number)   # ties are equal heads: any order of them is as near
    words = head.view(">u8")
    return np.lexsort((words[:, 1], words[:, 0]))


class _Imported:
    """The imported records of a call's rows: each distinct record decoded once,
    and for each row which one it has (-1: none)."""

    def __init__(self, n: int):
        self.which = np.full(n, -1, np.int32)
        self.records: list = []

    def add(self, rows, values) -> None:
        """rows[j] has the record whose JSON is values[j]."""
        index_of: dict = {}
        at = [index_of.setdefault(raw, len(index_of)) for raw in values]
        self.which[rows] = np.array(at, np.int32) + len(self.records)
        self.records += [json.loads(raw) for raw in index_of]  # in first-seen order

    def add_distinct(self, rows, distinct, which) -> None:
        """rows[j] has the record whose JSON is distinct[which[j]] (each distinct once)."""
        self.which[rows] = which + len(self.records)
        self.records += [json.loads(raw) for raw in distinct]

    def get(self, i, default=None):
        k = self.which[i]
        return self.records[k] if k >= 0 else default

    def expired(self, today) -> np.ndarray:
        per_record = np.array([dates.expired(r.get("expiry"), today) for r in self.records] + [False])
        return per_record[self.which]   # -1 takes the trailing False


class _Slices:
    """Row i of a packed buffer, as bytes (texts[i] for packed scans)."""

    def __init__(self, data, offsets):
        self.data, self.offsets = data, offsets

    def __getitem__(self, i):
        return bytes(self.data[int(self.offsets[i]):int(self.offsets[i + 1])])


def _text(code) -> str:
    return code.decode("utf-8", "replace") if isinstance(code, (bytes, np.bytes_)) else str(code)
