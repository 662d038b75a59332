"""The verbs every interface calls: one Service over a data directory, each verb a plain
method taking the Caller first. Rights, idempotency, limits and audit are here, once;
adapters (gRPC in bindings/, the CLI's local back end, HTTP next) only turn their
transport into these calls and Refusals into their statuses.

    svc = Service(datadir)                       # clients: an open Clients() -> LOCAL
    batch, replayed = svc.issue(LOCAL, "cn-drug-20", {"drug_id": "8177322"}, 1000,
                                idempotency_key="k1")
    svc.verify(LOCAL, scan).verdict
"""
from __future__ import annotations

import datetime as _dt
import getpass
import logging
import os
from pathlib import Path

import numpy as np

from .. import __version__
from .. import limits as bounds
from ..cache import BoundedCache
from ..errors import InvalidFormat, KeyStoreError, TracecodeError, UnknownApproval, ValidationError
from ..index import ACTIONS, BatchRecord, lifecycle
from ..issuance import Issuer
from ..regions.location import scan_location
from ..scan import ScanError
from . import limits
from . import links as links_of
from .audit import AuditError, AuditLog
from .auditchain import chain_hash, load_keys
from .caller import Caller
from .clients import Clients
from .idempotency import IdempotentIssuer
from .refusal import Refusal, bounded, clip, denied, invalid, refusal_of
from .rights import Rights, admit, is_sscc, oversees

log = logging.getLogger("tracecode.serve")
BATCH_CACHE = 16384     # batch records kept per server process
RENDERS = ("bare", "element", "hri", "dl")

# an event the index rejected: its machine-readable reason -> the refusal reason
EVENT_REASONS = {lifecycle.DUPLICATE_EVENT: "duplicate_event",
                 lifecycle.NOT_HOLDER: "permission_denied",
                 lifecycle.UNKNOWN_CODE: "unknown_code",
                 lifecycle.ILLEGAL_TRANSITION: "illegal_transition",
                 lifecycle.NOT_APPLIED: "not_applied"}


def _count(codes) -> int:
    return 0 if codes is None else len(codes)   # a numpy array has no truth value


def event_reason(result: dict) -> str:
    """The refusal reason of an event result the index rejected."""
    return EVENT_REASONS.get(result.get("reason"), "invalid_argument")


def event_refusal(event_id: str, result: dict) -> Refusal:
    reason, error = event_reason(result), result["error"]
    if reason == "unknown_code":
        return Refusal(reason, "", error, resource="code", name=event_id)
    if reason in ("duplicate_event", "illegal_transition"):
        return Refusal(reason, "", error, subject=event_id)
    if reason == "permission_denied":   # an SSCC another client packed into first
        return denied(error)
    return invalid("event", error)


def _audited(value):
    """A client's text for an audit record before the engine has checked it: bounded."""
    return value if value is None else clip(str(value), bounds.REASON_BYTES)


def _audited_values(values) -> dict:
    return {str(k): _audited(v) for k, v in dict(values or {}).items()}


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no name for this uid (a container): the number says as much
        return f"uid {os.getuid()}"


