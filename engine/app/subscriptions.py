"""EPCIS query subscriptions on the application layer (Service.subscribe, subscriptions,
subscription, unsubscribe, rewind delegate here), and what a delivery runner needs that is
not transport: the next batch of a subscription, its body and signature, the record of a
delivery's success or failure with its back-off.

A subscription is the GS1 REST binding's: a query (the EpcisQuery of a named query, or given
here), a `dest` (the webhook URL), an optional `signatureToken`, and either `stream` (deliver
as soon as events are captured) or a `schedule` (tracecode.epcis.schedule: deliver what came
since the last delivery when it fires; `reportIfEmpty`: an empty document too). Its owner
receives what query_events would answer it: an overseer every matching event, an issuer those
it captured and those naming its products' codes (filtered at each delivery, so a product
taken off an issuer's list stops its events).

Delivery is at least once and in order: the store's EPCIS log is the outbox (store/port.py
epcis_since: seq order is commit order) and the subscription's bookmark, the last seq
delivered, moves only when the receiver answered 2xx; a failure keeps it and waits
(exponential back-off with jitter, capped at MAX_BACKOFF_S). The bookmark can be moved back
(rewind) to deliver again from an earlier point.

maxEventCount (GS1: more than that many is QueryTooLargeException instead of a result): a
delivery that would carry more than the subscription's maxEventCount events carries instead
the exception (problem JSON, signed like any delivery) naming the bookmarks it spans; the
bookmark moves past those events, to the end of the log as it then stands (else every round
would send the same exception forever, or deliver the tail of a round it refused),
so nothing is lost silently: the subscriber rewinds to `fromBookmark` with a narrower query
or a larger maxEventCount.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import random
import time as _time
import urllib.parse
import uuid
from dataclasses import asdict, dataclass, fields

from ..epcis import outbound
from ..epcis.errors import EpcisError
from ..epcis.schedule import Schedule
from ..store.port import EpcisQuery
from .audit import AuditError
from .caller import LOCAL, OPERATOR, Caller
from .refusal import Refusal, invalid
from .rights import admit, oversees
from . import webhook_guard

SIGNATURE_HEADER = "GS1-Signature"   # the binding's header; value "sha256=" + hex HMAC-SHA256 of the body
BATCH_EVENTS = 500        # events per delivery (one EPCISQueryDocument)
BASE_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0     # a receiver down for hours is tried every 5 minutes at most
MAX_DEST_BYTES = 2000
MAX_TOKEN_BYTES = 1000
MAX_SUBSCRIPTIONS = 1000  # per owner
SCAN_ROUNDS = 10          # store reads (epcis_since) one due() makes at most
_QUERY_FIELDS = {f.name for f in fields(EpcisQuery)}


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sign(body: bytes, token: str) -> str:
    """The GS1-Signature of a delivery: "sha256=" + hex HMAC-SHA256 of the body's bytes,
    keyed by the subscription's signatureToken (UTF-8).

    >>> sign(b"{}", "secret")
    'sha256=77325902caca812dc259733aacd046b73817372c777b8d95b402647474516e13'
    """
    return "sha256=" + hmac.new(token.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _check_max_event_count(value) -> None:
    """A subscription's or a stream's maxEventCount: None, or a whole number in the query's range."""
    from .epcis_params import MAX_EVENT_COUNT
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or not 1 <= value <= MAX_EVENT_COUNT):
        raise invalid("maxEventCount", f"maxEventCount must be a whole number from 1 to {MAX_EVENT_COUNT:,}, "
                      f"got {str(value)[:40]!r}")


