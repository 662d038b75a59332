"""The regulator's report: REPORT/report.md and report.html (markdown-it-py) with PNG plots
(matplotlib, no display): scans and suspicious verdicts by region and by day, flows
between regions, the top alerts with their evidence."""
from __future__ import annotations

import html
import json
import threading
from collections import defaultdict
from pathlib import Path

SUSPICIOUS = frozenset({"UNKNOWN", "SUSPICIOUS", "RECALLED", "DESTROYED", "ALREADY_SOLD",
                        "NOT_COMMISSIONED", "EXPIRED"})
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}
_PLOT_LOCK = threading.Lock()


# the report's figures, (file name, title); the regulator's page (web/regulator.py) serves
# the same ones, from the same functions
FIGURES = (("by_region.png", "Scans and non-genuine verdicts by region"),
           ("by_day.png", "Scans and non-genuine verdicts by day (UTC)"),
           ("flows.png", "Flows between regions"))


def _bars(plt, rows, key: str, title: str, top: int = 25):
    total, bad = defaultdict(int), defaultdict(int)
    for r in rows:
        total[r[key]] += r["scans"]
        if r["verdict"] in SUSPICIOUS:
            bad[r[key]] += r["scans"]
    keys = sorted(total) if key == "day" else sorted(total, key=lambda k: -total[k])[:top]
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.bar(range(len(keys)), [total[k] for k in keys], label="scans")
    ax.bar(range(len(keys)), [bad[k] for k in keys], label="not genuine")
    step = max(1, len(keys) // 30)
    ax.set_xticks(range(0, len(keys), step), keys[::step], rotation=70, fontsize=7)
    ax.set_title(title)
    ax.legend()
    return fig


def _flows(plt, rows):
    flows = top_flows(rows, 20)
    if not flows:
        return None
    fig, ax = plt.subplots(figsize=(10, 5))
    labels = [f"{r['source_region']} → {r['destination_region']}" for r in flows]
    ax.barh(range(len(flows)), [r["codes"] for r in flows])
    ax.set_yticks(range(len(flows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_title("Codes shipped between regions (top 20 flows)")
    return fig


def figure_png(ov: dict, name: str) -> bytes | None:
    """One of FIGURES as PNG bytes (matplotlib, no display); None when it has no data."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    title = dict(FIGURES)[name]
    with _PLOT_LOCK:   # pyplot's figure registry is global: one figure drawn at a time
        if name == "by_region.png":
            fig = _bars(plt, ov["by_region"], "region", title)
        elif name == "by_day.png":
            fig = _bars(plt, ov["by_day"], "day", title)
        else:
            fig = _flows(plt, ov["flows"])
        if fig is None:
            return None
        try:
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=90)
        finally:
            plt.close(fig)
    return buf.getvalue()


def _plots(ov: dict, out: Path) -> list[tuple[str, str]]:
    made = []
    for name, title in FIGURES:
        png = figure_png(ov, name)
        if png is not None:
            (out / name).write_bytes(png)
            made.append((title, name))
    return made


def top_flows(rows: list, n: int) -> list:
    return sorted(rows, key=lambda r: -r["codes"])[:n]


def ranked(alerts: list) -> list:
    """Alerts most severe first (then rule, latest, id): the report's and the page's order."""
    return sorted(alerts, key=lambda a: (SEVERITY_ORDER.get(a["severity"], 9), a["rule"],
                                         a["last_time"] or "", a["id"]))


def evidence_text(alert: dict) -> str:
    return json.dumps(alert["evidence"], ensure_ascii=False, sort_keys=True)


def counts(alerts: list) -> list[tuple[str, str, int]]:
    """(rule, severity, alerts) sorted."""
    n = defaultdict(int)
    for a in alerts:
        n[(a["rule"], a["severity"])] += 1
    return [(r, s, c) for (r, s), c in sorted(n.items())]


def markdown(alerts: list, ov: dict, plots: list, meta: dict, top: int = 50) -> str:
    lines = ["# Trace analytics report", "",
             f"Data: `{meta['source']}`; engine {meta['engine']}; rules {', '.join(meta['rules'])}"
             + (f"; scans since {meta['since']}" if meta.get("since") else "")
             + ("; failed: " + "; ".join(f"{k} ({v})" for k, v in meta["failed"].items())
                if meta.get("failed") else "") + ".", "",
             f"Scans: {sum(r['scans'] for r in ov['by_day']):,}. Alerts: {len(alerts):,} "
             f"({meta.get('new', 0):,} new in this run).", "",
             "| rule | severity | alerts |", "| --- | --- | --- |"]
    lines += [f"| {r} | {s} | {n:,} |" for r, s, n in counts(alerts)]
    for title, name in plots:
        lines += ["", f"## {title}", "", f"![{title}]({name})"]
    lines += ["", f"## Top alerts (at most {top})", "",
              "| rule | severity | subject | region | first | last | evidence |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for a in ranked(alerts)[:top]:
        ev = evidence_text(a).replace("|", "\\|")
        lines.append(f"| {a['rule']} | {a['severity']} | `{a['subject']}` | {a['region'] or '-'} "
                     f"| {a['first_time']} | {a['last_time']} | `{ev}` |")
    lines += ["", "## Flows between regions (codes)", "", "| from | to | codes |", "| --- | --- | --- |"]
    lines += [f"| {r['source_region']} | {r['destination_region']} | {r['codes']:,} |"
              for r in top_flows(ov["flows"], 30)]
    return "\n".join(lines) + "\n"


def write(out, alerts: list, ov: dict, meta: dict) -> Path:
    """REPORT/report.md, report.html and the PNGs; the folder."""
    from markdown_it import MarkdownIt
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(ov, out)
    md = markdown(alerts, ov, plots, meta)
    (out / "report.md").write_text(md, encoding="utf-8")
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md)
    (out / "report.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Trace analytics report</title>"
        "<style>body{font-family:sans-serif;max-width:80em;margin:auto}table{border-collapse:"
        "collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:85%}</style></head><body>"
        + body + f"<!-- {html.escape(meta['engine'])} --></body></html>\n", encoding="utf-8")
    return out


def region_prefix(region: str) -> str:
    """A GB/T 2260 code as the prefix of the codes inside it: a province (xx0000) its two
    digits, a prefecture (xxxx00) its four, a county itself."""
    if region.endswith("0000"):
        return region[:2]
    return region[:4] if region.endswith("00") else region


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def filtered_overview(root, *, since=None, region: str | None = None,
                      schemes: list | None = None) -> dict:
    """The report's overview tables (run.overview) over the export at root, narrowed to
    scans from since on (a datetime; events too), in a region (and the regions inside it:
    scans by their region, flows from or to it) and of the given schemes (events: of the
    codes of those schemes). DuckDB; AnalyticsError when the export cannot be read."""
    from .engines.duckdb_engine import DuckDBEngine
    from .run import overview
    engine = DuckDBEngine(root, since=since)
    try:
        scans, events = [], []
        if since is not None:
            events.append(f"time >= TIMESTAMPTZ {_lit(since.isoformat())}")
        if region:
            pre = _lit(region_prefix(region))
            scans.append(f"starts_with(region, {pre})")
            events.append(f"(starts_with(source_region, {pre}) OR starts_with(destination_region, {pre}))")
        if schemes is not None:
            names = ", ".join(_lit(n) for n in schemes) or "NULL"
            scans.append(f"scheme IN ({names})")
            events.append(f"code IN (SELECT code FROM codes WHERE scheme IN ({names}))")
        for view, where in (("scans", scans), ("events", events)):
            if where:   # renamed and narrowed under its own name: overview's SQL is unchanged
                engine.con.execute(f"ALTER VIEW {view} RENAME TO {view}_all")
                engine.con.execute(f"CREATE VIEW {view} AS SELECT * FROM {view}_all WHERE "
                                   + " AND ".join(where))
        return overview(engine)
    finally:
        engine.close()
