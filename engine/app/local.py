"""The local back end: the verbs and arguments of tracecode.v1.Client, over a Service on
a data directory with the operator as its Caller. The command line has one code path per
verb and hands it either this or a Client (--server).

    with LocalClient(tracecode.open("data")) as c:      # or tracecode.v1.Client(address)
        dl = c.request_codes("cn-drug-20", {"drug_id": "8177322"}, 1000)
        dl.write("codes.txt")
        c.verify_many(scans, answers=True)
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from .caller import OPERATOR
from .service import Service


class LocalDownload:
    """The codes of a batch issued here: ``batch`` (its record), ``write``, iteration."""

    def __init__(self, issuer, batch, render: str, attributes: dict):
        self.issuer, self.batch, self.render, self.attributes = issuer, batch, render, attributes

    def write(self, out, newline: bytes = b"\n", progress=None) -> int:
        """Write the codes one per line to a path or a binary file; returns the count."""
        if isinstance(out, (str, Path)):
            with open(out, "wb") as f:
                return self.write(f, newline, progress)
        self.issuer.write(out, self.batch.start, self.batch.count, self.render, self.attributes,
                          progress=progress)
        return self.batch.count

    def __iter__(self):
        yield self.issuer.codes(self.batch.start, self.batch.count, self.render, self.attributes)


class LocalClient:
    """tracecode.v1.Client's verbs on a DataDir (closed with it when `own` is True)."""

    def __init__(self, datadir, *, own: bool = True):
        self.dd = datadir
        self.svc = Service(datadir)
        self.caller = OPERATOR
        self._own = own

    def close(self) -> None:
        self.svc.close()
        if self._own:
            self.dd.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- issuance ----------------------------------------------------------------------------
    def issue(self, scheme: str, product: dict, count: int, *, lot=None, expiry=None, line=None,
              attributes=None, idempotency_key: str | None = None, requester=None):
        """Reserve a batch; returns its BatchRecord."""
        return self.svc.issue(self.caller, scheme, product, count, idempotency_key=idempotency_key,
                              lot=lot, expiry=expiry, line=line, attributes=attributes,
                              requester=requester)[0]

    def request_codes(self, scheme: str, product: dict, count: int, *, render: str = "bare",
                      chunk_codes: int = 0, **batch_options) -> LocalDownload:
        """Reserve a batch and hand its codes (``.batch`` is the record). A render or an
        attribute the scheme refuses is refused before anything is reserved."""
        found = self.svc.scheme(scheme)
        product = found.product_values(dict(product))
        attributes = dict(batch_options.get("attributes") or {})
        iss = self.dd.issuer(found.name, product)
        iss.layout(render, attributes)
        batch = self.issue(found.name, product, count, **batch_options)
        iss = self.dd.issuer(found.name, product, batch.key_version)   # a rotation in between
        return LocalDownload(iss, batch, render, attributes)

    # -- verification --------------------------------------------------------------------------
    def verify(self, scan, *, scanner=None, place=None, time=None, record: bool = True,
               region=None, lat=None, lon=None):
        return self.svc.verify(self.caller, scan, scanner=scanner, place=place, time=time,
                               record=record, region=region, lat=lat, lon=lon)

    def verify_many(self, scans, offsets=None, *, scanner=None, place=None, time=None,
                    record: bool = True, answers: bool = False, region=None, lat=None, lon=None):
        """Verdicts on many scans (iterate for Answers; ``records``, ``verdicts``)."""
        return self.svc.verify_many(self.caller, scans, offsets, scanner=scanner, place=place,
                                    time=time, record=record, region=region, lat=lat, lon=lon)

    def check(self, scan, *, scanner=None, place=None, time=None, record: bool = True,
              region=None, lat=None, lon=None):
        return self.svc.check(self.caller, scan, scanner=scanner, place=place, time=time,
                              record=record, region=region, lat=lat, lon=lon)[0]

    def check_many(self, scans, offsets=None, *, scanner=None, place=None, time=None,
                   record: bool = True, answers: bool = False, region=None, lat=None, lon=None):
        return self.svc.check_many(self.caller, scans, offsets, scanner=scanner, place=place,
                                   time=time, record=record, region=region, lat=lat, lon=lon)

    def lookup_approval(self, number: str, date=None):
        return self.svc.lookup_approval(self.caller, number, date)

    # -- lifecycle -------------------------------------------------------------------------------
    def apply_events(self, events, *, atomic: bool = False) -> list:
        return self.svc.apply_events(self.caller, list(events), atomic=atomic)

    def history(self, code: str, limit: int = 0) -> list:
        return self.svc.history(self.caller, code, limit)[0]

    # -- EPCIS (app/epcis.py; the gRPC service has no EPCIS verbs yet) ----------------------------
    def capture(self, body: bytes, content_type: str = "application/ld+json", *,
                behaviour: str = "rollback", wait: bool = True) -> dict:
        """Capture an EPCIS document; the capture job (complete when this returns: a local
        capture always waits)."""
        return self.svc.capture(self.caller, body, content_type, behaviour=behaviour)

    def capture_jobs(self, page_token: str | None = None, per_page: int = 30) -> tuple:
        return self.svc.capture_jobs(self.caller, page_token, per_page)

    def query_epcis(self, params: dict, page_token: str | None = None, per_page: int = 30) -> tuple:
        """(events, next page token) of the EPCIS binding's query parameters."""
        params = {**params, "perPage": str(per_page), **({"nextPageToken": page_token} if page_token else {})}
        return self.svc.query_epcis(self.caller, params)

    def epcis_event(self, event_id: str) -> list:
        return self.svc.epcis_event(self.caller, event_id)

    def history_epcis(self, code: str) -> dict:
        return self.svc.history_epcis(self.caller, code)

    def define_query(self, name: str, params: dict) -> dict:
        return self.svc.define_query(self.caller, name, params)

    def named_query(self, name: str) -> dict:
        return self.svc.named_query(self.caller, name)

    def named_queries(self, page_token: str | None = None, per_page: int = 30) -> tuple:
        return self.svc.named_queries(self.caller, page_token, per_page)

    def delete_query(self, name: str) -> None:
        self.svc.delete_query(self.caller, name)

    def run_query(self, name: str, page_token: str | None = None, per_page: int = 30) -> tuple:
        return self.svc.run_query(self.caller, name, page_token, per_page)

    def capture_job(self, job_id: str) -> dict:
        return self.svc.capture_job(self.caller, job_id)

    def subscribe(self, query_name: str, query, *, dest: str, signature_token: str | None = None,
                  stream: bool = False, schedule: dict | None = None, report_if_empty: bool = False,
                  initial_record_time: float | None = None) -> dict:
        """Subscribe a webhook to an EpcisQuery's events (tracecode serve delivers them)."""
        return self.svc.subscribe(self.caller, query_name, query, dest=dest, signature_token=signature_token,
                                  stream=stream, schedule=schedule, report_if_empty=report_if_empty,
                                  initial_record_time=initial_record_time)

    def subscriptions(self, query_name: str | None = None) -> list:
        return self.svc.subscriptions(self.caller, query_name)

    def unsubscribe(self, sub_id: str) -> None:
        self.svc.unsubscribe(self.caller, sub_id)

    def rewind_subscription(self, sub_id: str, bookmark: int) -> dict:
        return self.svc.rewind_subscription(self.caller, sub_id, bookmark)

    def query_events(self, query, page_token: str | None = None, per_page: int = 100) -> tuple:
        """(a page of EPCIS events matching an EpcisQuery, the next page's token or None)."""
        return self.svc.query_events(self.caller, query, page_token, per_page)

    # -- the analytics' alerts (app/alertsapp.py; gRPC: bindings/analytics_verbs.py) ------------
    def alerts_page(self, *, rule: str | None = None, code: str | None = None, open_only: bool = False,
                    limit: int = 100, page_token: str | None = None) -> tuple:
        """(a page of alerts, newest last_time first; the next page's token or None)."""
        from .alertsapp import page_alerts
        return page_alerts(self.svc, self.caller, rule=rule, code=code, open_only=open_only, limit=limit,
                           page_token=page_token, method="alerts")

    def close_alert(self, alert_id: str, note: str = "") -> dict:
        from .alertsapp import close_alert
        return close_alert(self.svc, self.caller, alert_id, note, method="alerts --close")

    # -- administration -----------------------------------------------------------------------
    def schemes(self) -> list:
        return self.svc.list_schemes(self.caller)

    def batches(self, scheme: str | None = None) -> list:
        out, after = [], 0
        while True:
            page, more = self.svc.list_batches(self.caller, after_id=after, scheme=scheme)
            out += page
            if not more:
                return out
            after = page[-1].id

    def stats(self) -> dict:
        return self.svc.stats(self.caller)

    def whoami(self, *, retry: bool = True):
        """As Admin.WhoAmI answers (attributes: name, roles, registry...)."""
        return SimpleNamespace(**self.svc.whoami(self.caller))

    # -- the links of products -------------------------------------------------------------------
    def link_key(self, key: str) -> str:
        """A link key's canonical form (refused if malformed)."""
        return self.svc.link_key(key)

    def links(self, key: str) -> list:
        return self.svc.links(self.caller, key)

    def set_links(self, key: str, links) -> list:
        """Replace a key's links (Link objects or dicts; [] removes them); the links as stored."""
        return self.svc.set_links(self.caller, key, links)