def too_large_problem(query_name: str, subscription_id: str, cap: int, from_seq: int, to_seq: int) -> bytes:
    """The binding's QueryTooLargeException (problem JSON, as /epcis answers it) sent in place
    of a round of more than `cap` (maxEventCount) events: the bookmarks it spans, to rewind to."""
    problem = {"type": "epcisException:QueryTooLargeException", "title": "Query result too large",
               "status": 413, "detail": f"more than {cap:,} events (maxEventCount) came after bookmark "
               f"{from_seq}: none delivered; rewind to {from_seq} with a narrower query or a larger "
               "maxEventCount to receive them",
               "subscriptionID": subscription_id, "queryName": query_name, "maxEventCount": cap,
               "fromBookmark": from_seq, "bookmark": to_seq}
    return json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _headers(due: "Due", body: bytes, media_type: str, n_events: int) -> dict:
    """A delivery's headers: its media type, the EPCIS and CBV versions, where it leaves the
    bookmark, and GS1-Signature when the subscription has a signatureToken."""
    sub = due.sub
    headers = {"content-type": media_type, "gs1-epcis-version": "2.0", "gs1-cbv-version": "2.0",
               "tracecode-subscription": sub["id"], "tracecode-bookmark": str(due.last_seq),
               "tracecode-events": str(n_events)}
    if sub.get("token"):
        headers[SIGNATURE_HEADER.lower()] = sign(body, sub["token"])
    return headers


def verify(body: bytes, token: str, signature: str) -> bool:
    """What a receiver does: the signature recomputed and compared in constant time."""
    return hmac.compare_digest(sign(body, token), signature or "")


def backoff(attempts: int, rng=random.random) -> float:
    """Seconds to wait after the attempts-th failure in a row: 1, 2, 4... capped at
    MAX_BACKOFF_S, each scaled by a jitter in [0.5, 1] so receivers coming back are not hit
    by every subscription at once.

    >>> [round(backoff(n, rng=lambda: 1.0)) for n in (1, 2, 3, 10, 50)]
    [1, 2, 4, 300, 300]
    """
    return min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** min(max(attempts - 1, 0), 30)) * (0.5 + 0.5 * rng())


def query_to_json(query: EpcisQuery) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(query).items()
            if v not in ((), None, "", False)}


def query_from_json(data: dict) -> EpcisQuery:
    def tup(v):
        return tuple(tup(x) for x in v) if isinstance(v, list) else v
    return EpcisQuery(**{k: tup(v) for k, v in data.items() if k in _QUERY_FIELDS})


def _keyed(query: EpcisQuery) -> EpcisQuery:
    """EPCs as the store keys them (their code form: query_events does the same)."""
    if not query.epcs:
        return query
    from .epcis import epc_key
    return EpcisQuery(**{**asdict(query), "epcs": tuple(epc_key(e) for e in query.epcs)})


def _dest(dest) -> str:
    if not isinstance(dest, str) or not dest or len(dest.encode("utf-8")) > MAX_DEST_BYTES:
        raise invalid("dest", f"dest is the webhook's URL (http:// or https://, at most {MAX_DEST_BYTES} bytes)")
    u = urllib.parse.urlsplit(dest)
    try:
        port = u.port or (443 if u.scheme == "https" else 80)
    except ValueError:
        port = None
    if u.scheme not in ("http", "https") or not u.hostname or port is None:
        raise invalid("dest", f"dest {dest[:80]!r} is not an http:// or https:// URL")
    return dest


def _dest_permitted(dest: str, allow) -> None:
    """A dest's host judged now (a name that does not resolve yet is judged at each connect)."""
    u = urllib.parse.urlsplit(dest)
    try:
        webhook_guard.resolve(u.hostname, u.port or (443 if u.scheme == "https" else 80), allow)
    except webhook_guard.Unresolved:
        pass
    except webhook_guard.DestRefused as exc:
        raise invalid("dest", str(exc)) from None


@dataclass
class Due:
    """One delivery to make: the events (as captured) and the bookmark they move to."""
    sub: dict
    caller: Caller
    events: list
    last_seq: int
    empty_report: bool = False   # a scheduled, reportIfEmpty delivery of nothing
    too_large: int = 0           # more than this many (maxEventCount): the exception goes instead
    from_seq: int = 0            # the bookmark the delivery starts after


