"""EPCIS capture and query on the application layer (Service.capture, capture_job,
query_events delegate here): rights, the capture job, one store write.

A capture reads the document (tracecode.epcis), judges each event (GS1's schema, the CBV
rules, the caller's rights over its EPCs), maps those whose bizStep and disposition the
lifecycle knows onto tracecode's events (lifecycle_of) and applies them through the index
with the EPCIS events themselves in the same write (Index.apply(also=...)): with
behaviour "rollback" one bad event leaves nothing stored nor applied; with "proceed" the
good events are stored and applied and each bad one is an error in the job, with its JSON
pointer (/epcisBody/eventList/i).

A capture is begun (begin: arguments and rights judged, the job stored as "running") and
finished (the events judged, stored and applied, the job stored as "success" or
"failure"); capture does both, the HTTP adapter runs the finish in a thread of its own
(Service.start_capture) and answers 202 at once. GET /epcis/capture/{id} reads the job
while it runs and after.

An overseer (admin, regulator) captures any event. An event that names none of
tracecode's own codes (issued, imported, or an SSCC with history) is stored without a
lifecycle step, as a repository of trade partners' events; an issuer's events name only its
products' codes and SSCCs (class-level EPCs: its GTINs), and always go through the
lifecycle (an unknown code is an error there).

EPCs are indexed by their code form (epc_key): an event captured with URNs is found by a
query with the Digital Link or resolver URI of the same code. An event captured again
(its eventID, else its GS1 event hash) is acknowledged as already stored and not applied
again; an error declaration (the same eventID with errorDeclaration) is stored beside the
event it declares and undoes its state change (index/undo.py; _undoable, _undo), that event
captured before or earlier in the same document.

A TransformationEvent consumes its instance inputs and commissions its outputs still issued
(epcis.transform; _transformations reads their states once a capture). An event with a
rare-earth bizStep gets its checks (mass balance, quota: app/quotas.py) in the stored event
under "tracecode:checks", and the job lists the flagged ones ("flagged").
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
from dataclasses import replace
import time as _time
import uuid
from typing import Callable

import numpy as np

from .. import epcis
from ..categories import food_lots, rare_earth
from ..epcis import facets as _facets, schema, transform
from ..epcis.export import NAMESPACE as TRACECODE_NS
from ..store.port import EpcisQuery, EpcisRecord
from . import capture_runs, epcis_params
from .alert_events import ALERTS_SOURCE
from .alert_events import BIZ_STEP as ALERT_STEP
from .alert_events import EXTENSION as ALERT_EXTENSION
from .asset_capture import asset_code
from .audit import AuditError
from .caller import OPERATOR, Caller
from .refusal import Refusal, bounded, denied, invalid, refusal_of
from .rights import admit, is_sscc, oversees

BEHAVIOURS = ("rollback", "proceed")
EPCIS_VERSIONS = ("2.0", "2.0.0")
DECLARED = "#errorDeclaration"  # the store id of an error declaration: its event's id + this
MAX_EVENTS = 10_000            # per capture (the REST binding's GS1-EPCIS-Capture-Limit default)
MAX_JOB_ERRORS = 1000          # errors a job lists; errors_total says how many there were
DEFAULT_PAGE, MAX_PAGE = 100, 1000
PAGE_ROUNDS = 20               # store pages an issuer's query reads to fill one of its own
MAX_WALK = PAGE_ROUNDS * 1_000  # events an issuer's maxEventCount reads at most (one page's most)
LINEAGE_DEPTH = 8              # transformations followed back from a code
LINEAGE_EVENTS = 100           # transformations read per step of a lineage


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def instant(text, field: str = "eventTime") -> float:
    """Seconds since the epoch of an RFC 3339 time ("Z" or an offset required)."""
    if not isinstance(text, str):
        raise epcis.EpcisError(f"{field} must be a date-time text, got {type(text).__name__}")
    try:
        t = _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise epcis.EpcisError(f"{field} {text[:40]!r} is not an RFC 3339 date-time with a "
                               "time zone (2026-03-01T08:00:00+08:00)")
    return t.timestamp()


def _uri(value) -> str | None:
    """readPoint / bizLocation: {"id": URI} in EPCIS 2.0 JSON."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


# epcs_of's roles (GS1's field names) -> the store's (port.EPC_ROLES)
ROLE_OF = {"epcList": "epc", "parentID": "parent", "childEPCs": "child", "inputEPCList": "input",
           "outputEPCList": "output", "quantityList": "class", "childQuantityList": "class",
           "inputQuantityList": "input_class", "outputQuantityList": "output_class"}
CLASS_ROLES = ("class", "input_class", "output_class")


def store_roles(epcs: dict) -> dict:
    """epcs_of's EPCs by GS1 field, as the store keeps them by role (empty roles left out).

    >>> store_roles({"epcList": ["urn:a"], "parentID": [], "quantityList": ["urn:c"],
    ...              "childQuantityList": ["urn:d"]})
    {'epc': ['urn:a'], 'class': ['urn:c', 'urn:d']}
    """
    out: dict = {}
    for field, uris in epcs.items():
        if uris:
            out.setdefault(ROLE_OF[field], []).extend(uris)
    return out


def epc_key(epc: str) -> str:
    """What the store indexes an EPC under: its code form when it has one, else the URI.

    >>> epc_key("urn:epc:id:sgtin:0614141.107346.2017"), epc_key("https://id.gs1.org/01/10614141073464/21/2017")
    ('(01)10614141073464(21)2017', '(01)10614141073464(21)2017')
    """
    try:
        return epcis.to_code(epc)
    except epcis.EpcisError:
        return epc


def _error(job: dict, pointer: str, event_id, reason: str, message: str) -> None:
    job["errors_total"] += 1
    if len(job["errors"]) < MAX_JOB_ERRORS:
        job["errors"].append({"pointer": pointer, "event_id": event_id, "reason": reason,
                              "error": bounded(message)})


class _Item:
    """One event of a document on its way through a capture."""
    __slots__ = ("i", "pointer", "event", "eid", "epcs", "codes", "lifecycle", "record", "failed", "undo")

    def __init__(self, i, pointer, event):
        self.i, self.pointer, self.event = i, pointer, event
        self.eid = self.epcs = self.codes = self.lifecycle = self.record = None
        self.failed = False
        self.undo = ()   # an error declaration: the lifecycle event ids of the event it declares


