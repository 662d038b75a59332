"""`tracecode epcis`: GS1 EPCIS 2.0 documents in and out of a data directory.

    tracecode epcis capture DIR FILE|- [--proceed] [--json]      (or --server HOST:PORT FILE|-)
        capture an EPCISDocument (JSON / JSON-LD; an EPCISQueryDocument too): prints the
        capture job (events captured, failed; each failure with its JSON pointer); exit 1
        when any event failed. Rollback (the default): one bad event and none is stored;
        --proceed: every good event is.
    tracecode epcis query DIR [--epc E] [--parent E] [--epc-class C] [--type T] [--biz-step S]
                              [--disposition D] [--since T] [--until T] [--param NAME=VALUE]
                              [--order-by eventTime|recordTime [--asc]] [--limit N] [--json]
                              (or --server HOST:PORT and no DIR)
        the events stored, one line each (time, type, action, bizStep, eventID), or with
        --json one EPCISDocument of them (what `epcis capture` reads, so a query of one
        directory can be captured into another). --param gives any parameter of the REST
        binding's query (EQ_bizTransaction_po=..., EQ_readPoint=..., MATCH_outputEPC=...).
    tracecode epcis subscribe DIR QUERY --dest URL [--token T] (--stream | --schedule F=V,...)
                              [--report-if-empty] [--from-start | --initial-record-time T]
                              [the query options of `epcis query`] [--json]
    tracecode epcis subscriptions DIR [--json]
    tracecode epcis unsubscribe DIR ID
    tracecode epcis rewind DIR ID BOOKMARK
        EPCIS query subscriptions (tracecode.app.subscriptions): a webhook receives the query's
        events, delivered by `tracecode serve DIR` (one worker holds the delivery lease), at
        least once and in capture order; rewind moves the bookmark back to deliver again.
    tracecode history DIR CODE --epcis
        a code's history as one EPCISDocument (engine/cli.py: Service.history_epcis, DIR or --server).

The operator of DIR runs these as an admin (tracecode.app.LocalClient); with --server the
same verbs go to a server's gRPC Epcis service (tracecode.v1.Client) as its token's client.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from .errors import TracecodeError

PAGE = 1_000                 # events read per call while printing a query
STDIN = "-"


def EpcisCliError(message: str):   # noqa: N802 - raised like a class
    """A usage error of `tracecode epcis`: the command's CliError (one line, exit 2)."""
    from .cli import CliError
    return CliError(message)


def add_parser(subparsers):
    p = subparsers.add_parser("epcis", help="capture and query GS1 EPCIS 2.0 events",
                              description="GS1 EPCIS 2.0 documents in and out of a data directory.")
    sub = p.add_subparsers(dest="epcis_command", metavar="capture|query|subscribe|subscriptions|unsubscribe|rewind",
                           required=True)

    from .v1 import cli as remote
    s = sub.add_parser("capture", help="capture an EPCISDocument (a file, or - for stdin)")
    s.add_argument("dir", nargs="?", help="data directory; or --server (then the one positional is FILE)")
    s.add_argument("file", nargs="?", help="the EPCISDocument (JSON / JSON-LD, or XML), or - for stdin")
    remote.add_server_options(s)
    s.add_argument("--proceed", action="store_true",
                   help="store every valid event even if others fail (default: rollback, all or none)")
    s.add_argument("--json", action="store_true", help="print the capture job as JSON")
    s.set_defaults(func=cmd_capture)

    s = sub.add_parser("query", help="the events stored, by EPC, type, bizStep, time, any binding parameter")
    s.add_argument("dir", nargs="?", help="data directory; or --server")
    remote.add_server_options(s)
    s.add_argument("--epc-class", action="append", metavar="C",
                   help="events naming this EPC class (LGTIN, urn:epc:idpat:sgtin...) in any quantity list")
    s.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="any query parameter of the EPCIS REST binding (EQ_bizTransaction_po=urn:..., "
                        "EQ_readPoint=..., MATCH_outputEPC=..., EQ_action=ADD); repeat for several")
    s.add_argument("--order-by", choices=("eventTime", "recordTime"), help="the order (newest first)")
    s.add_argument("--asc", action="store_true", help="with --order-by: oldest first")
    s.add_argument("--epc", action="append", metavar="E",
                   help="events naming this EPC in any instance field (epcList, parentID, childEPCs, "
                        "inputs, outputs: an EPC URI, a Digital Link, a national code's "
                        "https://BASE/c/CODE); repeat for any of several")
    s.add_argument("--parent", action="append", metavar="E", help="events whose parentID is E")
    s.add_argument("--type", action="append", metavar="T",
                   help="ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent")
    s.add_argument("--biz-step", action="append", metavar="S", help="a CBV bizStep (shipping) or its URI")
    s.add_argument("--disposition", action="append", metavar="D", help="a CBV disposition or its URI")
    s.add_argument("--since", metavar="T", help="eventTime at or after T (2024-06-30T08:00:00+08:00, or a "
                                                "date: that day's 00:00 UTC)")
    s.add_argument("--until", metavar="T", help="eventTime before T")
    s.add_argument("--limit", type=int, default=0, metavar="N", help="at most N events (default: all)")
    s.add_argument("--json", action="store_true", help="print one EPCISDocument of the events")
    s.set_defaults(func=cmd_query)
    add_subscription_parsers(sub)


