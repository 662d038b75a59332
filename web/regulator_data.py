"""What the regulator's page shows, read once per export generation: the overview tables of
the last Parquet export (DuckDB, engine/analytics/report.filtered_overview) and its figures
as PNG (report.figure_png, the report's own), cached by (generation, filters); the alerts
come from the store port (app/alertsapp.find_alerts), as `tracecode analyze` stored them.
No rule runs here: the page reads what the analysis left.

The export read is DIR/analytics-export, where `tracecode analyze DIR` exports by default
(an analysis run with --parquet elsewhere: its alerts are shown, its overview is not).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from tracecode.analytics import report
from tracecode.analytics.layout import SCHEMAS, parts
from tracecode.cache import BoundedCache

EXPORT_DIR = "analytics-export"      # engine/analyze_cli.py's default export folder
STATE_FILE = "_export.json"          # written last by each export run (analytics/export.py)
MAX_ENTRIES = 32                     # (generation, filters) kept: each a few tables and PNGs


@dataclass
class Export:
    """The export folder as it is now: its generation (None: no export yet) and its time."""
    root: Path
    generation: str | None
    exported_at: str | None


@dataclass
class Entry:
    overview: dict
    pngs: dict = field(default_factory=dict)   # figure name -> bytes (None: no data)
    lock: threading.Lock = field(default_factory=threading.Lock)


def export_of(dd) -> Export:
    """The export's generation: the state file's stamp (each run rewrites it last), else
    (a folder written by other means, e.g. analytics.synth) its parts' count and newest
    time; a run that adds parts is a new generation either way."""
    root = Path(dd.path) / EXPORT_DIR
    state = root / STATE_FILE
    try:
        st = state.stat()
    except OSError:
        st = None
    if st is not None:
        try:
            when = json.loads(state.read_text(encoding="utf-8")).get("exported_at")
        except (OSError, ValueError):
            when = None
        when = when or _iso(st.st_mtime)
        return Export(root, f"s{st.st_mtime_ns:x}-{st.st_size:x}", str(when))
    files = [p for table in SCHEMAS for p in parts(root, table)]
    if not files:
        return Export(root, None, None)
    newest = max(p.stat().st_mtime_ns for p in files)
    return Export(root, f"p{newest:x}-{len(files):x}", _iso(newest / 1e9))


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class PageData:
    """The overview and figures per (generation, filters), bounded; one computation per key
    (concurrent requests for it wait for the first)."""

    def __init__(self, size: int = MAX_ENTRIES):
        self._cache = BoundedCache(size)
        self._locks = BoundedCache(size * 4)
        self._guard = threading.Lock()

    def entry(self, export: Export, since=None, region=None, schemes=None) -> Entry:
        key = (export.generation, since, region, tuple(schemes) if schemes is not None else None)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
        with lock:
            hit = self._cache.get(key)
            if hit is None:
                ov = report.filtered_overview(export.root, since=since, region=region, schemes=schemes)
                hit = self._cache[key] = Entry(ov)
        return hit

    @staticmethod
    def png(entry: Entry, name: str) -> bytes | None:
        with entry.lock:
            if name not in entry.pngs:
                entry.pngs[name] = report.figure_png(entry.overview, name)
            return entry.pngs[name]


def totals(ov: dict) -> tuple[int, int]:
    """(scans, non-genuine scans) of an overview."""
    scans = sum(r["scans"] for r in ov["by_day"])
    bad = sum(r["scans"] for r in ov["by_day"] if r["verdict"] in report.SUSPICIOUS)
    return scans, bad


def by_key(rows: list, key: str, top: int | None = None) -> list[tuple[str, int, int]]:
    """(key, scans, non-genuine) per value of key, most scans first (days in order)."""
    total: dict = {}
    bad: dict = {}
    for r in rows:
        total[r[key]] = total.get(r[key], 0) + r["scans"]
        if r["verdict"] in report.SUSPICIOUS:
            bad[r[key]] = bad.get(r[key], 0) + r["scans"]
    keys = sorted(total) if key == "day" else sorted(total, key=lambda k: (-total[k], k))
    return [(k, total[k], bad.get(k, 0)) for k in keys[:top]]


ALERT_PAGES = 10   # pages of alertsapp.MAX_ALERTS one page view reads, at most (10,000 alerts)


def read_alerts(svc, caller, *, rule=None, open_only=True, since=None, region=None, products=None,
                method="HTTP RegulatorPage") -> tuple[list, bool]:
    """(the alerts matching every filter, newest first; whether more remain past ALERT_PAGES
    pages): each filter applied by the store (alertsapp.page_alerts -> alerts_find), before
    its newest-first bound, so an older alert of a region is not lost behind newer ones."""
    from tracecode.app.alertsapp import MAX_ALERTS, page_alerts
    pre = report.region_prefix(region) if region else None
    day = since.strftime("%Y-%m-%d") if since is not None else None
    out: list = []
    token = None
    for _ in range(ALERT_PAGES):
        got, token = page_alerts(svc, caller, rule=rule, open_only=open_only, limit=MAX_ALERTS,
                                 page_token=token, method=method, region=pre, since=day,
                                 products=None if products is None else sorted(products))
        out += got
        if token is None:
            break
    return out, token is not None


class CategoryProducts:
    """scheme -> the product texts (analytics.codes.product_text, as the export and the alerts
    name products) of every product issued under it, from the store's batch records: read
    once, then only the batches issued since. The category filter of the alerts needs no
    export."""

    def __init__(self):
        self._after = 0
        self._by_scheme: dict = {}
        self._lock = threading.Lock()

    def of(self, store, schemes) -> set:
        from tracecode.analytics.codes import product_text
        with self._lock:
            for b in store.batches_after(self._after):
                text = product_text(b.product)
                if text is not None:
                    self._by_scheme.setdefault(b.scheme, set()).add(text)
                self._after = max(self._after, b.id)
            return set().union(*(self._by_scheme.get(s, ()) for s in schemes))