class Capture:
    """capture / capture_job / query_events over one Service."""

    def __init__(self, service):
        self.svc = service
        self.store = service.index.store

    # -- capture ---------------------------------------------------------------------------
    def capture(self, caller: Caller, body: bytes, content_type: str | None, *,
                behaviour: str = "rollback", epcis_version: str | None = None,
                cbv_version: str | None = None, schema_path=None, peer: str = "",
                method: str = "Capture") -> dict:
        """The capture, done when this returns (begin, then its finish)."""
        job, finish = self.begin(caller, body, content_type, behaviour=behaviour, epcis_version=epcis_version,
                                 cbv_version=cbv_version, schema_path=schema_path, peer=peer, method=method)
        return finish()

    def begin(self, caller: Caller, body: bytes, content_type: str | None, *,
              behaviour: str = "rollback", epcis_version: str | None = None,
              cbv_version: str | None = None, schema_path=None, peer: str = "",
              method: str = "Capture") -> tuple[dict, Callable[[], dict]]:
        """(the job, stored as running; finish: runs the capture, stores and returns the
        finished job). Arguments and rights are judged here, so a refusal comes at once;
        finish may run in another thread (web/epcis.py: off the event loop). A finish that
        fails unexpectedly records the job as a failure with reason "internal" and raises."""
        admit(caller, "capture", method)
        behaviour = (behaviour or "rollback").strip().lower()
        if behaviour not in BEHAVIOURS:
            raise invalid("behaviour", f"{str(behaviour)[:40]!r}: the capture error behaviour is "
                          "rollback or proceed")
        if epcis_version and epcis_version.strip() not in EPCIS_VERSIONS:
            raise invalid("epcis_version", f"EPCIS {epcis_version[:20]!r} is not captured here: 2.0")
        if cbv_version and not cbv_version.strip().startswith("2."):
            raise invalid("cbv_version", f"CBV {cbv_version[:20]!r} is not read here: 2.0")
        now = _time.time()
        job = {"id": uuid.uuid4().hex, "state": "running", "behaviour": behaviour,
               "client": caller.name, "created": _iso(now), "finished": None,
               "counts": {"events": 0, "stored": 0, "already_stored": 0, "applied": 0, "failed": 0},
               "errors": [], "errors_total": 0, "runner": capture_runs.runner()}
        try:
            self.svc._audit("capture_intent", caller, method, peer, job=job["id"], behaviour=behaviour,
                            bytes=len(body or b""))
        except AuditError as exc:
            raise Refusal("audit_log_full", "", f"nothing captured: {exc}") from None
        self._put_job(job)   # readable as running from now on
        started = dict(job, counts=dict(job["counts"]), errors=[])
        return started, lambda: self._finish(caller, job, body, content_type, now, schema_path, peer, method)

    def _put_job(self, job: dict) -> None:
        try:
            self.store.capture_job_put(job)
        except Exception as exc:   # noqa: BLE001 - a full or read-only store: the caller is told
            refusal = refusal_of(exc, "")
            if refusal is None:
                raise
            raise Refusal(refusal.reason, "", f"capture job {job['id']} ({job['state']}, "
                          f"{job['counts']['stored']} events stored) not recorded: {refusal.detail}") from None

    def _finish(self, caller, job, body, content_type, now, schema_path, peer, method) -> dict:
        try:
            self._run(caller, job, body, content_type, now, schema_path)
        except Refusal as refusal:   # the store's own refusal (full, read-only): the job says it
            _error(job, "", None, refusal.reason, refusal.detail)
        except Exception as exc:   # a bug: the job must not stay "running" for ever
            _error(job, "", None, "internal", f"the capture stopped on an internal error ({type(exc).__name__}); "
                   "what it stored is in the counts")
            job["state"], job["finished"] = "failure", _iso(_time.time())
            self._put_job(job)
            raise
        job["state"] = "success" if job["errors_total"] == 0 else "failure"
        job["finished"] = _iso(_time.time())
        self._put_job(job)
        c = job["counts"]
        try:
            self.svc._audit("capture", caller, method, peer, job=job["id"], state=job["state"],
                            events=c["events"], stored=c["stored"], applied=c["applied"],
                            failed=c["failed"])
            for undone in job.get("undone", ()):   # each state change undone by an error declaration
                self.svc._audit("epcis_undo", caller, method, peer, job=job["id"], event_id=undone["event_id"][:128],
                                codes=undone["codes"])
        except AuditError as exc:
            raise Refusal("audit_incomplete", "", f"capture job {job['id']} done, audit line not "
                          f"written ({exc}); its intent is in the audit log") from None
        return job

    def _run(self, caller, job, body, content_type, now, schema_path) -> None:
        try:
            doc = epcis.read_document(body, content_type)
        except epcis.EpcisError as exc:
            _error(job, exc.pointer, None, "invalid_document", exc.detail)
            return
        job["counts"]["events"] = len(doc.events)
        if len(doc.events) > MAX_EVENTS:
            _error(job, doc.pointer_of(MAX_EVENTS), None, "too_many_events",
                   f"the document has {len(doc.events):,} events; at most {MAX_EVENTS:,} per capture: split it")
            return
        items = [_Item(i, doc.pointer_of(i), ev) for i, ev in enumerate(doc.events)]
        try:
            problems = epcis.validate(doc.body, schema_path)
        except epcis.EpcisError as exc:   # no schema configured: say so, capture nothing
            _error(job, "", None, "no_schema", exc.detail)
            return
        by_event: dict = {}
        for p in problems:
            i = epcis.event_index(p.pointer)
            if i is None or i >= len(items):   # the document itself: nothing is captured
                _error(job, p.pointer, None, "schema", p.message)
            else:
                by_event.setdefault(i, []).append(p)
        if job["errors_total"]:
            return
        if len(problems) >= schema.MAX_PROBLEMS:
            # validate() stopped counting: the events after its last problem were not all
            # judged, so each is validated on its own (none is stored unchecked)
            last = max(by_event)
            for item in items[last + 1:]:
                found = epcis.validate_event(item.event, doc.context, schema_path, at=item.pointer)
                if found:
                    by_event[item.i] = found
        running: dict = {}   # rare-earth production so far, per (enterprise, year, quota kind)
        for item in items:
            self._judge(caller, item, by_event.get(item.i, ()), doc, job, now, running)
        self._transformations(items, oversees(caller))
        self._require(caller, job, items)
        self._store(caller, job, items)
        from .asset_capture import apply as asset_steps   # hazardous goods' flow steps
        asset_steps(self.svc, caller, job, items)

    def _fail(self, job, item, reason, message, pointer=None) -> None:
        if not item.failed:
            job["counts"]["failed"] += 1
        item.failed = True
        _error(job, pointer or item.pointer, item.eid, reason, message)

    def _judge(self, caller, item: _Item, problems, doc, job, now, running=None) -> None:
        """Everything about one event that needs no store write: its problems go to the job."""
        ev = item.event
        for p in problems:
            self._fail(job, item, "schema", p.message, p.pointer)
        if item.failed:
            return
        if _names_alert(ev, doc.context):   # only tracecode raises alerts
            self._fail(job, item, "invalid_event", f"bizStep {ALERT_STEP} and {ALERT_EXTENSION} are the "
                       "analytics' own alerts (app/alert_events.py): no capture sends them")
            return
        try:
            item.eid = epcis.event_id(ev, doc.context)
            declared = isinstance(ev.get("errorDeclaration"), dict)
            if declared:   # the erroneous event again, declared wrong: kept beside it, not instead
                item.eid += DECLARED
            for p in epcis.cbv_problems(ev, item.pointer):
                self._fail(job, item, "cbv", p.message, p.pointer)
            if item.failed:
                return
            t = instant(ev.get("eventTime"))
            at = (*doc.events_path, item.i)
            item.lifecycle = []
            if declared:
                item.undo = _declared_ids(ev, doc.context, at)
            if not oversees(caller):
                # an issuer's EPCs must all be codes of its products: read once, by the
                # lifecycle events when they name them (a 100,000-code event: 100,000 reads)
                if not declared:
                    item.lifecycle = epcis.lifecycle_of(ev, context=doc.context, at=at)
                item.epcs, item.codes = self._keys(item, strict=True)
            else:
                # an overseer's event may name EPCs tracecode has no code form of (a GDTI...):
                # none of them is ours. Stored only: a partner's event (naming none of our
                # codes), and an error declaration (its undo is _store's, not a lifecycle step)
                item.epcs, item.codes = self._keys(item, strict=False)
                if not declared and self._any_ours(item.codes):
                    item.lifecycle = epcis.lifecycle_of(ev, context=doc.context, at=at)
        except epcis.EpcisError as exc:
            self._fail(job, item, "invalid_event", exc.detail, exc.pointer or item.pointer)
            return
        except ValueError as exc:   # one bad event never sinks the others
            self._fail(job, item, "invalid_event", str(exc))
            return
        if rare_earth.is_rare_earth(ev):   # a negative or non-finite mass: an error of this event
            for where, message in rare_earth.quantity_problems(ev):
                self._fail(job, item, "invalid_event", message, item.pointer + where)
            if item.failed:
                return
        for where, message in food_lots.problems(ev):   # a food extension the page could not read
            self._fail(job, item, "invalid_event", message, item.pointer + where)
        if item.failed:
            return
        captured = {**ev, "recordTime": _iso(now)}
        if rare_earth.is_rare_earth(ev) and not item.failed:   # mass balance, quota: kept with the event
            captured[rare_earth.CHECKS_FIELD] = checks = self.svc.quotas.judge(
                ev, t, caller.name, {} if running is None else running)
            flagged = job.setdefault("flagged", [])   # the job says what was flagged, with where
            for c in checks:
                if c.get("ok") is False and len(flagged) < MAX_JOB_ERRORS:
                    flagged.append({"pointer": item.pointer, "event_id": item.eid, "check": c["check"],
                                    "detail": c["detail"]})
        item.record = EpcisRecord(
            event_id=item.eid, event=captured, event_time=t,
            time_offset=ev.get("eventTimeZoneOffset") or "+00:00", record_time=now,
            type=ev.get("type"), biz_step=ev.get("bizStep"), disposition=ev.get("disposition"),
            read_point=_uri(ev.get("readPoint")), biz_location=_uri(ev.get("bizLocation")),
            epcs=item.epcs, client=caller.name, action=ev.get("action"), refs=epcis.cbv.refs_of(ev),
            declared=isinstance(ev.get("errorDeclaration"), dict), facets=_facets.facets_of(ev, doc.context))

    def _require(self, caller: Caller, job, items) -> None:
        """The caller's rights over the codes of every judged event (_judge's records): read for
        all events at once (one parse of all their codes: 10,000 events of 25 codes were
        10,000 parses), then per event only for the codes that are not plainly its products'
        (SSCCs, other companies' codes), so each event gets the refusal it got one by one."""
        judged = [it for it in items if not it.failed and it.record is not None]
        if not judged:
            return
        checked = [self._rights_codes(it) for it in judged]
        flat = [c for codes in checked for c in codes]
        owned = np.ones(len(flat), bool) if caller.admin else self.svc.rights._owned(caller, flat)
        at, failed = 0, False
        for it, codes in zip(judged, checked):
            n = len(codes)
            rest = [codes[k] for k in np.flatnonzero(~owned[at:at + n]).tolist()]
            at += n
            try:   # rest: the codes _owned said are not the caller's products' (not parsed again)
                self.svc.rights.require_codes(caller, rest, "capture events about",
                                              owned=np.zeros(len(rest), bool))
                if not oversees(caller):
                    self._require_classes(caller, it)
            except Refusal as refusal:
                self._fail(job, it, refusal.reason, refusal.detail)
                failed = True
        if failed:   # in event order, as when each event was judged whole (one error kind per event)
            job["errors"].sort(key=lambda e: -1 if epcis.event_index(e["pointer"]) is None
                               else epcis.event_index(e["pointer"]))

    def _keys(self, item: _Item, strict: bool) -> tuple[dict, list]:
        """(the event's EPCs by store role, each keyed by its code form when it has one, so
        a query finds it whichever URI spelled it; the codes of its instance-level EPCs, for
        rights). strict: an EPC without a code form is an EpcisError, else its URI is kept."""
        keys, codes = {}, []
        known = _lifecycle_codes(item.event, item.lifecycle)
        for role, uris in store_roles(epcis.epcs_of(item.event)).items():
            out = keys[role] = []
            read = known.get(role)
            if read is not None and len(read) == len(uris):
                out += read
                codes += read
                continue
            for u in uris:
                try:
                    c = epcis.to_code(u, item.pointer)
                except epcis.EpcisError:
                    asset = asset_code(u)   # our URN of a registered code: judged as that code
                    if strict and asset is None:
                        raise
                    out.append(u)
                    if strict and asset is not None and role not in CLASS_ROLES:
                        codes.append(asset)
                    continue
                out.append(c)
                if role not in CLASS_ROLES:
                    codes.append(c)
        return keys, codes

    def _rights_codes(self, item: _Item) -> list:
        """The codes an event's rights are judged on: all of them, but an AssociationEvent's
        parentID when it is no code of tracecode's (a sensor's GIAI, a returnable asset's GRAI:
        CBV association links a device or asset to goods, it is not packing and changes no
        state); the children stay the caller's to name."""
        parent = (item.epcs or {}).get("parent") or []
        if item.event.get("type") != "AssociationEvent" or len(parent) != 1 or self._any_ours(parent):
            return item.codes
        return [c for c in item.codes if c != parent[0]]

    def _require_classes(self, caller: Caller, item: _Item) -> None:
        """An issuer's class-level EPCs (a GTIN, with a lot) are of GTINs it owns."""
        gs1 = [s for s in self.svc.dd.schemes.values() if s.is_gs1]
        for role in CLASS_ROLES:
            for code in item.epcs.get(role, ()):
                gtin = code[4:18] if code.startswith("(01)") else None
                if gtin is None or not any(caller.owns(s.name, {s.product_fields[0].name: gtin}) for s in gs1):
                    raise denied(f"{caller.name} may not capture events about {code[:80]}: not a class of "
                                 "its products", client=caller.name, code=code[:80])

    def _any_ours(self, codes) -> bool:
        plain = [c for c in codes if not is_sscc(c)]
        if plain and self.svc.dd.verify_many(plain, record=False).found.any():
            return True
        for c in codes:
            if is_sscc(c):
                try:
                    if self.svc.dd.history(c, scans=False):
                        return True
                except ValueError:
                    continue
        return False

    def _transformations(self, items, overseer: bool) -> None:
        """The TransformationEvents' lifecycle events (epcis.transform) as the codes' states
        allow, their codes read in one verify_many for the whole document: an output that is
        live already is not commissioned again (the event records what it was transformed
        into), an SSCC output comes alive when packed, and for an overseer the codes
        tracecode does not know are left out (a partner's product made of our lot); an
        issuer's unknown codes stay, for the lifecycle to refuse."""
        todo = [it for it in items if not it.failed and it.lifecycle and it.event.get("type") == "TransformationEvent"]
        if not todo:
            return
        plain = list(dict.fromkeys(c for it in todo for e in it.lifecycle for c in e["codes"] if not is_sscc(c)))
        got = self.svc.dd.verify_many(plain, record=False) if plain else None
        found = dict(zip(plain, got.found.tolist())) if got is not None else {}
        issued = dict(zip(plain, (got.records["status"] == 0).tolist())) if got is not None else {}
        for it in todo:
            out = []
            for e in it.lifecycle:
                made = e["action"] == transform.MADE
                keep = [c for c in e["codes"] if self._stays(c, made, overseer, found, issued)]
                if keep:
                    out.append({**e, "codes": keep})
            it.lifecycle = out

    def _stays(self, code, made: bool, overseer: bool, found: dict, issued: dict) -> bool:
        if is_sscc(code):
            return not made and (not overseer or self._any_ours([code]))
        if not found[code]:
            return not overseer
        return not made or issued[code]

    def _store(self, caller, job, items) -> None:
        """The good events, stored and applied in one write (rollback: none if any failed)."""
        good = [it for it in items if not it.failed]
        rollback = job["behaviour"] == "rollback"
        if rollback and len(good) < len(items):
            return
        seen = self.store.epcis_events([it.eid for it in good])
        fresh = []
        for it, rec in zip(good, seen):
            if rec is not None:   # captured before: idempotent, not applied again
                job["counts"]["already_stored"] += 1
            else:
                fresh.append(it)
        # an EPCIS event may carry several lifecycle events: it is stored when all applied
        owner = [it for it in fresh for _ in it.lifecycle]
        declared = self._undoable(caller, job, [it for it in fresh if it.undo], fresh)
        if rollback and any(it.failed for it in fresh):
            return
        # the body may run again (PgStore after a lost connection): it changes no job nor item,
        # what it found is kept here, each run's replacing the last's, and said after the write
        outcome: dict = {}

        def also(view, results):
            bad = {id(it) for it, r in zip(owner, results) if not r["ok"]}
            refused, undone = self._undo(view, declared, rollback)
            bad |= {id(it) for it, _, _ in refused}
            outcome["undo"] = refused, undone
            outcome["new"] = view.epcis_put([it.record for it in fresh if id(it) not in bad and not it.failed])

        try:
            # event ids are per client; the operator's are the data directory's own (as apply_events)
            results = self.svc.dd.apply([e for it in fresh for e in it.lifecycle], atomic=rollback,
                                        client=None if caller.operator else caller.name,
                                        bind_ssccs=not caller.admin, also=also)
        except _UndoRefused as refused:
            for it, reason, message in refused.items:
                self._fail(job, it, reason, message)
            return   # rollback: nothing written; the job names the declarations refused
        except Exception as exc:   # noqa: BLE001 - IndexFull, IndexReadOnly...: said in the job
            refusal = refusal_of(exc, "")
            if refusal is None:
                raise
            raise refusal from None
        refused, undone = outcome.get("undo", ((), ()))
        for it, reason, message in refused:
            self._fail(job, it, reason, message)
        if undone:
            job.setdefault("undone", []).extend(undone)
        for it, r in zip(owner, results):
            if r["ok"]:
                job["counts"]["applied"] += 0 if r.get("replayed") else 1
            elif r.get("reason") != "not_applied" or not rollback:
                self._fail(job, it, _reason(r), str(r["error"]))
        if rollback and any(not r["ok"] for r in results):
            return   # nothing written; the others were refused only for these (not_applied)
        new = outcome.get("new", [])
        job["counts"]["stored"] += sum(new)
        job["counts"]["already_stored"] += len(new) - sum(new)

    def _undoable(self, caller: Caller, job, items, fresh=()) -> list:
        """(item, clients) of the error declarations whose declared event this caller may undo:
        its capturer's (or an overseer's); the lifecycle ids are the capturer's (the operator's
        are the data directory's own: None). One not captured here has nothing to undo. EPCIS
        declares an event already captured: one earlier in this document is (this caller's,
        applied first in the write, then undone); one later in it is not yet, and refused."""
        if not items:
            return []
        originals = self.store.epcis_events([it.eid[:-len(DECLARED)] for it in items])
        in_doc = {it.eid: it.i for it in fresh if not it.undo}
        own = (caller.name, None) if caller.name == OPERATOR.name else (caller.name,)
        out = []
        for it, rec in zip(items, originals):
            if rec is None:
                at = in_doc.get(it.eid[:-len(DECLARED)])
                if at is not None and at > it.i:
                    self._fail(job, it, "invalid_event", f"declares {it.eid[:-len(DECLARED)][:80]!r} erroneous "
                               f"before it is captured (event {at} of this document): a declaration comes after "
                               "its event")
                elif at is not None:
                    out.append((it, own))
                continue
            if rec.client != caller.name and not oversees(caller):
                self._fail(job, it, "permission_denied", f"{caller.name} may not declare {rec.event_id[:80]!r} "
                           "erroneous: its capturer or an overseer undoes it")
                continue
            out.append((it, (rec.client, None) if rec.client == OPERATOR.name else (rec.client,)))
        return out

    def _undo(self, view, declared, rollback: bool) -> tuple[list, list]:
        """Inside the capture's write: each declared event's state change undone (the index's
        undo_in, its lifecycle events in reverse order). Returns ([(item, reason, message)] of
        those refused, [{"event_id", "codes"}] of those undone), touching neither job nor item:
        the write may run it again. With rollback, one refused raises _UndoRefused (with them)
        and nothing of the capture is written."""
        refused, undone = [], []
        for it, clients in declared:
            if it.failed:
                continue
            results = self.svc.dd.index.undo_in(view, [{"id": i} for i in reversed(it.undo)], clients)
            bad = sorted((r for r in results if not r["ok"]), key=lambda r: r["reason"] == "not_applied")
            if bad:
                later = f" (later event: {bad[0]['later']})" if bad[0].get("later") else ""
                refused.append((it, bad[0]["reason"], f"{bad[0]['error']}{later}"))
                continue
            n = sum(r["undone"] for r in results)
            if n:
                undone.append({"event_id": it.eid[:-len(DECLARED)], "codes": n})
        if refused and rollback:
            raise _UndoRefused(refused)
        return refused, undone

    # -- reading ---------------------------------------------------------------------------
    def capture_job(self, caller: Caller, job_id: str, method: str = "CaptureJob") -> dict:
        """A capture job: its caller's, or any for an overseer; not_found otherwise (another
        client's job is not said to exist)."""
        admit(caller, "capture_job", method)
        job = self.store.capture_job_get(job_id) if isinstance(job_id, str) and job_id else None
        if job is None or not (oversees(caller) or job.get("client") == caller.name):
            raise Refusal("not_found", "job", f"no capture job {str(job_id)[:64]!r}",
                          resource="capture_job", name=str(job_id)[:64])
        return self._settled(job)

    def _settled(self, job: dict) -> dict:
        """The job as read; a "running" one whose worker process is gone is recorded failed (its
        capture thread died with it: nothing will finish it)."""
        if job.get("state") != "running" or not capture_runs.stopped(job.get("runner")):
            return job
        job = self.store.capture_job_get(job["id"]) or job   # read again now its runner is gone:
        if job.get("state") != "running":                    # it may have finished just before
            return job
        _error(job, "", None, "worker_stopped", capture_runs.STOPPED)
        job["state"], job["finished"] = "failure", _iso(_time.time())
        try:
            self.store.capture_job_put(job)
        except Exception:   # noqa: BLE001 - a read-only store: the reader is told all the same
            pass
        return job

    def query_events(self, caller: Caller, query: EpcisQuery, page_token: str | None = None,
                     per_page: int = DEFAULT_PAGE, method: str = "QueryEvents") -> tuple[list, str | None]:
        """(EPCIS events as captured, the next page's token or None). Overseers read all
        events; an issuer the events it captured and those naming its products' codes."""
        admit(caller, "query_events", method)
        _check_per_page(per_page)
        if not isinstance(query, EpcisQuery):
            raise invalid("query", "an EpcisQuery")
        if query.epcs:   # keyed by their code form (_keys): any URI of a code finds its events
            query = replace(query, epcs=tuple(epc_key(e) for e in query.epcs))
        out, token = [], page_token or None
        for _ in range(1 if oversees(caller) else PAGE_ROUNDS):
            got, token = _page(self.store.epcis_find, query, token, per_page - len(out))
            out += [r.event for r in got if oversees(caller) or self._sees(caller, r)]
            if token is None or len(out) == per_page:
                break
        return out, token

    def query(self, caller: Caller, params, fixed: dict | None = None,
              method: str = "QueryEvents") -> tuple[list, str | None]:
        """(events, next page token) of a query in the binding's parameters (epcis_params:
        {name: text or [texts]}, perPage and nextPageToken among them); fixed: EpcisQuery
        fields a resource path names, intersected with the parameters'. eventCountLimit
        holds over every page: the token carries what is left of it."""
        parsed = epcis_params.parse_query(params)
        query, page_token, per_page, count = parsed.query, parsed.page_token, parsed.per_page, parsed.count_limit
        for field, values in (fixed or {}).items():
            given = getattr(query, field)
            if field == "epcs" and given:
                raise invalid("MATCH_", "the EPC is in the path: leave MATCH_ parameters out")
            # a filter in the path and the same one in the query: both hold (an intersection)
            kept = tuple(v for v in given if v in values) if given and field != "epc_roles" else tuple(values)
            if given and not kept:
                return [], None
            query = replace(query, **{field: kept})
        if parsed.max_count is not None:   # counted once, on the first page: later ones carry "m."
            most = parsed.max_count
            if page_token and page_token.startswith("m."):   # m.{tag}.{store token}: this query's only
                tag, _, page_token = page_token[2:].partition(".")
                if not page_token or not hmac.compare_digest(tag, self._max_tag(caller, query, most, page_token)):
                    raise invalid("nextPageToken", "this nextPageToken is not one this query gave (maxEventCount "
                                  "counts a query once: its pages carry on only that query)")
            elif page_token:
                raise invalid("nextPageToken", "with maxEventCount, give a nextPageToken of its own pages")
            else:
                self._within_max(caller, query, most, method)
            events, token = self.query_events(caller, query, page_token or None, per_page, method)
            return events, (f"m.{self._max_tag(caller, query, most, token)}.{token}" if token else None)
        left = count
        if count is not None and page_token and page_token[:1] == "c" and "." in page_token:
            head, _, page_token = page_token.partition(".")
            if not (head[1:].isascii() and head[1:].isdigit()) or not 0 < int(head[1:]) <= count:
                raise invalid("nextPageToken", f"{page_token[:40]!r} is not a page token of this query")
            left = int(head[1:])
        events, token = self.query_events(caller, query, page_token or None,
                                          per_page if left is None else min(per_page, left), method)
        if left is not None:
            left -= len(events)
            token = f"c{left}.{token}" if token and left > 0 else None
        return events, token

    def _max_tag(self, caller: Caller, query: EpcisQuery, most: int, token: str) -> str:
        """The tag tying a maxEventCount page token to its caller, query, count and place: an
        HMAC under a key of the data directory (every worker process has it)."""
        key = getattr(self, "_page_key", None)
        if key is None:
            ring = self.svc.dd.keyring   # the first master-key version's: a rotation keeps tokens
            key = self._page_key = bytes(ring.key(min(ring.versions)).derive("epcis-max-page-tokens"))
        msg = repr((caller.name, most, query, token)).encode("utf-8", "surrogatepass")
        return hmac.new(key, msg, hashlib.sha256).hexdigest()[:32]

    def _within_max(self, caller: Caller, query: EpcisQuery, most: int, method: str) -> None:
        """maxEventCount: the events the caller would read, counted to one more than most; more
        than most is QueryTooLargeException (not a shortened answer, unlike eventCountLimit).
        The store counts from its index (no event decoded): that is the count for an overseer,
        and a bound of an issuer's (who reads fewer); only an issuer's query over it is walked."""
        admit(caller, "query_events", method)
        counted = query if not query.epcs else replace(query, epcs=tuple(epc_key(e) for e in query.epcs))
        found = self.store.epcis_count(counted, most)
        if found <= most:
            return
        if oversees(caller):
            raise Refusal("query_too_large", "maxEventCount", f"the query answers more than {most:,} events "
                          "(maxEventCount): narrow it, or page through it with eventCountLimit or none",
                          max_event_count=most)
        # an issuer's: the events it may read among them, reading at most what one page of its
        # own may read (MAX_WALK), so one request costs no more than a page
        seen, read, token = 0, 0, None
        while True:
            got, token = _page(self.store.epcis_find, counted, token, MAX_PAGE)
            read += len(got)
            seen += sum(1 for r in got if self._sees(caller, r))
            if seen > most:
                raise Refusal("query_too_large", "maxEventCount", f"the query answers more than {most:,} events "
                              "(maxEventCount): narrow it, or page through it with eventCountLimit or none",
                              max_event_count=most)
            if token is None:
                return
            if read >= MAX_WALK:
                raise Refusal("query_too_large", "maxEventCount", f"the query selects more than {most:,} events, "
                              f"and counting those this caller may read would read over {MAX_WALK:,}: narrow it, "
                              "or page through it with eventCountLimit or none", max_event_count=most)

    def event(self, caller: Caller, event_id: str, method: str = "Event") -> list[dict]:
        """The event of an eventID (and its error declaration, when one was captured), as
        query_events would show it to the caller; not_found when there is none it may read."""
        admit(caller, "query_events", method)
        if not isinstance(event_id, str) or not event_id or len(event_id) > epcis_params.MAX_VALUE_CHARS:
            raise invalid("eventID", "an eventID is non-empty text of at most "
                          f"{epcis_params.MAX_VALUE_CHARS:,} characters")
        events, _ = self.query_events(caller, EpcisQuery(event_ids=(event_id, event_id + DECLARED)), None, 2, method)
        if not events:
            raise Refusal("not_found", "eventID", f"no event {event_id[:80]!r}", resource="event",
                          name=event_id[:80])
        return events

    def capture_jobs(self, caller: Caller, page_token: str | None = None, per_page: int = DEFAULT_PAGE,
                     method: str = "CaptureJobs") -> tuple[list, str | None]:
        """(the caller's capture jobs, newest first, the next page's token or None)."""
        admit(caller, "capture_job", method)
        _check_per_page(per_page)
        jobs, token = _page(self.store.capture_jobs, caller.name, page_token or None, per_page)
        return [self._settled(job) for job in jobs], token

    def history_document(self, caller: Caller, code: str, method: str = "EpcisHistory") -> dict:
        """A code's history (Service.history: the same rights) as an EPCISDocument that
        validates against GS1's schema."""
        from ..epcis import export
        items, _ = self.svc.history(caller, code, 0, method)
        dd = self.svc.dd
        convert = export.gs1_codes(dd.schemes, dd.master_key)
        events = export.from_history(items, dd.settings.base_url, code=convert(code.strip()), convert=convert)
        # the transformations it came out of, as captured (EPCIS already): its inputs
        made = self._made_from(caller, self._lineage_keys(code)) if any(
            i.get("kind") == "transformation" for i in items) else []
        return export.document(events + made)

    # -- lineage: what a code was made from (TransformationEvents) ----------------------------
    def _lineage_keys(self, code: str) -> list[str]:
        """The store keys a code's transformations name it by: its code form, and its lot's
        class (LGTIN (01)GTIN(10)LOT) when it is a GS1 code of a batch with a lot."""
        from ..epcis import export
        dd = self.svc.dd
        key = export.gs1_codes(dd.schemes, dd.master_key)(code.strip())
        keys = [key]
        if key.startswith("(01)") and not is_sscc(key):
            try:
                answer = dd.verify(code.strip(), record=False)
            except ValueError:
                answer = None
            gtin = (getattr(answer, "product", None) or {}).get("gtin")
            if gtin and getattr(answer, "lot", None):
                keys.append(f"(01){gtin}(10){answer.lot}")
        return keys

    def _made_from(self, caller: Caller, keys) -> list[dict]:
        """The TransformationEvents the caller may read with any of keys among their outputs."""
        query = EpcisQuery(epcs=tuple(keys), epc_roles=("output", "output_class"),
                           event_types=("TransformationEvent",))
        events, _ = self.query_events(caller, query, None, LINEAGE_EVENTS, "Lineage")
        return events

    def lineage(self, caller: Caller, code: str, depth: int = LINEAGE_DEPTH, method: str = "Lineage") -> dict:
        """What a code was made from, as its TransformationEvents say: {"code", "keys",
        "made_from": [{"event_id", "event_time", "inputs", "input_classes", "made_from"}]},
        each input's own transformations below it, to `depth` (a cut's lot traces to its
        carcass and the carcass to its animals). History's rights on the code; the events
        shown are those query_events shows the caller."""
        admit(caller, "history", method)
        if not isinstance(code, str) or not code.strip():
            raise invalid("code", "required")
        if not isinstance(depth, int) or not 1 <= depth <= LINEAGE_DEPTH:
            raise invalid("depth", f"depth is 1 to {LINEAGE_DEPTH}, got {depth!r}")
        if not oversees(caller):
            self.svc.rights.require_codes(caller, [code.strip()], "read the lineage of", read=True)
        keys = self._lineage_keys(code)
        seen = set(keys)

        def walk(keys, level) -> list:
            out = []
            for ev in self._made_from(caller, keys):
                found = epcis.epcs_of(ev)
                node = {"event_id": ev.get("eventID"), "event_time": ev.get("eventTime"),
                        "inputs": [epc_key(e) for e in found["inputEPCList"]],
                        "input_classes": [epc_key(e) for e in found["inputQuantityList"]],
                        "made_from": []}
                fresh = [k for k in node["inputs"] + node["input_classes"] if k not in seen]
                seen.update(fresh)
                if fresh and level < depth:
                    node["made_from"] = walk(fresh, level + 1)
                out.append(node)
            return out
        return {"code": code.strip(), "keys": keys, "made_from": walk(keys, 1)}

    def history_items(self, caller: Caller, code: str) -> list[dict]:
        """The history items of the transformations a code came out of (kind
        "transformation": its inputs) and of the error declarations of its EPCIS events
        (kind "error_declaration": which event, why, the corrective events), for
        Service.history to show beside the code's events."""
        try:
            keys = self._lineage_keys(code)
        except Exception:   # noqa: BLE001 - an unreadable code: history itself says why
            return []
        out = []
        declared, _ = self.query_events(caller, EpcisQuery(epcs=tuple(keys[:1]), declared=True), None,
                                        LINEAGE_EVENTS, "History")
        for ev in declared:
            d = ev.get("errorDeclaration") or {}
            try:
                t = instant(d.get("declarationTime"), "declarationTime")
            except epcis.EpcisError:
                t = None
            out.append({"kind": "error_declaration", "time": t, "via": None, "event_id": ev.get("eventID"),
                        "reason": epcis.cbv.vocab(d.get("reason")),
                        "corrective_event_ids": [i for i in d.get("correctiveEventIDs") or () if isinstance(i, str)],
                        "bizStep": epcis.cbv.vocab(ev.get("bizStep"))})
        for ev in self._made_from(caller, keys):
            found = epcis.epcs_of(ev)
            try:
                t = instant(ev.get("eventTime"))
            except epcis.EpcisError:
                t = None
            out.append({"kind": "transformation", "time": t, "via": None, "event_id": ev.get("eventID"),
                        "bizStep": epcis.cbv.vocab(ev.get("bizStep")),
                        "inputs": [epc_key(e) for e in found["inputEPCList"]],
                        "input_classes": [epc_key(e) for e in found["inputQuantityList"]],
                        "outputs": [epc_key(e) for e in found["outputEPCList"] + found["outputQuantityList"]]})
        return out

    # -- named queries (the binding's /queries; subscriptions run them too) ---------------
    def define_query(self, caller: Caller, name: str, params, peer: str = "",
                     method: str = "DefineQuery") -> dict:
        """Save a query (the binding's parameters, each checked now) under a name of the
        caller's: its definition. already_exists when the caller has one of that name."""
        admit(caller, "define_query", method)
        name = query_name(name)
        definition = {"name": name, "query": epcis_params.definition(params), "owner": caller.name,
                      "created": _iso(_time.time())}
        try:
            stored = self.store.queries_put(caller.name, name, definition)
        except Exception as exc:   # noqa: BLE001 - a full or read-only store
            refusal = refusal_of(exc, "name")
            if refusal is None:
                raise
            raise refusal from None
        if not stored:
            raise Refusal("already_exists", "name", f"{caller.name} has a query named {name[:80]!r} already: "
                          "delete it first, or choose another name", resource="query", subject=name[:80])
        self._audited("define_query", caller, method, peer, name)
        return definition

    def named_query(self, caller: Caller, name: str, method: str = "NamedQuery") -> dict:
        admit(caller, "named_queries", method)
        found = self.store.queries_get(caller.name, query_name(name))
        if found is None:
            raise Refusal("not_found", "name", f"{caller.name} has no query named {str(name)[:80]!r}",
                          resource="query", name=str(name)[:80])
        return found

    def named_queries(self, caller: Caller, page_token: str | None = None, per_page: int = DEFAULT_PAGE,
                      method: str = "NamedQueries") -> tuple[list, str | None]:
        """(the caller's query definitions in name order, the next page's token or None)."""
        admit(caller, "named_queries", method)
        _check_per_page(per_page)
        got, token = _page(self.store.queries_list, caller.name, page_token or None, per_page)
        return [d for _, _, d in got], token

    def delete_query(self, caller: Caller, name: str, peer: str = "", method: str = "DeleteQuery") -> None:
        admit(caller, "delete_query", method)
        try:
            gone = self.store.queries_delete(caller.name, query_name(name))
        except Exception as exc:   # noqa: BLE001 - a full or read-only store
            refusal = refusal_of(exc, "name")
            if refusal is None:
                raise
            raise refusal from None
        if not gone:
            raise Refusal("not_found", "name", f"{caller.name} has no query named {str(name)[:80]!r}",
                          resource="query", name=str(name)[:80])
        self._audited("delete_query", caller, method, peer, name)

    def _audited(self, event: str, caller: Caller, method: str, peer: str, name: str) -> None:
        try:
            self.svc._audit(event, caller, method, peer, name=name[:80])
        except AuditError as exc:
            raise Refusal("audit_incomplete", "", f"query {name[:80]!r}: done, audit line not written "
                          f"({exc})") from None

    def run_query(self, caller: Caller, name: str, page_token: str | None = None,
                  per_page: int | None = None, method: str = "RunQuery") -> tuple[list, str | None]:
        """A named query's events, one page (the events the caller may read now)."""
        definition = self.named_query(caller, name, method)
        params = dict(definition["query"])
        if per_page is not None:
            params["perPage"] = [str(per_page)]
        if page_token:
            params["nextPageToken"] = [page_token]
        return self.query(caller, params, method=method)

    def _sees(self, caller: Caller, rec: EpcisRecord) -> bool:
        if rec.client == ALERTS_SOURCE:   # the analytics' alerts: overseers only (rights: alerts)
            return False
        if rec.client == caller.name:
            return True
        plain = [c for role, keys in rec.epcs.items() if role not in CLASS_ROLES
                 for c in keys if not is_sscc(c)]   # codes, and URIs of no code (owned by nobody)
        return bool(plain) and bool(self.svc.rights._owned(caller, plain).any())