class Service:
    """The application over one data directory (`clients`: a Clients, or None for an
    open one in which every caller is LOCAL; `audit_path`: the audit log, by default
    DIR/audit.log: elsewhere for a read-only directory)."""

    def __init__(self, datadir, clients: Clients | None = None, *, audit_path=None):
        self.dd = datadir
        self.audit_path = audit_path
        self.index = datadir.index
        self.clients = clients if clients is not None else Clients()
        self.rights = Rights(datadir, self.clients)
        self.version = __version__
        # batch records never change: cached per process, the most recently used
        self._batches = BoundedCache(BATCH_CACHE)
        self._audit_log = self._issuing = None
        self._epcis = None    # EPCIS capture and query, made on first use
        self._subs = None     # EPCIS subscriptions, made on first use
        self._captures = None  # the thread captures begun by start_capture run in
        try:   # the audit signing key now, while the disk has room (read-only: when first audited)
            self._audit_keys = load_keys(self._audit_file().parent)
        except (OSError, TracecodeError):
            self._audit_keys = None

    def _audit_file(self) -> Path:
        return Path(self.audit_path or self.dd.path / "audit.log")

    # opened on first use: verifying on a read-only directory writes neither
    @property
    def audit(self) -> AuditLog:
        if self._audit_log is None:
            path = self._audit_file()
            try:
                self._audit_log = AuditLog(path, chain=chain_hash(self.dd.path), keys=self._audit_keys)
            except OSError as exc:   # a read-only directory: nothing that must be audited is done
                raise AuditError(f"the audit log {path} cannot be opened ({exc.strerror}): "
                                 "nothing that is audited can be done; on a read-only data "
                                 "directory give `tracecode serve --audit-log PATH` (a writable "
                                 "disk)") from None
            except KeyStoreError as exc:   # audit.key readable by others, or damaged
                raise AuditError(f"the audit key is refused: {exc}; nothing that is audited "
                                 "can be done") from None
        return self._audit_log

    @property
    def issuing(self) -> IdempotentIssuer:
        if self._issuing is None:
            self._issuing = IdempotentIssuer(self.dd)
        return self._issuing

    def close(self) -> None:
        self.drain_captures()   # a capture in its thread still audits and writes
        if self._audit_log is not None:
            self._audit_log.close()

    admit = staticmethod(admit)

    # -- lookups ---------------------------------------------------------------------------
    def scheme(self, name: str, field: str = "product.scheme"):
        if not name:
            raise invalid(field, "a scheme name is required")
        found = self.dd.schemes.get(name)
        if found is None:
            raise Refusal("unknown_scheme", field, f"unknown scheme {name!r}; known: "
                          f"{', '.join(sorted(self.dd.schemes))}", name=name)
        return found

    def batch(self, batch_id: int, field: str = "batch_id") -> BatchRecord:
        if not batch_id:
            raise invalid(field, "a batch id is required")
        hit = self._batches.get(batch_id)
        if hit is None:
            hit = self.index.batches.get(batch_id)
            if hit is None:
                raise Refusal("unknown_batch", field, f"no batch {batch_id}", name=batch_id)
            self._batches[batch_id] = hit
        return hit

    def batch_seen_by(self, caller: Caller, batch_id: int) -> BatchRecord:
        """A batch as a verification shows it: whole to its issuer and to overseers; to
        others only what a label shows (product, lot, expiry), not the production line,
        the requester or the volumes."""
        b = self.batch(batch_id)
        if self.rights.sees_whole(caller, b.scheme, b.product):
            return b
        return BatchRecord(id=b.id, scheme=b.scheme, product=b.product, start=0, count=0,
                           lot=b.lot, expiry=b.expiry, attributes=b.attributes)

    def batches_seen_by(self, caller: Caller, batch_ids) -> list:
        ids = np.unique(np.asarray(batch_ids))
        return [self.batch_seen_by(caller, b) for b in ids[ids != 0].tolist()]

    @staticmethod
    def values(fn, values: dict, field: str) -> dict:
        """A scheme's validation of product or attribute fields, refusals naming the field."""
        try:
            return fn(values)
        except ValidationError as exc:
            raise invalid(f"{field}.{exc.field}" if exc.field else field, str(exc)) from None

    # -- request fields ------------------------------------------------------------------------
    @staticmethod
    def key(field: str, value: str) -> str:
        if not value:
            raise invalid(field, "required")
        if len(value) > limits.MAX_KEY_LENGTH or not value.isascii() or not value.isprintable():
            raise invalid(field, f"must be 1 to {limits.MAX_KEY_LENGTH} printable ASCII characters")
        return value

    @staticmethod
    def when(t: float | None, field: str = "time") -> float | None:
        if not t:
            return None
        try:  # NaN and infinities too: they would break every history that holds them
            return bounds.epoch(field, t)
        except ValidationError as exc:
            raise invalid(field, str(exc)) from None

    @staticmethod
    def scanner(caller: Caller, scanner: str | None) -> str | None:
        """Scans are recorded under the caller's name: a scanner id cannot be borrowed
        (the operator's are recorded as it names them)."""
        if caller.operator:
            return scanner or None
        scanner = scanner or ""
        try:
            bounds.text("scanner", scanner, bounds.SCANNER_ID_BYTES)
        except ValidationError as exc:
            raise invalid("scanner", str(exc)) from None
        return f"{caller.name}/{scanner}" if scanner else caller.name

    @staticmethod
    def one_scan(scan) -> bytes:
        """A single scan must be there and within the size limit."""
        raw = scan if isinstance(scan, bytes) else scan.encode("utf-8", "surrogatepass") \
            if isinstance(scan, str) else bytes(scan) if isinstance(scan, (bytearray, memoryview)) \
            else b""   # None, a number: no text, that scan's fault (EMPTY), not a TypeError
        if not raw:
            raise Refusal("unreadable_scan", "scan", "empty scan", fault="EMPTY")
        if len(raw) > limits.MAX_SCAN_BYTES:
            raise Refusal("unreadable_scan", "scan", f"{len(raw):,} bytes; at most "
                          f"{limits.MAX_SCAN_BYTES:,}", fault="TOO_LONG")
        return raw

    def unreadable(self, scan: bytes) -> Refusal:
        """The refusal of a scan verification could not read, saying why."""
        try:
            self.index.parser.parse(scan)
        except ScanError as exc:
            where = f" at position {exc.position}" if exc.position is not None else ""
            return Refusal("unreadable_scan", "scan", f"{exc} [{exc.fault.name}{where}]",
                           fault=exc.fault.name, scheme=exc.scheme, scan_field=exc.field,
                           position=exc.position)
        return Refusal("unreadable_scan", "scan", "the scan names no code of a known product",
                       fault="INVALID_FIELD")

    def _recorded(self, caller: Caller, record: bool) -> bool:
        return self.rights.may_skip_recording(caller, not record)

    def _audit(self, event: str, caller: Caller, method: str, peer: str, **detail) -> None:
        if caller.operator:   # a command on DIR: which account ran it
            detail.setdefault("user", _os_user())
        self.audit.write(event, caller.name, method, peer, **detail)

    def audit_operation(self, event: str, method: str, **detail) -> None:
        """An operator's operation on DIR (a key rotated, records purged) in the audit log;
        AuditError if it cannot take the record (say so before doing it: audit first)."""
        from .caller import OPERATOR
        self._audit(event, OPERATOR, method, "", **detail)

    def denied_audit(self, caller: Caller | None, method: str, peer: str, refusal: Refusal) -> None:
        """Record a refusal of rights or credentials; the call is refused either way, so an
        audit log that cannot take the record is said in the server's log, not in the
        reply. Unauthenticated refusals (anyone can cause them) are rate-limited and not
        fsynced; a known client's are rate-limited per client."""
        event = "unauthenticated" if refusal.reason == "unauthenticated" else "denied"
        try:
            if caller is None:
                self.audit.write_unauthenticated(method, peer, refusal.detail)
            else:
                self.audit.write_denied(caller.name, method, peer, refusal.detail, event)
        except AuditError as exc:
            log.error("%s refusal of %s by %s not audited: %s", event, method,
                      caller.name if caller else peer, exc)

    # -- issuance ------------------------------------------------------------------------------
    def issue(self, caller: Caller, scheme: str, product: dict, count: int, *,
              idempotency_key: str | None, lot=None, expiry=None, line=None, attributes=None,
              requester=None, peer: str = "", method: str = "RequestBatch") -> tuple[BatchRecord, bool]:
        """Reserve a batch, once per (caller, idempotency key): (batch, replayed). Its
        intent is audited before anything is reserved and its outcome after. The operator
        may issue without a key, as `requester` (it holds the key and the directory: the
        audit log is of what clients did)."""
        admit(caller, "issue", method)
        if isinstance(count, bool) or not isinstance(count, int):
            raise invalid("count", f"must be a whole number, not {type(count).__name__}")
        if attributes is not None and not hasattr(attributes, "items"):
            raise invalid("attributes", f"must be a mapping of name to value, not "
                                        f"{type(attributes).__name__}")
        if caller.operator and idempotency_key is None:
            found = self.scheme(scheme)
            if count < 1:
                raise invalid("count", "must be at least 1")
            asked = {"scheme": found.name, "product": _audited_values(product), "count": count,
                     "requester": _audited(requester)}
            try:   # audited like a client's: intent, then outcome
                self._audit("issue_intent", caller, method, peer, **asked)
            except AuditError as exc:
                raise Refusal("audit_log_full", "", f"nothing issued: {exc}") from None
            try:
                batch = self.dd.issue(found.name, dict(product), count, lot=lot or None,
                                      expiry=expiry or None, line=line or None, requester=requester,
                                      attributes=dict(attributes or {})).record
            except Exception as exc:
                try:
                    self._audit("issue_refused", caller, method, peer, error=bounded(str(exc)), **asked)
                except AuditError:
                    pass  # the intent is there; the error goes to the operator either way
                raise
            try:
                self._audit("issue", caller, method, peer, batch=batch.id, scheme=found.name,
                            product=batch.product, count=batch.count, first_counter=batch.start,
                            requester=_audited(requester))
            except AuditError as exc:
                raise Refusal("audit_incomplete", "", f"batch {batch.id} committed, audit line not "
                              f"written ({exc}); its intent is in the audit log; its codes: `tracecode "
                              f"batches` and download batch {batch.id}", batch=batch.id) from None
            return batch, False
        key = self.key("idempotency_key", idempotency_key)
        if " " in key:  # the batch's requester is "<client> request <key>": keep it unambiguous
            raise invalid("idempotency_key", "must not contain spaces")
        found = self.scheme(scheme)
        product = self.values(found.product_values, dict(product), "product.fields")
        self.rights.require_owner(caller, found.name, product, "issue codes for")
        if not 1 <= count <= limits.MAX_BATCH_CODES:
            raise invalid("count", f"{count:,} is not between 1 and {limits.MAX_BATCH_CODES:,}")
        attributes = dict(attributes or {})
        self.values(found.attribute_values, attributes, "attributes")
        # audited before and after: no batch exists without its intent in the audit log
        asked = {"scheme": found.name, "product": product, "count": count, "idempotency_key": key}
        try:
            self._audit("issue_intent", caller, method, peer, **asked)
        except AuditError as exc:
            raise Refusal("audit_log_full", "", f"nothing issued: {exc}") from None
        try:
            batch, replayed = self.issuing.issue(
                caller.name, key, found.name, product, count, lot=lot or None,
                expiry=expiry or None, line=line or None, attributes=attributes)
        except Exception as exc:
            try:
                self._audit("issue_refused", caller, method, peer, error=bounded(str(exc)), **asked)
            except AuditError:
                pass  # the intent is there; the refusal goes to the caller either way
            if isinstance(exc, ValueError):  # the index's checks: the expiry, bounded text (named)
                raise refusal_of(exc, "" if getattr(exc, "field", None) else "expiry") from None
            raise
        try:
            self._audit("issue", caller, method, peer, batch=batch.id, scheme=found.name,
                        product=product, count=batch.count, first_counter=batch.start,
                        idempotency_key=key, replayed=replayed)
        except AuditError as exc:
            raise Refusal(
                "audit_incomplete", "", f"batch {batch.id} committed, audit line not written "
                f"({exc}); its intent is in the audit log: retry with the same idempotency key "
                f"for the batch", batch=batch.id) from None
        return batch, replayed

    def download(self, caller: Caller, batch_id: int, offset: int = 0, count: int | None = None,
                 *, render: str = "bare", chunk_codes: int = 0, max_chunk_bytes: int | None = None,
                 method: str = "DownloadCodes"):
        """(width, chunks): the codes of an issued batch, all or `count` from `offset`, as
        (offset, numpy S array) chunks of at most chunk_codes codes (and max_chunk_bytes),
        each made only when the one before was taken."""
        admit(caller, "download", method)
        batch = self.batch(batch_id)
        self.rights.require_owner(caller, batch.scheme, batch.product, "download codes of")
        scheme = self.scheme(batch.scheme)
        if render not in scheme.renders:
            raise invalid("render", f"{scheme.name} codes render as {', '.join(scheme.renders)}")
        if offset >= batch.count:
            raise invalid("offset", f"batch {batch.id} has {batch.count:,} codes")
        count = count or batch.count - offset
        if offset + count > batch.count:
            raise invalid("count", f"offset + count passes the end of batch {batch.id} "
                                   f"({batch.count:,} codes)")
        # an Issuer of its own: rendering is pure FF1, nothing shared with the index
        iss = Issuer(scheme, batch.product, self.dd.keyring.key(batch.key_version))
        width = iss.layout(render, batch.attributes).width
        per = min(chunk_codes or limits.DEFAULT_CHUNK_CODES, limits.MAX_CHUNK_CODES)
        if max_chunk_bytes:
            per = min(per, max_chunk_bytes // width)
        per = max(1, per)

        def chunks():
            end = offset + count
            for off in range(offset, end, per):
                k = min(per, end - off)
                yield off, iss.codes(batch.start + off, k, render, batch.attributes)
        return width, chunks()

    def report_commissioned(self, caller: Caller, event_id: str, *, batch_id: int = 0, ranges=(),
                            codes=(), place=None, time=None, peer: str = "",
                            method: str = "ReportCommissioned") -> dict:
        """Codes applied to products (ranges: (offset, count) in the batch; or codes)."""
        return self._report(caller, "commission", event_id, batch_id, ranges, codes, place, time,
                            None, "report_commissioned", method)

    def report_spoiled(self, caller: Caller, event_id: str, *, batch_id: int = 0, ranges=(),
                       codes=(), place=None, time=None, reason="spoiled", peer: str = "",
                       method: str = "ReportSpoiled") -> dict:
        return self._report(caller, "decommission", event_id, batch_id, ranges, codes, place,
                            time, reason, "report_spoiled", method)

    def _report(self, caller, action, event_id, batch_id, ranges, codes, place, time, reason,
                verb, method) -> dict:
        admit(caller, verb, method)
        event_id = self.key("event_id", event_id)
        ranges = list(ranges)
        total = sum(n for _, n in ranges) + len(codes)  # before building any code
        if not total:
            raise invalid("ranges", "name the codes: ranges of the batch, or codes")
        if total > limits.MAX_CODES_PER_EVENT:
            raise invalid("ranges", f"{total:,} codes; at most {limits.MAX_CODES_PER_EVENT:,} "
                                    "per report")
        out = []
        if ranges:
            batch = self.batch(batch_id)
            self.rights.require_owner(caller, batch.scheme, batch.product, action)
            for i, (o, n) in enumerate(ranges):
                if not n or o + n > batch.count:
                    raise invalid(f"ranges[{i}]", f"{o:,} + {n:,} is not a non-empty run inside "
                                                  f"batch {batch.id} ({batch.count:,} codes)")
            iss = self.dd.issuer(batch.scheme, batch.product, batch.key_version)
            for o, n in ranges:
                run = iss.codes(batch.start + o, n)
                out += run.astype(f"U{run.dtype.itemsize}").tolist()
        if len(codes):
            codes = [c.decode() if isinstance(c, bytes) else str(c) for c in codes]
            self.rights.require_codes(caller, codes, action)
            out += codes
        event = {"id": event_id, "action": action, "codes": out}
        if place:
            event["place"] = place
        if reason:
            event["reason"] = reason
        if time:
            event["time"] = self.when(time)
        result = self.dd.apply([event], client=caller.name)[0]   # event ids are per client
        if not result["ok"]:
            raise event_refusal(event_id, result)
        return {"id": event_id, "ok": True, "seq": result["seq"]}

    # -- verification --------------------------------------------------------------------------
    def verify(self, caller: Caller, scan, *, scanner=None, place=None, time=None,
               record: bool = True, method: str = "Verify", requery: bool = False,
               region=None, lat=None, lon=None):
        """The verdict on one scan (an Answer); an unreadable scan is refused
        (unreadable_scan, saying what is wrong where). requery: an adapter's answer that
        is no new query (the same browser's reload, a HEAD, a link preview, one the
        adapter's limits refuse): anyone's, never recorded."""
        admit(caller, "verify", method)
        raw = self.one_scan(scan)
        ans = self.dd.verify(raw, scanner=self.scanner(caller, scanner), place=place or None,
                             when=self.when(time),
                             record=False if requery else self._recorded(caller, record),
                             **self.location(region, lat, lon))
        if ans.fault:
            raise self.unreadable(raw)
        self.alert_feed.mark_one(ans)
        return ans

    @property
    def alert_feed(self):
        """The open clone/diversion alerts verification answers SUSPICIOUS for."""
        if getattr(self, "_alert_feed", None) is None:
            from .alertfeed import AlertFeed
            self._alert_feed = AlertFeed(self.index.store)
        return self._alert_feed

    def record(self, caller: Caller, scan, answer, *, scanner=None, place=None, time=None,
               method: str = "Verify", region=None, lat=None, lon=None) -> None:
        """Record a query verify(requery=True) answered (answer: its Answer), with the verdict
        it gave: the adapter records once its limits let the query through, without
        verifying the code a second time."""
        admit(caller, "verify", method)
        self.dd.index.record(self.one_scan(scan), answer, scanner=self.scanner(caller, scanner),
                             place=place or None, when=self.when(time),
                             **self.location(region, lat, lon))

    def public_queries(self, caller: Caller, code: str, bound: int, method: str = "Verify") -> tuple:
        """(count up to bound + 1, first time, first place) of a code's public queries:
        what the public window says of a code's earlier queries (anyone who may verify)."""
        admit(caller, "verify", method)
        return self.dd.index.public_queries(code, bound)

    def verify_many(self, caller: Caller, scans, offsets=None, *, scanner=None, place=None,
                    time=None, record: bool = True, method: str = "VerifyStream",
                    region=None, lat=None, lon=None):
        """Verdicts on many scans (the engine's VerifyBatch); batch records through
        batches_seen_by."""
        admit(caller, "verify_many", method)
        out = self.dd.verify_many(scans, offsets, scanner=self.scanner(caller, scanner),
                                  place=place or None, when=self.when(time),
                                  record=self._recorded(caller, record),
                                  **self.location(region, lat, lon))
        self.alert_feed.mark_many(out)
        return out

    @staticmethod
    def location(region, lat, lon) -> dict:
        """A scan's region (GB/T 2260) and coordinates checked, as the index's keywords
        (tracecode.regions.location; a malformed one is refused invalid_argument)."""
        if region in (None, "") and lat in (None, "") and lon in (None, ""):
            return {}
        try:
            region, lat, lon = scan_location(region, lat, lon)
        except InvalidFormat as exc:
            raise invalid(exc.field or "region", str(exc)) from None
        return {"region": region, "lat": lat, "lon": lon}

    # -- the counterfeit check (engine/registry) -------------------------------------------
    def registry(self):
        registry = self.dd.registry
        if not registry:
            how = ("it is read-only: import one where the directory is writable"
                   if self.dd.readonly else "import one with `tracecode registry import`")
            raise Refusal("no_registry", "", f"the data directory holds no product registry "
                          f"({how})", subject="registry")
        return registry

    def check(self, caller: Caller, scan, *, scanner=None, place=None, time=None,
              record: bool = True, method: str = "Check", requery: bool = False,
              region=None, lat=None, lon=None):
        """The counterfeit check of one scan: check_many of one ([0] is its RegistryAnswer).
        requery: as verify's; region, lat, lon: as verify's, recorded with the scan."""
        admit(caller, "check", method)
        raw = self.one_scan(scan)
        return self.registry().check_many(
            [raw], scanner=self.scanner(caller, scanner), place=place or None,
            when=self.when(time), record=False if requery else self._recorded(caller, record),
            **self.location(region, lat, lon))

    def check_many(self, caller: Caller, scans, offsets=None, *, scanner=None, place=None,
                   time=None, record: bool = True, method: str = "CheckStream",
                   region=None, lat=None, lon=None):
        admit(caller, "check_many", method)
        return self.registry().check_many(
            scans, offsets, scanner=self.scanner(caller, scanner), place=place or None,
            when=self.when(time), record=self._recorded(caller, record),
            **self.location(region, lat, lon))

    def lookup_approval(self, caller: Caller, number: str, date=None,
                        method: str = "LookupApproval"):
        """An approval or registration number (any spelling): its ApprovalInfo on `date`
        (a date or YYYY-MM-DD; default today)."""
        from ..registry.records import RowError, canonical_number
        admit(caller, "lookup_approval", method)
        text = (number or "").strip()
        if not text:
            raise invalid("number", "required")
        try:
            _, number = canonical_number(text)
        except RowError as exc:
            raise invalid("number", str(exc), error="INVALID_NUMBER") from None
        on = date
        if isinstance(date, str):
            try:
                on = _dt.date.fromisoformat(date) if date else None
            except ValueError:
                raise invalid("date", f"{date!r} is not a date (YYYY-MM-DD)") from None
        try:
            return self.registry().lookup(number, on)
        except UnknownApproval as exc:
            raise Refusal("unknown_approval", "number", str(exc), name=number) from None

    # -- lifecycle -----------------------------------------------------------------------------
    def malformed(self, ev: dict, i: int) -> str | None:
        """What is wrong with event i before the index sees it (None: nothing)."""
        if not ev.get("id"):
            return f"events[{i}].id is required"
        if len(str(ev["id"])) > limits.MAX_KEY_LENGTH:
            return f"events[{i}].id is over {limits.MAX_KEY_LENGTH} characters"
        if not ev.get("action"):
            return f"events[{i}].action is required; actions: {', '.join(ACTIONS)}"
        if _count(ev.get("codes")) > limits.MAX_CODES_PER_EVENT:
            return f"events[{i}] names over {limits.MAX_CODES_PER_EVENT:,} codes"
        t = ev.get("time")
        if t and not isinstance(t, str):
            try:
                self.when(t, f"events[{i}].time")
            except Refusal as exc:
                return exc.detail if not exc.field else f"{exc.field}: {exc.detail}"
        if ev.get("scheme") is not None or ev.get("product") is not None:
            scheme = ev.get("scheme") or ""
            if scheme not in self.dd.schemes:
                return f"events[{i}].product.scheme: unknown scheme {scheme!r}"
            try:
                self.dd.schemes[scheme].product_values(dict(ev.get("product") or {}))
            except ValueError as exc:
                return f"events[{i}].product.fields: {exc}"
        return None

    def authorize_event(self, caller: Caller, ev: dict) -> None:
        """The whole call is refused if one event is outside the caller's rights."""
        if caller.admin or (ev["action"] == "recall" and "regulator" in caller.roles):
            return
        if "issuer" not in caller.roles:
            raise denied(f"{caller.name} may not send {ev['action']} events", client=caller.name)
        what = f"send {ev['action']} events about"
        if ev.get("batch"):
            b = self.batch(int(ev["batch"]), "events.batch_id")
            self.rights.require_owner(caller, b.scheme, b.product, what)
        if ev.get("scheme"):
            self.rights.require_owner(caller, ev["scheme"], ev.get("product") or {}, what)
        codes = list(ev["codes"]) if ev.get("codes") is not None else []
        self.rights.require_codes(caller, codes + ([ev["parent"]] if ev.get("parent") else []), what)

    def apply_events(self, caller: Caller, events, *, atomic: bool = False, peer: str = "",
                     label: str = "", method: str = "SendEvents") -> list:
        """Apply lifecycle events (dicts as `tracecode events` reads them; an entry that is
        a str is an event the adapter could not decode, that sentence its error). One
        result per event, as Index.apply gives them, a rejection's `reason` one of the
        refusal reasons; atomic: all or none. Recalls are audited before and after."""
        admit(caller, "apply_events", method)
        if caller.operator:   # the engine's own handling and its event id namespace
            return self._operator_apply([] if not events else events, atomic, method, peer)
        n = len(events)
        if not 1 <= n <= limits.MAX_EVENTS_PER_BATCH:
            raise invalid("events", f"{n:,} events; 1 to {limits.MAX_EVENTS_PER_BATCH:,} per batch")
        results: list = [None] * n
        todo = []
        for i, ev in enumerate(events):
            problem = ev if isinstance(ev, str) else self.malformed(ev, i)
            if problem:
                eid = "" if isinstance(ev, str) else clip(str(ev.get("id") or ""), limits.MAX_KEY_LENGTH)
                results[i] = {"id": eid, "ok": False, "error": bounded(problem),
                              "reason": "invalid_argument"}
                continue
            self.authorize_event(caller, ev)
            todo.append((i, ev))
        if atomic and len(todo) < n:
            todo = []
        recalls = [ev for _, ev in todo if ev["action"] == "recall"]
        try:  # audited before they are applied: no recall without its intent in the log
            for ev in recalls:
                self._audit("recall_intent", caller, method, peer, event_id=ev["id"],
                            codes=_count(ev.get("codes")), batch=ev.get("batch"),
                            lot=_audited(ev.get("lot")), reason=_audited(ev.get("reason")))
        except AuditError as exc:
            raise Refusal("audit_log_full", "", f"events of message {label} not applied: "
                          f"{exc}") from None
        applied = self.dd.apply([ev for _, ev in todo], atomic=atomic,  # ids per client
                                client=caller.name, bind_ssccs=not caller.admin) if todo else []
        for (i, ev), r in zip(todo, applied):
            results[i] = {"id": str(r["id"]), "ok": True, "seq": r["seq"]} if r["ok"] \
                else {"id": str(r["id"]), "ok": False, "error": bounded(str(r["error"])),
                      "reason": event_reason(r)}
            if ev["action"] == "recall":
                try:
                    self._audit("recall", caller, method, peer, event_id=ev["id"], ok=r["ok"],
                                error=r.get("error") and bounded(str(r["error"])),
                                codes=_count(ev.get("codes")), batch=ev.get("batch"),
                                lot=_audited(ev.get("lot")), reason=_audited(ev.get("reason")))
                except AuditError as exc:  # applied, and its intent is in the log: ack it
                    log.error("recall %s (ok=%s) audited by its intent only: %s", ev["id"],
                              r["ok"], exc)
        for i, r in enumerate(results):
            if r is None:  # atomic: refused because of another event
                ev = events[i]
                results[i] = {"id": str(ev.get("id") or ""), "ok": False, "reason": "not_applied",
                              "error": "not applied: another event in the batch is invalid"}
        return results

    def _operator_apply(self, events, atomic: bool, method: str, peer: str) -> list:
        """The operator's events as the engine takes them, its recalls audited before and after."""
        from .caller import OPERATOR
        recalls = [ev for ev in events if isinstance(ev, dict) and ev.get("action") == "recall"]

        def about(ev):
            return {"event_id": _audited(ev.get("id")), "codes": _count(ev.get("codes")),
                    "batch": _audited(ev.get("batch")), "lot": _audited(ev.get("lot")),
                    "reason": _audited(ev.get("reason"))}
        try:
            for ev in recalls:
                self._audit("recall_intent", OPERATOR, method, peer, **about(ev))
        except AuditError as exc:
            raise Refusal("audit_log_full", "", f"no event applied: {exc}") from None
        results = self.dd.apply(events, atomic=atomic)
        if recalls:
            for ev, r in zip(events, results):
                if isinstance(ev, dict) and ev.get("action") == "recall":
                    try:
                        self._audit("recall", OPERATOR, method, peer, ok=r["ok"],
                                    error=r.get("error") and bounded(str(r["error"])), **about(ev))
                    except AuditError as exc:
                        log.error("recall %s (ok=%s) audited by its intent only: %s", ev.get("id"),
                                  r["ok"], exc)
        return results

    def history(self, caller: Caller, code: str, limit: int = 0,
                method: str = "History") -> tuple[list, bool]:
        """(items, truncated): the last `limit` (at most MAX_HISTORY_ITEMS) events and scans
        of a code and its containers, and (kind "transformation") the EPCIS transformations
        it came out of, with their inputs (app/epcis.py lineage)."""
        admit(caller, "history", method)
        if caller.operator:
            items = self._with_lineage(caller, code, self.dd.history(code))
            return (items[-limit:] if limit else items), bool(limit) and len(items) > limit
        code = (code or "").strip()
        if not code:
            raise invalid("code", "required")
        if not is_sscc(code) and self.dd.verify(code, record=False).fault:  # before any rights:
            raise self.unreadable(code.encode())  # a typo is not a refusal to audit
        self.rights.require_codes(caller, [code], "read the history of", read=True)
        try:
            items = self.dd.history(code)
        except ValueError as exc:  # EventError: the index knows no such code
            raise Refusal("unknown_code", "code", str(exc), name=code) from None
        items = self._with_lineage(caller, code, items)
        limit = min(limit or limits.MAX_HISTORY_ITEMS, limits.MAX_HISTORY_ITEMS)
        return items[-limit:], len(items) > limit

    def _with_lineage(self, caller: Caller, code: str, items: list) -> list:
        made = self.epcis.history_items(caller, code) if isinstance(code, str) else []
        if not made:
            return items
        return sorted(items + made, key=lambda i: (i.get("time") is not None, i.get("time") or 0.0))

    # -- administration ------------------------------------------------------------------------
    def list_schemes(self, caller: Caller, method: str = "ListSchemes") -> list:
        admit(caller, "list_schemes", method)
        return [self.dd.schemes[name] for name in sorted(self.dd.schemes)]

    def list_batches(self, caller: Caller, *, after_id: int = 0, scheme: str | None = None,
                     limit: int = 0, method: str = "ListBatches") -> tuple[list, bool]:
        """(batches, more): the batch records after `after_id` the caller may see."""
        admit(caller, "list_batches", method)
        limit = min(limit or limits.DEFAULT_BATCH_PAGE, limits.MAX_BATCH_PAGE)
        out = []
        for b in self.index.store.batches_after(after_id):
            if len(out) == limit:
                return out, True
            if (not scheme or b.scheme == scheme) and (
                    oversees(caller) or caller.owns(b.scheme, b.product)):
                out.append(b)
        return out, False

    def stats(self, caller: Caller, method: str = "Stats") -> dict:
        """Batches and codes issued (in all and per scheme), products, events, scans, the
        index's size and its map's."""
        admit(caller, "stats", method)
        per: dict = {}
        for b in self.index.store.batches_after():
            s = per.setdefault(b.scheme, {"scheme": b.scheme, "batches": 0, "codes_issued": 0,
                                          "products": 0})
            s["batches"] += 1
            s["codes_issued"] += b.count
        counts = self.index.store.stats()
        for scheme, products in counts.pop("products").items():
            if scheme in per:
                per[scheme]["products"] = products
        return {"batches": sum(s["batches"] for s in per.values()),
                "codes_issued": sum(s["codes_issued"] for s in per.values()),
                "schemes": [per[k] for k in sorted(per)], **counts,
                "server_version": self.version}

    def whoami(self, caller: Caller, method: str = "WhoAmI") -> dict:
        admit(caller, "whoami", method)
        return {"name": caller.name, "authenticated_by": caller.via, "roles": sorted(caller.roles),
                "products": [str(r) for r in caller.products], "server_version": self.version,
                "registry": bool(self.dd.registry)}

    # -- the links of products (the resolver's targets; app/links.py: keys and who sets them) ---
    def link_key(self, key) -> str:
        """The canonical form of a link key ("01/<GTIN-14>[/10/<lot>]", "<scheme>/<product>"),
        or the refusal saying what is wrong with it."""
        return links_of.parse_key(key, self.dd.schemes).text

    def links(self, caller: Caller, key, method: str = "GetLinks") -> list:
        """The links stored under a key (Link objects, in the order they were set): public,
        any caller may read them."""
        from ..digitallink.links import Link
        admit(caller, "links", method)
        k = links_of.parse_key(key, self.dd.schemes)
        try:
            stored = self.index.store.links_get(k.text)
        except ValueError as exc:   # a key the store cannot hold (its bytes) has no links
            raise invalid("key", str(exc)) from None
        return [Link.from_dict(d) for d in stored]

    def links_for(self, caller: Caller, key, method: str = "GetLinks") -> list:
        """The links the resolver serves for a key: a GTIN lot's own if it has any, else its
        product's (a URI with a lot or serial resolves at product level)."""
        admit(caller, "links", method)
        k = links_of.parse_key(key, self.dd.schemes)
        found = self.links(caller, k.text, method)
        if not found and k.lot is not None:
            found = self.links(caller, f"{links_of.GTIN_AI}/{k.gtin}", method)
        return found

    def set_links(self, caller: Caller, key, links, *, peer: str = "",
                  method: str = "SetLinks") -> list:
        """Replace the links of a product (an empty list removes them): an admin, or an issuer
        owning the product the key names. Validated whole (digitallink.links.validate), then
        audited (its intent before the write, its outcome after) and stored in one write;
        returns the links as stored."""
        from ..digitallink import links as dl
        admit(caller, "set_links", method)
        k = links_of.parse_key(key, self.dd.schemes)
        links_of.require_setter(caller, k, self.dd.schemes)
        items = links_of.validated(links_of.link_objects(links, dl.Link), dl.validate)
        stored = [link.to_dict() for link in items]
        asked = {"key": k.text, "links": stored}
        try:
            self._audit("set_links_intent", caller, method, peer, **asked)
        except AuditError as exc:
            raise Refusal("audit_log_full", "", f"links of {k.text} not set: {exc}") from None
        try:
            self.index.store.links_put(k.text, stored)
        except Exception as exc:
            try:
                self._audit("set_links_refused", caller, method, peer, key=k.text,
                            error=bounded(str(exc)))
            except AuditError:
                pass  # the intent is there; the refusal goes to the caller either way
            refusal = refusal_of(exc, "key")
            if refusal is None:
                raise
            raise refusal from None
        try:
            self._audit("set_links", caller, method, peer, key=k.text, count=len(stored))
        except AuditError as exc:
            raise Refusal("audit_incomplete", "", f"links of {k.text} set, audit line not "
                          f"written ({exc}); its intent is in the audit log") from None
        return items

    @property
    def quotas(self):
        """Rare-earth production quotas and the checks of a rare-earth capture (app/quotas.py)."""
        if getattr(self, "_quotas", None) is None:
            from .quotas import Quotas
            self._quotas = Quotas(self)
        return self._quotas

    # -- EPCIS capture and query (app/epcis.py: the job, rights per event, one store write) ---
    @property
    def epcis(self):
        if self._epcis is None:
            from .epcis import Capture
            self._epcis = Capture(self)
        return self._epcis

    def capture(self, caller: Caller, body: bytes, content_type: str | None, *,
                behaviour: str = "rollback", epcis_version: str | None = None,
                cbv_version: str | None = None, peer: str = "", method: str = "Capture") -> dict:
        """Capture an EPCIS 2.0 document (JSON / JSON-LD, or XML): the capture job, complete
        when this returns and stored (capture_job reads it). behaviour: "rollback" (nothing
        captured if any event is bad) or "proceed" (the good ones are); each bad event is an
        error in the job with its JSON pointer."""
        return self.epcis.capture(caller, body, content_type, behaviour=behaviour,
                                  epcis_version=epcis_version, cbv_version=cbv_version,
                                  peer=peer, method=method)

    def start_capture(self, caller: Caller, body: bytes, content_type: str | None, *,
                      behaviour: str = "rollback", epcis_version: str | None = None,
                      cbv_version: str | None = None, peer: str = "", method: str = "Capture") -> dict:
        """Capture as capture does, in this process's capture thread: the job at once, as
        "running" (arguments and rights refused here, before any job). Captures run one
        at a time per process, queued (LMDB has one writer: more threads would wait on it), at
        most capture_runs.MAX_QUEUED_PER_CLIENT of a client's and MAX_QUEUED in all; capture_job
        reads the job as it goes and when done (as failed once its worker is gone)."""
        if self._captures is None:
            from .capture_runs import CaptureQueue
            self._captures = CaptureQueue()
        queue = self._captures
        queue.reserve(caller.name)   # too_many_captures (429, Retry-After) before any job
        try:
            job, finish = self.epcis.begin(caller, body, content_type, behaviour=behaviour,
                                           epcis_version=epcis_version, cbv_version=cbv_version,
                                           peer=peer, method=method)
        except BaseException:
            queue.release(caller.name)
            raise
        queue.submit(caller.name, finish, job["id"])
        return job

    def drain_captures(self) -> None:
        """Wait for the captures begun here to finish (before the index is closed)."""
        if self._captures is not None:
            self._captures.shutdown()
            self._captures = None

    def capture_job(self, caller: Caller, job_id: str, method: str = "CaptureJob") -> dict:
        """A capture job of the caller's (an overseer's: any); not_found otherwise."""
        return self.epcis.capture_job(caller, job_id, method)

    def query_events(self, caller: Caller, query, page_token: str | None = None,
                     per_page: int = 100, method: str = "QueryEvents") -> tuple[list, str | None]:
        """(captured EPCIS events matching an EpcisQuery, the next page's token or None):
        overseers read all, an issuer its own and its products' events."""
        return self.epcis.query_events(caller, query, page_token, per_page, method)

    def query_epcis(self, caller: Caller, params, fixed: dict | None = None,
                    method: str = "QueryEpcis") -> tuple[list, str | None]:
        """query_events in the EPCIS binding's parameters ({"EQ_bizStep": "shipping", "perPage":
        "10", ...}: tracecode.app.epcis_params), eventCountLimit and orderBy included."""
        return self.epcis.query(caller, params, fixed, method)

    def history_epcis(self, caller: Caller, code: str, method: str = "EpcisHistory") -> dict:
        """A code's history as an EPCIS 2.0 EPCISDocument (GS1's schema), with history's rights."""
        return self.epcis.history_document(caller, code, method)

    def epcis_event(self, caller: Caller, event_id: str, method: str = "Event") -> list[dict]:
        """The event of an eventID (with its error declaration when captured); not_found."""
        return self.epcis.event(caller, event_id, method)

    def capture_jobs(self, caller: Caller, page_token: str | None = None, per_page: int = 100,
                     method: str = "CaptureJobs") -> tuple[list, str | None]:
        """The caller's capture jobs, newest first, a page at a time."""
        return self.epcis.capture_jobs(caller, page_token, per_page, method)

    def define_query(self, caller: Caller, name: str, params, peer: str = "", method: str = "DefineQuery") -> dict:
        """Save an EPCIS query (the binding's parameters) under a name of the caller's."""
        return self.epcis.define_query(caller, name, params, peer, method)

    def named_query(self, caller: Caller, name: str, method: str = "NamedQuery") -> dict:
        return self.epcis.named_query(caller, name, method)

    def named_queries(self, caller: Caller, page_token: str | None = None, per_page: int = 100,
                      method: str = "NamedQueries") -> tuple[list, str | None]:
        return self.epcis.named_queries(caller, page_token, per_page, method)

    def delete_query(self, caller: Caller, name: str, peer: str = "", method: str = "DeleteQuery") -> None:
        self.epcis.delete_query(caller, name, peer, method)

    def run_query(self, caller: Caller, name: str, page_token: str | None = None, per_page: int | None = None,
                  method: str = "RunQuery") -> tuple[list, str | None]:
        """A named query's events, a page at a time."""
        return self.epcis.run_query(caller, name, page_token, per_page, method)

    # -- EPCIS subscriptions (app/subscriptions.py: the outbox is the store's EPCIS log) ------
    @property
    def subs(self):
        if self._subs is None:
            from .subscriptions import Subscriptions
            self._subs = Subscriptions(self)
        return self._subs

    def subscribe(self, caller: Caller, query_name: str, query, *, dest: str, signature_token: str | None = None,
                  stream: bool = False, schedule: dict | None = None, report_if_empty: bool = False,
                  initial_record_time: float | None = None, format: str = "epcis-jsonld",
                  max_event_count: int | None = None, peer: str = "", method: str = "Subscribe") -> dict:
        """Subscribe dest (a webhook URL) to the events of an EpcisQuery, stream or on a
        schedule (GS1's binding): every matching event the caller may read is delivered at
        least once, in capture order, from now (or from initial_record_time)."""
        return self.subs.subscribe(caller, query_name, query, dest=dest, signature_token=signature_token,
                                   stream=stream, schedule=schedule, report_if_empty=report_if_empty,
                                   initial_record_time=initial_record_time, format=format,
                                   max_event_count=max_event_count, peer=peer, method=method)

    def subscribe_query(self, caller: Caller, query_name: str, **kw) -> dict:
        """subscribe to one of the caller's named queries (define_query): the same
        keywords as subscribe."""
        return self.subs.subscribe_named(caller, query_name, **kw)

    def subscriptions(self, caller: Caller, query_name: str | None = None, method: str = "Subscriptions") -> list:
        """The caller's subscriptions (an overseer's: all), with their delivery state."""
        return self.subs.subscriptions(caller, query_name, method)

    def subscription(self, caller: Caller, sub_id: str, method: str = "Subscription") -> dict:
        return self.subs.subscription(caller, sub_id, method)

    def unsubscribe(self, caller: Caller, sub_id: str, peer: str = "", method: str = "Unsubscribe") -> None:
        self.subs.unsubscribe(caller, sub_id, peer, method)

    def rewind_subscription(self, caller: Caller, sub_id: str, bookmark: int, peer: str = "",
                            method: str = "Rewind") -> dict:
        """Move a subscription's bookmark back (or on): delivery goes on after it."""
        return self.subs.rewind(caller, sub_id, bookmark, peer, method)

    # -- codes others assigned (special equipment): tracecode.app.assets ------------------------
    @property
    def assets(self):
        if getattr(self, "_assets", None) is None:
            from .assets import AssetVerbs
            self._assets = AssetVerbs(self)
        return self._assets

    def register(self, caller: Caller, scheme: str, codes, *, owner: str | None = None,
                 source: str = "-", peer: str = "", method: str = "Register"):
        """Register codes others assigned (a RegisterReport: counts, rejected lines and why)."""
        return self.assets.register(caller, scheme, codes, owner=owner, source=source, peer=peer,
                                    method=method)

    def asset_steps(self, caller: Caller, steps: list, *, peer: str = "", method: str = "AssetSteps") -> list:
        """Record assets' steps; one result each (a refused one's reason and why)."""
        return self.assets.steps(caller, steps, peer=peer, method=method)

    def asset(self, caller: Caller, code: str, *, unit: str | None = None, today=None,
              method: str = "Asset") -> dict:
        """An asset's verdict; with unit, whether that filling unit may fill it now."""
        return self.assets.asset(caller, code, unit=unit, today=today, method=method)

    # -- licences of hazardous goods' steps: tracecode.app.licences -----------------------------
    @property
    def licence_verbs(self):
        if getattr(self, "_licences", None) is None:
            from .licences import LicenceVerbs
            self._licences = LicenceVerbs(self)
        return self._licences

    def licence_add(self, caller: Caller, number: str, holder: str, kinds, valid_from: str,
                    valid_to: str, *, peer: str = "", method: str = "LicenceAdd") -> dict:
        """Add (or renew) a licence hazardous goods' steps may name (regulators, admins)."""
        return self.licence_verbs.add(caller, number, holder, kinds, valid_from, valid_to,
                                      peer=peer, method=method)

    def licences(self, caller: Caller, method: str = "Licences") -> list:
        return self.licence_verbs.list(caller, method=method)

    def link_key_of(self, answer, *, lot: bool = False) -> str | None:
        """The link key of the product a verified code belongs to (an Answer or a registry
        check's answer); lot=True: a GTIN's lot-level key when the code has a lot. None for
        a code of no known product."""
        return links_of.link_key_of(answer, self.dd.schemes, lot=lot)