def _query_options(s) -> None:
    s.add_argument("--epc", action="append", metavar="E", help="events naming this EPC in any field")
    s.add_argument("--parent", action="append", metavar="E", help="events whose parentID is E")
    s.add_argument("--type", action="append", metavar="T", help="an event type (ObjectEvent...)")
    s.add_argument("--biz-step", action="append", metavar="S", help="a CBV bizStep or its URI")
    s.add_argument("--disposition", action="append", metavar="D", help="a CBV disposition or its URI")
    s.add_argument("--since", metavar="T", help="eventTime at or after T")
    s.add_argument("--until", metavar="T", help="eventTime before T")


def add_subscription_parsers(sub) -> None:
    s = sub.add_parser("subscribe", help="deliver a query's events to a webhook (tracecode serve sends them)",
                       description="Subscribe a webhook (GS1's binding: an EPCISQueryDocument per delivery, "
                                   "signed with GS1-Signature: sha256=HMAC when a token is given) to the "
                                   "events of a query: every matching event at least once, in capture order.")
    s.add_argument("dir", help="data directory")
    s.add_argument("query", help="the query's name (it names the deliveries' queryName)")
    s.add_argument("--dest", required=True, metavar="URL", help="the webhook (http:// or https://)")
    s.add_argument("--token", metavar="T", help="the signatureToken each delivery is signed with")
    mode = s.add_mutually_exclusive_group(required=True)
    mode.add_argument("--stream", action="store_true", help="deliver as soon as events are captured")
    mode.add_argument("--schedule", metavar="F=V,...",
                      help="deliver what came since the last delivery when the schedule fires (UTC): "
                           "second, minute, hour, dayOfMonth, month, dayOfWeek, e.g. hour=1,minute=5 "
                           "or 'minute=0/15' (values as GS1's binding: 5, [1-5], 0/30; ';' between fields "
                           "when a value has commas: 'minute=0,30;hour=8')")
    s.add_argument("--report-if-empty", action="store_true", help="with --schedule: deliver an empty document too")
    start = s.add_mutually_exclusive_group()
    start.add_argument("--from-start", action="store_true", help="deliver the events stored already too")
    start.add_argument("--initial-record-time", metavar="T", help="deliver events recorded at or after T too")
    _query_options(s)
    s.add_argument("--json", action="store_true", help="print the subscription as JSON")
    s.set_defaults(func=cmd_subscribe)

    s = sub.add_parser("subscriptions", help="the subscriptions and how far each has been delivered")
    s.add_argument("dir", help="data directory")
    s.add_argument("--json", action="store_true", help="print them as JSON")
    s.set_defaults(func=cmd_subscriptions)

    s = sub.add_parser("unsubscribe", help="end a subscription")
    s.add_argument("dir", help="data directory")
    s.add_argument("id", help="the subscriptionID")
    s.set_defaults(func=cmd_unsubscribe)

    s = sub.add_parser("rewind", help="move a subscription's bookmark back: deliver again from there")
    s.add_argument("dir", help="data directory")
    s.add_argument("id", help="the subscriptionID")
    s.add_argument("bookmark", type=int, help="the last seq taken as delivered (0: from the first event)")
    s.set_defaults(func=cmd_rewind)


def parse_schedule(text: str) -> dict:
    """--schedule's fields.

    >>> parse_schedule("hour=1,minute=5"), parse_schedule("minute=0,30;hour=[8-17]")
    ({'hour': '1', 'minute': '5'}, {'minute': '0,30', 'hour': '[8-17]'})
    """
    out = {}
    parts = text.split(";") if ";" in text else text.split(",")
    for part in parts:
        name, eq, value = part.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise EpcisCliError(f"--schedule {text!r}: give FIELD=VALUE pairs (hour=1,minute=5)")
        out[name.strip()] = value.strip()
    return out