def _check_per_page(per_page) -> None:
    if not isinstance(per_page, int) or not 1 <= per_page <= MAX_PAGE:
        raise invalid("perPage", f"perPage is 1 to {MAX_PAGE:,}, got {per_page!r}")


def _page(read, *args):
    """One page from a store verb whose last arguments are (page token, count): a token it
    cannot read (ValueError) is the caller's bad nextPageToken."""
    try:
        return read(*args)
    except ValueError as exc:
        raise invalid("nextPageToken", str(exc)) from None


def query_name(name) -> str:
    """A named query's name: 1 to 256 bytes of text, no control characters nor "/" (it is a
    path segment of /epcis/queries/{name})."""
    if not isinstance(name, str) or not name.strip() or len(name.encode("utf-8", "surrogatepass")) > 256 \
            or "/" in name or any(ord(c) < 32 or 0xD800 <= ord(c) < 0xE000 for c in name):
        raise invalid("name", f"{str(name)[:80]!r}: a query's name is 1 to 256 bytes of text, "
                      "without / or control characters")
    return name


class _UndoRefused(Exception):
    """An error declaration's undo refused in a rollback capture: its write is abandoned.
    items: [(item, reason, message)], for the job once the write is over."""

    def __init__(self, items):
        super().__init__(len(items))
        self.items = items


