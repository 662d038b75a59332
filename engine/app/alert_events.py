"""The analytics' alerts into the EPCIS subscription outbox: each alert raised, each time it
opens again and each time it is closed becomes one EPCIS 2.0 ObjectEvent in the store's EPCIS
log, so a subscription
whose query selects them (EQ_bizStep=urn:tracecode:bizstep:alert) receives them by webhook or
WebSocket as it receives every event: at least once, in log order, across restarts.

The event (GS1's JSON schema holds it; tests check):

    {"type": "ObjectEvent", "eventID": "urn:uuid:<keyed hash of alert id and opening>",
     "eventTime": when it was raised (or opened again), "eventTimeZoneOffset": "+00:00",
     "epcList": [the alert's code as its EPC; else urn:tracecode:alert:<alert id>],
     "action": "OBSERVE", "bizStep": "urn:tracecode:bizstep:alert",
     "tracecode:alert": {"id", "rule", "severity", "subject", "code", "product", "region",
                         "firstTime", "lastTime", "window", "evidence", "opening": 0, 1...,
                         "state": "open"}}

A closing is the same event with eventTime when it was closed and the extension's "state":
"closed", "closedBy", "closedAt" (and "note" when one was given).

Publishing is a sweep, not a hook in each writer: every event of an alert (each opening's
raising, each closing) has an id derived from the alert (its id, the opening, and "closed"
for a closing, keyed by the data directory's secret: id_secret), so publish() reads every
alert, open or closed (the port has no "changed since": a closing moves no last_time), and
puts the events the log lacks; epcis_put skips those it has. An alert stored and closed
between two sweeps still gives its raising and its closing. Whoever stored or closed an alert
(tracecode analyze in another process, an asset step's quantity check, a crash between the
alert's write and its event's) is caught by the next sweep: store_alerts and close_alert run
one, and the delivery runner one per round when alerts_version moved (and once when it
starts). Alerts whose events are known in the log (by openings and state) cost a dict lookup.

Alert events are the overseers' (rights: alerts), as the alerts verb is: the stored record's
client is ALERTS_SOURCE, which app/epcis.py's rights (_sees) show to no issuer; and no capture
may send an event with BIZ_STEP or EXTENSION (app/epcis.py _judge): only this module makes them.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import time as _time
import uuid

from ..epcis import EpcisError, to_epc
from ..epcis.export import PREFIX
from ..store.port import EpcisRecord

BIZ_STEP = "urn:tracecode:bizstep:alert"
EXTENSION = f"{PREFIX}:alert"
ALERTS_SOURCE = "tracecode/alerts"   # the records' client: no issuer's (app/epcis.py _sees)
ALERT_URN = "urn:tracecode:alert:"   # + alert id: the EPC of an alert naming no code with an EPC
MAX_KNOWN = 1_000_000                 # alerts a Service remembers as published whole
PAGE = 100_000                       # alerts read per store call of a sweep (LMDB walks
                                     # the table per call: one call for any usual number)


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def opening(alert: dict) -> tuple[int, float]:
    """(how many times the alert was opened again, when its current opening began)."""
    again = alert.get("reopened") or []
    if again:
        return len(again), float(again[-1].get("reopened_at") or alert.get("created_at") or 0.0)
    return 0, float(alert.get("created_at") or 0.0)


def openings(alert: dict) -> list[tuple[int, float, dict | None]]:
    """(n, when opening n began, its closing: the record with closed_by/closed_at/note/
    closed_last_time, None while open) for each opening of the alert, oldest first."""
    again = alert.get("reopened") or []
    created = float(alert.get("created_at") or 0.0)
    starts = [created] + [float(r.get("reopened_at") or created) for r in again]
    closings = [*again, alert if alert.get("status") == "closed" else None]
    return list(zip(range(len(starts)), starts, closings))


def id_secret(dd) -> bytes:
    """The key of a data directory's alert event ids: derived from its first master-key
    version (kept in keys.json when retired), so a rotation does not change them."""
    ring = dd.keyring
    return bytes(ring.key(min(ring.versions)).derive("alert-event-ids"))


def event_id(alert: dict, secret: bytes, n: int | None = None, closed: bool = False) -> str:
    """The event of opening n of the alert (its current one by default), or of that
    opening's closing: the same on every sweep, a UUID (version 8) of an HMAC keyed by the
    data directory's secret, so nobody outside can capture an event of that id first and
    have the alert's own event skipped as already stored."""
    if n is None:
        n, _ = opening(alert)
    what = f"{alert['id']}/{n}" + ("/closed" if closed else "")
    raw = bytearray(hmac.new(secret, what.encode(), hashlib.sha256).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80   # version 8: custom (RFC 9562)
    raw[8] = (raw[8] & 0x3F) | 0x80   # the RFC variant
    return "urn:uuid:" + str(uuid.UUID(bytes=bytes(raw)))


def _moment(alert: dict, n: int | None, closing: dict | None) -> tuple[int, float, dict | None]:
    """(opening, the event's time, the closing of that opening if the event is one)."""
    if n is None:
        n, at = opening(alert)
    else:
        at = openings(alert)[n][1]
    if closing is not None:
        at = float(closing.get("closed_at") or at)
    return n, at, closing


def event_of(alert: dict, eid: str, base_url: str | None = None, convert=None,
             now: float | None = None, n: int | None = None,
             closing: dict | None = None) -> tuple[dict, dict]:
    """(the EPCIS event of opening n of the alert (its current one by default), or of that
    opening's closing (the closing record: openings()), eventID eid, and its EPCs by role
    as the store keys them). `convert`: a stored code -> the form to_epc reads (epc_forms)."""
    from .epcis import epc_key
    n, at, closing = _moment(alert, n, closing)
    ended = openings(alert)[n][2]   # an opening closed since: its last evidence, not today's
    epcs, keys = [], []
    code = alert.get("code")
    if code:
        form = convert(code) if convert else code
        try:
            epcs = [to_epc(form, None, base_url)]
            keys = [epc_key(epcs[0])]
        except EpcisError:   # a national code without the base URL: found by its key all the same
            keys = [form]
    if not epcs:   # what the event is about (the CBV asks for an EPC): the alert itself
        epcs = [ALERT_URN + alert["id"]]
        keys.append(epcs[0])
    ext = {"id": alert["id"], "rule": alert.get("rule"), "severity": alert.get("severity"),
           "subject": alert.get("subject"), "code": code, "product": alert.get("product"),
           "region": alert.get("region"), "firstTime": alert.get("first_time"),
           "lastTime": (ended or {}).get("closed_last_time") or alert.get("last_time"),
           "window": alert.get("window"), "evidence": alert.get("evidence") or {}, "opening": n,
           "state": "closed" if closing is not None else "open"}
    if closing is not None:
        ext.update(closedBy=closing.get("closed_by"),
                   closedAt=_iso(float(closing["closed_at"])) if closing.get("closed_at") else None,
                   note=closing.get("note") or None)
    event = {"type": "ObjectEvent", "eventID": eid, "eventTime": _iso(at),
             "eventTimeZoneOffset": "+00:00", "recordTime": _iso(_time.time() if now is None else now),
             "epcList": epcs, "action": "OBSERVE", "bizStep": BIZ_STEP,
             EXTENSION: {k: v for k, v in ext.items() if v is not None}}
    return event, ({"epc": keys} if keys else {})


def record_of(alert: dict, eid: str, base_url=None, convert=None, now: float | None = None,
              n: int | None = None, closing: dict | None = None) -> EpcisRecord:
    now = _time.time() if now is None else now
    event, epcs = event_of(alert, eid, base_url, convert, now, n, closing)
    return EpcisRecord(event_id=event["eventID"], event=event, event_time=_moment(alert, n, closing)[1],
                       time_offset="+00:00", record_time=now, type="ObjectEvent", biz_step=BIZ_STEP,
                       epcs=epcs, client=ALERTS_SOURCE, action="OBSERVE")


def epc_forms(schemes: dict, master_key, codes: list) -> dict:
    """{code: the form to_epc reads} for stored codes: a bare GS1 code (GTIN and serial run
    together) as its element string "(01)...(21)...", any other as it is. One parse_many
    finds the schemes; a GS1 scheme whose identity fields have fixed widths is cut by them,
    any other GS1 code goes through export.gs1_codes one by one."""
    if not codes:
        return {}
    from ..epcis.export import gs1_codes
    from ..scan import ScanParser
    parser = ScanParser(schemes)
    batch = parser.parse_many(list(codes))
    rec, names = batch.records, batch.scheme_names
    cuts: dict = {}
    for name in set(names):
        scheme = schemes.get(name)
        if scheme is not None and scheme.is_gs1:
            ident = [(f.ai, f.length) for f in scheme.fields if f.ai and f.role in ("product", "serial")]
            cuts[names.index(name)] = ident if all(n for _, n in ident) else None
    out, slow = {}, None
    for code, i, ok in zip(codes, rec["scheme"].tolist(), batch.ok.tolist()):
        if not ok or i not in cuts:
            continue
        ident = cuts[i]
        if ident is not None and sum(n for _, n in ident) == len(code):
            parts, at = [], 0
            for ai, n in ident:
                parts.append(f"({ai}){code[at:at + n]}")
                at += n
            out[code] = "".join(parts)
        else:   # variable widths: the parser's fields, one code at a time
            slow = slow or gs1_codes(schemes, master_key)
            out[code] = slow(code)
    return out


def all_alerts(store):
    """Every alert, open or closed, a page at a time (alerts_find's keyset)."""
    after = None
    while True:
        page = store.alerts_find(limit=PAGE, after=after)
        yield from page
        if len(page) < PAGE:
            return
        after = (page[-1].get("last_time"), page[-1]["id"])


def _state(alert: dict) -> tuple:
    """What decides an alert's events: how many openings, and whether the last is closed."""
    return len(alert.get("reopened") or []), alert.get("status")


def publish(svc, force: bool = False) -> int:
    """Put the events (raisings, openings again, closings) of the alerts the EPCIS log lacks,
    oldest first; how many were put. Skipped while alerts_version stands where this Service
    last swept (force: sweep, every alert's events looked up in the log again)."""
    store = svc.index.store
    version = store.alerts_version()
    if not force and getattr(svc, "_alerts_published", None) == version:
        return 0
    known = svc.__dict__.setdefault("_alert_events_known", {})   # alert id -> _state in the log
    secret = svc.__dict__.get("_alert_id_secret")
    if secret is None:   # derived once per Service
        secret = svc._alert_id_secret = id_secret(svc.dd)
    due, states = [], {}   # (eid, when, alert, opening, closing or None)
    for a in all_alerts(store):
        state = _state(a)
        if not force and known.get(a["id"]) == state:
            continue
        states[a["id"]] = state
        for n, at, closing in openings(a):
            due.append((event_id(a, secret, n), at, a, n, None))
            if closing is not None:
                due.append((event_id(a, secret, n, closed=True), float(closing.get("closed_at") or at),
                            a, n, closing))
    put = 0
    if due:
        stored = store.epcis_events([d[0] for d in due])
        missing = sorted((d for d, s in zip(due, stored) if s is None),
                         key=lambda d: (d[1], d[2]["id"], d[3], d[4] is not None))
        if missing:
            dd = svc.dd
            forms = epc_forms(dd.schemes, dd.master_key,
                              list({d[2]["code"] for d in missing if d[2].get("code")}))
            convert = lambda code: forms.get(code, code)   # noqa: E731
            now = _time.time()
            put = sum(store.epcis_put([record_of(a, eid, dd.settings.base_url, convert, now, n, closing)
                                       for eid, _, a, n, closing in missing]))
        if len(known) + len(states) > MAX_KNOWN:   # bounded: past it, events are looked up again
            known.clear()
        known.update(states)
    svc._alerts_published = version
    return put