def _subscription_line(s: dict) -> str:
    fields = ",".join(f"{k}={v}" for k, v in (s.get("schedule") or {}).items())
    mode = "stream" if s.get("stream") else f"schedule {fields}"
    state = f"bookmark {s['bookmark']}, {s['delivered']:,} delivered"
    if s.get("attempts"):
        state += f", {s['attempts']} failed tries (next {s.get('nextAttemptAt')}): {s.get('lastError')}"
    elif s.get("lastError"):
        state += f": {s['lastError']}"
    return f"{s['subscriptionID']}\t{s['queryName']}\t{s['dest']}\t{mode}\t{s['owner']}\t{state}"


def cmd_subscribe(args) -> int:
    args.limit = 0
    query = build_query(args)
    schedule = parse_schedule(args.schedule) if args.schedule else None
    initial = 0.0 if args.from_start else (
        parse_time(args.initial_record_time, "--initial-record-time") if args.initial_record_time else None)
    with _local(args) as c:
        sub = c.subscribe(args.query, query, dest=args.dest, signature_token=args.token, stream=args.stream,
                          schedule=schedule, report_if_empty=args.report_if_empty, initial_record_time=initial)
    print(json.dumps(sub, ensure_ascii=False, indent=2) if args.json else _subscription_line(sub))
    return 0


def cmd_subscriptions(args) -> int:
    with _local(args) as c:
        subs = c.subscriptions()
    if args.json:
        print(json.dumps(subs, ensure_ascii=False, indent=2))
    for s in subs if not args.json else ():
        print(_subscription_line(s))
    return 0


def cmd_unsubscribe(args) -> int:
    with _local(args) as c:
        c.unsubscribe(args.id)
    return 0


def cmd_rewind(args) -> int:
    with _local(args) as c:
        print(_subscription_line(c.rewind_subscription(args.id, args.bookmark)))
    return 0