_ALERT_NAMES = frozenset(_facets.iris_of(ALERT_EXTENSION, {ALERT_EXTENSION.partition(":")[0]: TRACECODE_NS}))


def _names_alert(event: dict, context) -> bool:
    """Whether an event carries the alerts' bizStep (in any case: a URN's scheme and
    namespace are case-insensitive, and tracecode compares it so) or their extension under
    any spelling its @context allows (another prefix, the full IRI, a term)."""
    step = event.get("bizStep")
    if isinstance(step, str) and step.strip().casefold() == ALERT_STEP.casefold():
        return True
    known = _facets.prefixes(context, event.get("@context"))
    under = _facets.vocabs(context, event.get("@context"))   # a bare key expands under an @vocab
    return any(not _ALERT_NAMES.isdisjoint(_facets.iris_of(key, known))
               or (":" not in key and key not in known and any(v + key in _ALERT_NAMES for v in under))
               for key in event if isinstance(key, str))


def _declared_ids(event: dict, context, at) -> tuple:
    """The lifecycle event ids the event an error declaration declares was applied as
    (lifecycle_of of it without the declaration); () when it maps to none."""
    plain = {k: v for k, v in event.items() if k != "errorDeclaration"}
    try:
        return tuple(e["id"] for e in epcis.lifecycle_of(plain, context=context, at=at))
    except (epcis.EpcisError, ValueError):
        return ()


def _lifecycle_codes(event: dict, lifecycle) -> dict:
    """The codes lifecycle_of read of an event's EPCs, by store role (read in their order:
    epcList; childEPCs and parentID), so they are not read twice; {} when it read none."""
    if event.get("type") == "TransformationEvent" and lifecycle:   # epcis.transform, as it made them
        by_action = {e["action"]: e["codes"] for e in lifecycle}
        out = {"input": by_action.get(transform.CONSUMED), "output": by_action.get(transform.MADE)}
        return {role: codes for role, codes in out.items() if codes is not None}
    if len(lifecycle or ()) != 1:
        return {}
    [e] = lifecycle
    if event.get("type") == "ObjectEvent":
        return {"epc": e["codes"]}
    if event.get("type") == "AggregationEvent":
        if e.get("parent"):      # pack, unpack
            return {"parent": [e["parent"]], "child": e["codes"]}
        return {"parent": e["codes"][:1], "child": e["codes"][1:]}   # shipping the parent with its children
    return {}


def _reason(result: dict) -> str:
    from .service import event_reason
    return event_reason(result)
