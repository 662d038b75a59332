"""The regulator's report: REPORT/report.md and report.html (markdown-it-py) with PNG plots
(matplotlib, no display): scans and suspicious verdicts by region and by day, flows
between regions, the top alerts with their evidence."""
from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path

SUSPICIOUS = frozenset({"UNKNOWN", "SUSPICIOUS", "RECALLED", "DESTROYED", "ALREADY_SOLD",
                        "NOT_COMMISSIONED", "EXPIRED"})
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}


def _plots(ov: dict, out: Path) -> list[tuple[str, str]]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    made = []

    def bars(rows, key, title, name, top=25):
        total, bad = defaultdict(int), defaultdict(int)
        for r in rows:
            total[r[key]] += r["scans"]
            if r["verdict"] in SUSPICIOUS:
                bad[r[key]] += r["scans"]
        keys = sorted(total) if key == "day" else sorted(total, key=lambda k: -total[k])[:top]
        if not keys:
            return
        fig, ax = plt.subplots(figsize=(10, 4))
        ax.bar(range(len(keys)), [total[k] for k in keys], label="scans")
        ax.bar(range(len(keys)), [bad[k] for k in keys], label="not genuine")
        step = max(1, len(keys) // 30)
        ax.set_xticks(range(0, len(keys), step), keys[::step], rotation=70, fontsize=7)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / name, dpi=90)
        plt.close(fig)
        made.append((title, name))

    bars(ov["by_region"], "region", "Scans and non-genuine verdicts by region", "by_region.png")
    bars(ov["by_day"], "day", "Scans and non-genuine verdicts by day (UTC)", "by_day.png")
    flows = sorted(ov["flows"], key=lambda r: -r["codes"])[:20]
    if flows:
        fig, ax = plt.subplots(figsize=(10, 5))
        labels = [f"{r['source_region']} → {r['destination_region']}" for r in flows]
        ax.barh(range(len(flows)), [r["codes"] for r in flows])
        ax.set_yticks(range(len(flows)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title("Codes shipped between regions (top 20 flows)")
        fig.tight_layout()
        fig.savefig(out / "flows.png", dpi=90)
        plt.close(fig)
        made.append(("Flows between regions", "flows.png"))
    return made


def markdown(alerts: list, ov: dict, plots: list, meta: dict, top: int = 50) -> str:
    counts = defaultdict(int)
    for a in alerts:
        counts[(a["rule"], a["severity"])] += 1
    lines = ["# Trace analytics report", "",
             f"Data: `{meta['source']}`; engine {meta['engine']}; rules {', '.join(meta['rules'])}"
             + (f"; scans since {meta['since']}" if meta.get("since") else "")
             + ("; failed: " + "; ".join(f"{k} ({v})" for k, v in meta["failed"].items())
                if meta.get("failed") else "") + ".", "",
             f"Scans: {sum(r['scans'] for r in ov['by_day']):,}. Alerts: {len(alerts):,} "
             f"({meta.get('new', 0):,} new in this run).", "",
             "| rule | severity | alerts |", "| --- | --- | --- |"]
    lines += [f"| {r} | {s} | {n:,} |" for (r, s), n in sorted(counts.items())]
    for title, name in plots:
        lines += ["", f"## {title}", "", f"![{title}]({name})"]
    lines += ["", f"## Top alerts (at most {top})", "",
              "| rule | severity | subject | region | first | last | evidence |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    ranked = sorted(alerts, key=lambda a: (SEVERITY_ORDER.get(a["severity"], 9), a["rule"],
                                           a["last_time"] or "", a["id"]))
    for a in ranked[:top]:
        ev = json.dumps(a["evidence"], ensure_ascii=False, sort_keys=True).replace("|", "\\|")
        lines.append(f"| {a['rule']} | {a['severity']} | `{a['subject']}` | {a['region'] or '-'} "
                     f"| {a['first_time']} | {a['last_time']} | `{ev}` |")
    lines += ["", "## Flows between regions (codes)", "", "| from | to | codes |", "| --- | --- | --- |"]
    lines += [f"| {r['source_region']} | {r['destination_region']} | {r['codes']:,} |"
              for r in sorted(ov["flows"], key=lambda r: -r["codes"])[:30]]
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