def parse_time(text: str, option: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with its offset, or of a date (00:00 UTC).

    >>> parse_time("2024-01-01T08:00:00+08:00", "--since"), parse_time("2024-01-01", "--until")
    (1704067200.0, 1704067200.0)
    """
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise EpcisCliError(f"{option} {text!r} is not a time (2024-06-30T08:00:00+08:00) or a date "
                            "(2024-06-30)") from None
    if when.tzinfo is None:
        if len(text.strip()) > 10:
            raise EpcisCliError(f"{option} {text!r} needs its time-zone offset (Z or +08:00)")
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def build_query(args):
    """The store's EpcisQuery of the options."""
    from .store.port import EpcisQuery
    if args.epc and args.parent:
        raise EpcisCliError("give --epc or --parent, not both")
    fields = {"event_types": tuple(args.type or ()), "biz_steps": tuple(args.biz_step or ()),
              "dispositions": tuple(args.disposition or ())}
    if args.epc:
        fields.update(epcs=tuple(args.epc), epc_roles=())
    elif args.parent:
        fields.update(epcs=tuple(args.parent), epc_roles=("parent",))
    if args.since:
        fields["ge_event_time"] = parse_time(args.since, "--since")
    if args.until:
        fields["lt_event_time"] = parse_time(args.until, "--until")
    if args.since and args.until and fields["ge_event_time"] >= fields["lt_event_time"]:
        raise EpcisCliError("--since must be before --until")
    if args.limit < 0:
        raise EpcisCliError("--limit is a number of events >= 0 (0: all)")
    return EpcisQuery(**fields)


def _read(name: str, limit: int) -> bytes:
    if name == STDIN:
        raw = sys.stdin.buffer.read(limit + 1)
    else:
        with open(name, "rb") as f:
            raw = f.read(limit + 1)
    if len(raw) > limit:
        raise TracecodeError(f"{name}: over {limit:,} bytes; split the document")
    if not raw.strip():
        raise TracecodeError(f"{name}: empty; an EPCISDocument (JSON) is expected")
    return raw


def _local(args):
    from .app.local import LocalClient
    from .datadir import DataDir
    return LocalClient(DataDir(args.dir))


def _backend(args, positional: str | None = None):
    """The server (--server: tracecode.v1.Client) or DIR (LocalClient): the same verbs.
    With --server the first positional is the verb's (`positional`), not DIR."""
    if getattr(args, "server", None):
        from .v1 import cli as remote
        if positional is not None:
            given = [v for v in (args.dir, getattr(args, positional)) if v is not None]
            if len(given) != 1:
                raise remote.RemoteUsageError(f"with --server, give one {positional.upper()} (no DIR)")
            setattr(args, positional, given[0])
        elif args.dir is not None:
            raise remote.RemoteUsageError(f"give DIR or --server, not both (DIR was {args.dir!r})")
        return remote.client(args)
    if args.dir is None or (positional is not None and getattr(args, positional) is None):
        raise EpcisCliError("give DIR" + (f" and {positional.upper()}" if positional else "") + ", or --server")
    return _local(args)


def query_params(args) -> dict:
    """The REST binding's query parameters of `epcis query`'s options (one table:
    tracecode.app.epcis_params reads them, locally and on a server)."""
    params: dict = {}

    def add(name, values):
        if values:
            params.setdefault(name, []).extend(values)
    if args.epc and args.parent:
        raise EpcisCliError("give --epc or --parent, not both")
    if (args.epc or args.parent) and args.epc_class:
        raise EpcisCliError("give --epc-class alone, or --epc / --parent (one kind of EPC per query)")
    add("MATCH_anyEPC", args.epc)
    add("MATCH_parentID", args.parent)
    add("MATCH_anyEPCClass", args.epc_class)
    add("eventType", args.type)
    add("EQ_bizStep", args.biz_step)
    add("EQ_disposition", args.disposition)
    if args.since:
        add("GE_eventTime", [_iso(parse_time(args.since, "--since"))])
    if args.until:
        add("LT_eventTime", [_iso(parse_time(args.until, "--until"))])
    if args.order_by:
        add("orderBy", [args.order_by])
        add("orderDirection", ["ASC" if args.asc else "DESC"])
    elif args.asc:
        raise EpcisCliError("--asc goes with --order-by")
    for pair in args.param or ():
        name, eq, value = pair.partition("=")
        if not eq or not name.strip():
            raise EpcisCliError(f"--param {pair!r}: give NAME=VALUE (EQ_bizTransaction_po=urn:...)")
        if name.strip() in ("perPage", "nextPageToken"):
            raise EpcisCliError(f"--param {name.strip()}: pages are read for you (--limit N)")
        add(name.strip(), [value])
    if args.limit < 0:
        raise EpcisCliError("--limit is a number of events >= 0 (0: all)")
    return params


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def cmd_capture(args) -> int:
    from .epcis.document import MAX_DOCUMENT_BYTES
    with _backend(args, "file") as c:
        body = _read(args.file, MAX_DOCUMENT_BYTES)
        kind = "application/xml" if body.lstrip()[:1] == b"<" else "application/ld+json"
        job = c.capture(body, kind, behaviour="proceed" if args.proceed else "rollback")
    if args.json:
        print(json.dumps(job, ensure_ascii=False, indent=2))
    else:
        print_job(job)
    return 0 if job.get("state") == "success" else 1


def print_job(job: dict, out=None) -> None:
    """A capture job (tracecode.app.epcis) for a person: one line of counts, then one line
    per error: where (the JSON pointer), what, which event.

    >>> print_job({"id": "j1", "state": "failure", "behaviour": "proceed", "errors_total": 1,
    ...            "counts": {"events": 2, "stored": 1, "already_stored": 0, "applied": 1, "failed": 1},
    ...            "errors": [{"pointer": "/epcisBody/eventList/1/epcList/0", "event_id": None,
    ...                        "reason": "invalid_event", "error": "not an EPC URI"}]})
    capture job j1 (proceed): failure: 2 events, 1 stored, 0 already stored, 1 applied, 1 failed
      /epcisBody/eventList/1/epcList/0: not an EPC URI [invalid_event]
    """
    out = out or sys.stdout
    counts = job.get("counts") or {}
    parts = ", ".join(f"{counts[k]:,} {k.replace('_', ' ')}" for k in counts)
    print(f"capture job {job.get('id')} ({job.get('behaviour')}): {job.get('state')}"
          + (f": {parts}" if parts else ""), file=out)
    errors = job.get("errors") or ()
    for e in errors:
        event = f" (event {e['event_id']})" if e.get("event_id") else ""
        print(f"  {e.get('pointer') or '/'}: {e.get('error')} [{e.get('reason')}]{event}", file=out)
    more = job.get("errors_total", len(errors)) - len(errors)
    if more > 0:
        print(f"  ... and {more:,} more errors", file=out)
    for f in job.get("flagged") or ():   # stored, but a check flagged it (rare earth: mass balance, quota)
        print(f"  flagged {f.get('pointer') or '/'}: {f.get('check')}: {f.get('detail')}", file=out)


def _summary(event: dict) -> str:
    return "\t".join(str(event.get(k) or "-") for k in ("eventTime", "type", "action", "bizStep", "eventID"))


def cmd_query(args) -> int:
    params = query_params(args)
    found: list = []
    with _backend(args) as c:
        token = None
        while True:
            want = PAGE if not args.limit else min(PAGE, args.limit - len(found))
            events, token = c.query_epcis(params, token, want)
            found += events
            if not args.json:
                for event in events:
                    print(_summary(event))
                found = found if args.limit else []
            if not token or (args.limit and len(found) >= args.limit):
                break
    if args.json:
        from .epcis.export import document
        print(json.dumps(document(found), ensure_ascii=False))
    return 0