class Subscriptions:
    """subscribe / subscriptions / subscription / unsubscribe / rewind over one Service,
    and the runner's side (due, body, taken, progress, failed)."""

    def __init__(self, service):
        self.svc = service
        self.store = service.index.store

    # -- the verbs -------------------------------------------------------------------------
    def subscribe(self, caller: Caller, query_name: str, query: EpcisQuery, *, dest: str,
                  signature_token: str | None = None, stream: bool = False, schedule: dict | None = None,
                  report_if_empty: bool = False, initial_record_time: float | None = None,
                  format: str = outbound.DEFAULT, max_event_count: int | None = None, peer: str = "",
                  method: str = "Subscribe") -> dict:
        admit(caller, "subscribe", method)
        _check_max_event_count(max_event_count)
        if not isinstance(query, EpcisQuery):
            raise invalid("query", "an EpcisQuery")
        if not isinstance(query_name, str) or not query_name or len(query_name) > 200:
            raise invalid("queryName", "a query name is 1-200 characters")
        dest = _dest(dest)
        if signature_token is not None and (not isinstance(signature_token, str) or not signature_token
                                            or len(signature_token.encode("utf-8")) > MAX_TOKEN_BYTES):
            raise invalid("signatureToken", f"signatureToken is text of 1-{MAX_TOKEN_BYTES} bytes")
        if bool(stream) == bool(schedule):
            raise invalid("stream", "a subscription is either stream: true or has a schedule (GS1's binding: "
                          "one of them, so nobody subscribes to a stream by accident)")
        if schedule:
            try:
                Schedule.parse(schedule)
            except EpcisError as exc:
                raise invalid("schedule", exc.detail) from None
        if format not in outbound.ALL:
            raise invalid("format", f"unknown outbound format {str(format)[:40]!r}; known: {', '.join(outbound.ALL)}")
        _dest_permitted(dest, self.webhook_allow())   # last: it resolves the host
        query = _keyed(query)
        if initial_record_time is not None:
            ge = query.ge_record_time
            query = EpcisQuery(**{**asdict(query), "ge_record_time": max(ge or initial_record_time,
                                                                            initial_record_time)})
        mine = [s for s in self.store.subscriptions() if s.get("owner") == caller.name]
        if len(mine) >= MAX_SUBSCRIPTIONS:
            raise Refusal("resource_exhausted", "", f"{caller.name} has {len(mine):,} subscriptions, the most "
                          "one client may have: unsubscribe some")
        now = _time.time()
        sub = {"id": str(uuid.uuid4()), "query_name": query_name, "query": query_to_json(query), "dest": dest,
               "token": signature_token, "stream": bool(stream), "schedule": dict(schedule) if schedule else None,
               "report_if_empty": bool(report_if_empty), "format": format, "max_events": max_event_count,
               "owner": caller.name,
               "owner_via": caller.via, "created": _iso(now)}
        try:
            self.svc._audit("subscribe", caller, method, peer, subscription=sub["id"], query=query_name,
                            dest=webhook_guard.redacted(dest)[:200])
        except AuditError as exc:
            raise Refusal("audit_log_full", "", f"not subscribed: {exc}") from None
        # from the start of the log when the first delivery reaches back (initialRecordTime),
        # else from now: only what is captured next
        return self.shown(self.store.subscription_put(sub, bookmark=0 if initial_record_time is not None else None))

    def subscribe_named(self, caller: Caller, query_name: str, **kw) -> dict:
        """subscribe to the caller's named query (the binding's POST
        /queries/{queryName}/subscriptions): its definition read now, its events delivered
        in capture order (a definition's orderBy is for its pages, not for a stream)."""
        from . import epcis_params
        definition = self.svc.epcis.named_query(caller, query_name, kw.get("method", "Subscribe"))
        parsed = epcis_params.parse_query(dict(definition["query"]))
        query = EpcisQuery(**{**asdict(parsed.query), "order_by": "", "descending": False})
        if kw.get("max_event_count") is None:   # the definition's maxEventCount holds for its deliveries too
            kw["max_event_count"] = parsed.max_count
        return self.subscribe(caller, definition["name"], query, **kw)

    def open_stream(self, caller: Caller, query_name: str, bookmark: int | None,
                    initial_record_time: float | None, method: str = "WebSocket",
                    max_event_count: int | None = None) -> tuple[EpcisQuery, int, int | None]:
        """A stream of the caller's named query over a connection (a WebSocket), nothing
        stored: (its query, the bookmark it starts after: the one given, else 0 with
        initial_record_time, else now; its maxEventCount: the one given, else the named
        query's, else None)."""
        from . import epcis_params
        admit(caller, "subscribe", method)
        _check_max_event_count(max_event_count)
        definition = self.svc.epcis.named_query(caller, query_name, method)
        parsed = epcis_params.parse_query(dict(definition["query"]))
        cap = parsed.max_count if max_event_count is None else max_event_count
        query = EpcisQuery(**{**asdict(parsed.query), "order_by": "", "descending": False})
        if initial_record_time is not None:
            query = EpcisQuery(**{**asdict(query), "ge_record_time": max(query.ge_record_time or initial_record_time,
                                                                         initial_record_time)})
        query = _keyed(query)
        if bookmark is not None:
            return query, bookmark, cap
        return query, 0 if initial_record_time is not None else self.store.epcis_last_seq(), cap

    def stream_round(self, caller: Caller, query: EpcisQuery, bookmark: int, cap: int | None,
                     query_name: str, stream_id: str) -> tuple[list, int, bytes | None]:
        """The next round of an open stream: (events, the bookmark they bring it to, None), or
        with more than `cap` (maxEventCount) events waiting, ([], the last seq, the
        QueryTooLargeException to send instead), as a webhook's round goes (`due`)."""
        events, last = self.collect(caller, query, bookmark, cap + 1 if cap else BATCH_EVENTS)
        if cap and len(events) > cap:
            to = max(last, self.store.epcis_last_seq())
            return [], to, too_large_problem(query_name, stream_id, cap, bookmark, to)
        return events, last, None

    def still_streams(self, was: Caller, now: Caller, query_name: str, method: str = "WebSocket") -> Caller:
        """A stream's caller judged again (`now`: as its token reads now): it may still
        subscribe, still has the named query, and has lost none of the products it had when
        the stream opened (a Refusal otherwise: the stream ends, the client reconnects under
        its new rights); the caller to filter the next events with."""
        admit(now, "subscribe", method)
        self.svc.epcis.named_query(now, query_name, method)
        if now.name != was.name or not all(rule in now.products for rule in was.products):
            raise Refusal("permission_denied", "", f"{was.name}'s products changed since the stream opened: "
                          "reconnect to stream under the rights it has now")
        return now

    def subscriptions(self, caller: Caller, query_name: str | None = None, method: str = "Subscriptions") -> list:
        admit(caller, "subscriptions", method)
        return [self.shown(s) for s in self.store.subscriptions()
                if (oversees(caller) or s.get("owner") == caller.name)
                and (query_name is None or s.get("query_name") == query_name)]

    def _own(self, caller: Caller, sub_id: str, *, reading: bool = False) -> dict:
        """The subscription, if the caller owns it (or oversees all, to read; is admin, to change);
        not_found otherwise (another client's subscription is not said to exist)."""
        sub = self.store.subscription_get(sub_id) if isinstance(sub_id, str) and sub_id else None
        beyond_own = oversees(caller) if reading else caller.admin
        if sub is None or not (beyond_own or sub.get("owner") == caller.name):
            raise Refusal("not_found", "subscriptionID", f"no subscription {str(sub_id)[:64]!r}",
                          resource="subscription", name=str(sub_id)[:64])
        return sub

    def subscription(self, caller: Caller, sub_id: str, method: str = "Subscription") -> dict:
        admit(caller, "subscriptions", method)
        return self.shown(self._own(caller, sub_id, reading=True))

    def unsubscribe(self, caller: Caller, sub_id: str, peer: str = "", method: str = "Unsubscribe") -> None:
        """Its owner's (an admin's: any). not_found for another client's."""
        admit(caller, "unsubscribe", method)
        self._own(caller, sub_id)
        self.svc._audit("unsubscribe", caller, method, peer, subscription=sub_id)
        self.store.subscription_delete(sub_id)

    def rewind(self, caller: Caller, sub_id: str, bookmark: int, peer: str = "", method: str = "Rewind") -> dict:
        """Move a subscription's bookmark (back to deliver again from there, 0: from the
        start of the log); the next delivery starts after it."""
        admit(caller, "subscribe", method)
        self._own(caller, sub_id)
        if not isinstance(bookmark, int) or isinstance(bookmark, bool) or bookmark < 0:
            raise invalid("bookmark", f"a bookmark is a seq, 0 or more, got {bookmark!r}")
        bookmark = min(bookmark, self.store.epcis_last_seq())
        self.svc._audit("rewind", caller, method, peer, subscription=sub_id, bookmark=bookmark)
        self.store.subscription_rewind(sub_id, bookmark)
        return self.shown(self.store.subscription_get(sub_id))

    @staticmethod
    def shown(sub: dict) -> dict:
        """A subscription as its owner sees it: the binding's fields and the delivery state,
        the signatureToken never (only whether there is one)."""
        st = sub["state"]
        out = {"subscriptionID": sub["id"], "queryName": sub["query_name"], "dest": sub["dest"],
               "createdAt": sub["created"], "reportIfEmpty": sub["report_if_empty"], "format": sub["format"],
               "owner": sub["owner"], "signed": bool(sub.get("token")), "query": sub["query"],
               "bookmark": st["bookmark"], "delivered": st["delivered"], "attempts": st["attempts"],
               "lastError": st["last_error"]}
        if sub.get("max_events"):
            out["maxEventCount"] = sub["max_events"]
        if sub["stream"]:
            out["stream"] = True
        else:
            out["schedule"] = sub["schedule"]
        if st["last_notified"]:
            out["lastNotifiedAt"] = st["last_notified"]
        if st["attempts"]:
            out["nextAttemptAt"] = _iso(st["next_try"])
        if sub["query"].get("ge_record_time") is not None:
            out["initialRecordTime"] = _iso(sub["query"]["ge_record_time"])
        return out

    # -- the runner's side ------------------------------------------------------------------
    def webhook_allow(self) -> tuple:
        """The networks [epcis] webhook_allow of DIR/settings.toml lets webhooks reach."""
        return webhook_guard.allow_list(self.svc.dd.path)

    def owner_of(self, sub: dict) -> Caller | None:
        """The subscriber as its rights are now (None: no longer a client, nothing goes)."""
        if sub.get("owner_via") == "operator":
            return OPERATOR
        if sub.get("owner_via") == "none" or self.svc.clients.open:
            return LOCAL if sub.get("owner") == LOCAL.name else None
        for who in self.svc.clients.identities():
            if who.name == sub.get("owner"):
                return who
        return None

    def collect(self, caller: Caller, query: EpcisQuery, bookmark: int,
                most: int = BATCH_EVENTS) -> tuple[list, int]:
        """(up to `most` (BATCH_EVENTS) events after bookmark matching query that caller may read, in
        seq order, each its JSON as stored; the seq they bring the bookmark to, past the
        events passed over)."""
        events, last = [], bookmark
        top = self.store.epcis_last_seq()
        capture = self.svc.epcis
        judged = not oversees(caller)
        for _ in range(SCAN_ROUNDS):   # bounded: a long log of others' events is passed over in steps
            if len(events) >= most or last >= top:
                break
            recs, last = self.store.epcis_log(query, last, most - len(events), with_epcs=judged)
            events += [r.event_json for r in recs if not judged or capture._sees(caller, r)]
        return events, last

    def due(self, sub: dict, now: float | None = None, fire: bool = False, report_empty: bool = True,
            lease: tuple[str, str] | None = None) -> Due | None:
        """The next delivery of a subscription, or None: waiting out a back-off, nothing new
        in stream mode, not its time on a schedule (the runner says fire=True when it is;
        report_empty=False: only events, as when a fired schedule drains a backlog).
        Events the owner may not read are passed over, the bookmark moving past them."""
        now = _time.time() if now is None else now
        st = sub["state"]
        if st["attempts"] and st["next_try"] > now:
            return None
        caller = self.owner_of(sub)
        if caller is None:
            if not str(st["last_error"]).startswith("gone"):
                self.store.subscription_progress(sub["id"], st["generation"], {
                    "last_error": f"gone: {sub.get('owner')} is no longer a client; nothing is delivered"}, lease)
            return None
        if not sub["stream"] and not fire and not st["attempts"]:
            return None
        cap = sub.get("max_events")
        # with maxEventCount, counted to one more than it: more is the exception, not events
        events, last = self.collect(caller, query_from_json(sub["query"]), st["bookmark"],
                                    cap + 1 if cap else BATCH_EVENTS)
        if cap and len(events) > cap:   # the round is all there is now: the exception spans it to the end
            return Due(sub, caller, [], max(last, self.store.epcis_last_seq()), too_large=cap,
                       from_seq=st["bookmark"])   # (stream_round: the same for a WebSocket)
        if events:
            return Due(sub, caller, events, last)
        if last != st["bookmark"]:   # nothing for this owner: the bookmark moves on without a delivery
            self.store.subscription_progress(sub["id"], st["generation"], {"bookmark": last}, lease)
        if not sub["stream"] and sub["report_if_empty"] and report_empty and (fire or st["attempts"]):
            return Due(sub, caller, [], last, empty_report=True)
        return None

    def body(self, due: Due) -> tuple[bytes, dict]:
        """(the delivery's body, its headers): the format's media type, GS1-Signature when
        the subscription has a signatureToken, and where it leaves the bookmark."""
        sub = due.sub
        if due.too_large:
            return self._too_large(due)
        fmt = outbound.get(sub["format"])
        body = fmt.render(due.events, outbound.Delivery(sub["query_name"], sub["id"], _iso(_time.time()),
                                                        due.last_seq))
        return body, _headers(due, body, fmt.media_type, len(due.events))

    @staticmethod
    def _too_large(due: Due) -> tuple[bytes, dict]:
        """The binding's QueryTooLargeException (problem JSON as /epcis answers it) in place of
        a delivery of more than maxEventCount events; the bookmarks it spans to rewind to."""
        body = too_large_problem(due.sub["query_name"], due.sub["id"], due.too_large, due.from_seq, due.last_seq)
        return body, _headers(due, body, "application/problem+json", 0)

    @staticmethod
    def taken(due: Due) -> dict:
        """The subscription as it is once due was taken: what progress() records (a runner
        keeps it in memory between records: a crash then sends those deliveries again)."""
        st = due.sub["state"]
        return {**due.sub, "state": {**st, "bookmark": due.last_seq, "attempts": 0, "next_try": 0.0,
                                     "last_error": None, "last_notified": _iso(_time.time()),
                                     "delivered": st["delivered"] + len(due.events)}}

    def progress(self, sub: dict, lease: tuple[str, str] | None = None) -> bool:
        """Record a subscription's delivery state (as taken() left it) unless it was rewound
        or redefined since (its generation) or, with lease=(name, holder), the runner no
        longer holds the delivery lease."""
        st = sub["state"]
        return self.store.subscription_progress(sub["id"], st["generation"], {
            k: st[k] for k in ("bookmark", "attempts", "next_try", "last_error", "last_notified", "delivered")},
            lease)

    def failed(self, due: Due, error: str, now: float | None = None, lease: tuple[str, str] | None = None) -> float:
        """The receiver did not take it: the bookmark stays; the seconds until the next try."""
        now = _time.time() if now is None else now
        st = due.sub["state"]
        wait = backoff(st["attempts"] + 1)
        self.store.subscription_progress(due.sub["id"], st["generation"], {
            "attempts": st["attempts"] + 1, "next_try": now + wait, "last_error": str(error)[:300]}, lease)
        return wait
