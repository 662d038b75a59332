"""The capacity report: one list of blocks rendered as Markdown, HTML and a terminal summary,
next to the JSON of everything (workload, plan, measurements, machine) for machines."""
from __future__ import annotations

import html
import json
from pathlib import Path

from .workload import BY_NAME


def size(n: float) -> str:
    """Bytes in decimal units: 1.5 TB, 820 MB."""
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:,.3g} {unit}" if n / scale < 100 else f"{n / scale:,.0f} {unit}"
    return f"{n:,.0f} B"


def number(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def rate(r: float) -> str:
    return f"{r / 1e6:,.2f} M/s" if r >= 1e6 else f"{r / 1e3:,.1f} k/s"


def answer_rows(result: dict, key: str = "plan") -> list:
    p, w = result[key], result["workload"]
    reps = w["replicas"]
    return [["machines", f"{p['machines_per_replica']:,}", f"{p['machines']:,}",
             f"set by {p['limited_by']}"],
            ["cores", f"{p['cores']:,}", f"{p['cores'] * reps:,}",
             f"{w['machine_cores']} per machine"],
            ["memory", size(p["memory_bytes"]), size(p["memory_bytes"] * reps),
             f"{w['machine_memory_gb']:,.0f} GB per machine"],
            ["disk", size(p["disk_bytes"]), size(p["disk_bytes"] * reps),
             f"{w['machine_disk_tb']:,.2f} TB per machine, after {w['retention_years']:g} years"],
            ["index shards", f"{p['shards']:,}", "", "one LMDB writer each"] if key == "plan" else
            ["shards", f"{max(p['shards'], p['machines_per_replica']):,}", "",
             f"by product, one machine of each replica; the primaries' commits need {p['shards']:,}"]]


def stage_rows(result: dict, key: str = "plan") -> list:
    return [[s["name"], s["load"], f"{s['cores']:,.2f}" if s["cores"] else "-",
             f"{s['writer']:,.2f}" if s["writer"] else "-", s["bottleneck"]]
            for s in result[key]["stages"]]


def postgres_blocks(result: dict) -> list:
    """The plan on the PostgreSQL store (a cluster plan), from the benches' ratios, and the
    layout it writes."""
    from . import layout
    pg = result["measurements"].get("postgres")
    key = "postgres_plan" if "postgres_plan" in result else "plan"
    shape = layout.shape(result[key], result["workload"])
    out = [("h", 2, "Cluster plan on the PostgreSQL store")]
    if not pg:
        out.append(("p", "No PostgreSQL figures (`--postgres-rates bench/results/rates.json` after "
                         "`pytest bench/test_bench_postgres.py`): the cluster layout below follows the "
                         "LMDB plan's machines."))
    else:
        out += [("p", f"This machine's LMDB rates times the PostgreSQL store's ratio to LMDB measured in "
                      f"one bench run (`{pg['file']}`); a recorded scan's cost in the verifying process is scaled as "
                      "verification is (the verify bench records its scans); the commits of recording and "
                      "events pay each shard's primary instead of LMDB's single writer, scaled as "
                      "commissioning is."),
                ("table", ["figure", "LMDB", "PostgreSQL", "ratio"],
                 [[f, rate(pg["rates"][f]["lmdb"]), rate(pg["rates"][f]["postgres"]), f"{x:.3g}x"]
                  for f, x in pg["ratios"].items()]),
                ("table", ["", "per replica", f"all {result['workload']['replicas']} replicas", "note"],
                 answer_rows(result, key)),
                ("table", ["stage", "load", "cores", "primary", "bottleneck"], stage_rows(result, key))]
    fo = result["measurements"].get("failover")
    out.append(("p", f"Failover (`{fo['file']}`): a shard's primary killed {fo['kills']} times, issuance "
                     f"resumed after a median {fo['median_s']:.1f} s, worst {fo['worst_s']:.1f} s: writes to "
                     "that shard wait that long (clients retry idempotently), so their retry deadlines "
                     "must exceed the worst." if fo else
                "Failover: not in these measurements (`--failover bench/results/failover.json` after "
                "`pytest bench/test_bench_failover.py`)."))
    out.append(("p", f"Cluster layout (the `-cluster` folder next to this report, to adapt): "
                     f"{shape['shards']} shards by product x {shape['replicas']} Patroni members "
                     f"= {shape['machines']} machines, etcd on 3 of them."))
    return out


def public_http_block(public: dict) -> tuple:
    """The public window's measured rates (`serve --http-only`, one worker), or why not."""
    if "page" not in public:
        return ("p", f"Not measured ({public.get('skipped', 'not in these measurements')}).")
    return ("table", ["query (one worker, recorded as a scan)", "per second", "p50", "p90", "p99"],
            [[name, rate(q["queries_per_s"]), *(f"{q[k] / 1e3:,.2f} ms" for k in ("p50_us", "p90_us", "p99_us"))]
             for name, q in ((f"page /c/{{code}}, {public['connections']} connections", public["page"]),
                             (f"JSON API /api/v1/codes/{{code}}, {public['connections']} connections",
                              public["api"]))])


def unary_rows(u: dict) -> list:
    """Unary gRPC Verify calls: per second from one caller, and per server core-second."""
    if "p50_us" not in u:
        return [["unary gRPC Verify", f"not measured ({u.get('skipped', 'not in these measurements')})",
                 "", "", "", ""]]
    per_core = f", {u['queries_per_core_s']:,.0f} per server core-second" if u.get("queries_per_core_s") else ""
    return [[f"unary gRPC Verify, one caller{per_core}", rate(u["queries_per_s"]),
             *(f"{u[k]:,.1f} µs" for k in ("p50_us", "p90_us", "p99_us", "max_us"))]]


def disk_years_block(plan: dict) -> tuple:
    """Each component's bytes per replica at the end of each retention year, no headroom."""
    years = plan.get("disk_by_year") or []
    if not years:
        return ("p", "Disk by year: not in this plan.")
    names = list(years[0]["by_component"])
    return ("table", ["end of year", *names, "total"],
            [[f"{y['year']:g}", *(size(y["by_component"][n]) for n in names), size(y["total"])]
             for y in years])


def sensitivity_block(plan: dict) -> tuple:
    """The plan at other mean-to-peak ratios of the scan rate (the scan log's size)."""
    rows = plan.get("sensitivity") or []
    if not rows:
        return ("p", "Sensitivity: not in this plan.")
    return ("table", ["mean / peak", "peak / mean", "scan log a year", "disk per replica",
                      "machines per replica", "machines", "set by"],
            [[f"{r['mean_to_peak']:g}" + (" (this workload)" if r["workload"] else ""),
              f"{r['peak_to_mean']:,.3g}" if r["peak_to_mean"] else "-", size(r["scan_log_per_year"]),
              size(r["disk_bytes"]), f"{r['machines_per_replica']:,}", f"{r['machines']:,}",
              r["limited_by"]] for r in rows])


WARNING = "**Warning:**"


def warning_blocks(result: dict) -> list:
    return [("p", f"{WARNING} {text}") for text in result.get("warnings", [])]


def blocks(result: dict, images: dict) -> list:
    """The report as ("h", level, text) / ("p", text) / ("table", header, rows) /
    ("list", items) / ("img", file name, caption) blocks."""
    m, ctx, w = result["measurements"], result["context"], result["workload"]
    grpc = m.get("grpc") or {}
    mach, v = ctx["machine"], m["verification"]
    sizes = m["sizes"]
    out = [("h", 1, "tracecode capacity plan"),
           ("p", f"Measured {ctx['date']} on {mach['cpu']} ({mach['cores']} cores, "
                 f"{size(mach['memory_bytes'])} memory) by `{ctx['command']}`"
                 + (f"; this plan reuses them: `{result['reused']['command']}`, {result['reused']['date']}."
                    if result.get("reused") else ".")),
           *warning_blocks(result),
           ("h", 2, "What the workload needs"),
           ("table", ["", "per replica", f"all {w['replicas']} replicas", "note"], answer_rows(result)),
           ("h", 2, "Stages and their bottlenecks"),
           ("p", "Load is in core-seconds per second (cores busy) before headroom; writer is the "
                 "share of the index's single LMDB writer."),
           ("table", ["stage", "load", "cores", "writer", "bottleneck"], stage_rows(result)),
           ("table", ["disk per replica per year", "bytes"],
            [[k, size(b)] for k, b in result["plan"]["disk_per_year"].items()]),
           ("h", 3, "Disk by component over the retention years"),
           ("p", "Per replica, at the end of each year, before headroom (the plan's disk adds "
                 f"{w['headroom']:g} on top)."),
           disk_years_block(result["plan"]),
           ("h", 3, "Sensitivity to the scan rate's peak-to-mean ratio"),
           ("p", "The scan log is sized at the day's mean scan rate (mean_to_peak x the peak, all day); "
                 "this is the plan at other ratios, everything else unchanged."),
           sensitivity_block(result["plan"]),
           *postgres_blocks(result),
           ("h", 2, "Workload"),
           ("table", ["field", "value", "meaning"],
            [[k, number(val), BY_NAME[k].help] for k, val in w.items()]),
           ("h", 2, "Assumptions"),
           ("list", result["plan"]["assumptions"]),
           ("h", 2, "Measurements on this machine"),
           ("p", "One core, in-process, in throw-away data directories "
                 f"(`{ctx['command']}`); throughputs are medians of a few rounds."),
           ("h", 3, "Throughput against batch size"),
           ("img", images["throughput"], "throughput against batch size"),
           ("table", ["path", "per call", "codes/s"],
            [[name, f"{p['batch']:,}", rate(p["codes_per_s"])]
             for name, pts in (("issuance", m["issuance"]), ("verify_many", v["batches"]),
                               ("verify_many, recorded", v["recorded"]),
                               ("commission", m["events"]["commission"]["rates"]),
                               ("pack", m["events"]["pack"]["rates"]),
                               ("ship", m["events"]["ship"]["rates"]))
             for p in pts]),
           ("h", 3, "Latency"),
           ("img", images["latency"], "verification latency CDF"),
           ("table", ["call", "per second", "p50", "p90", "p99", "max"],
            [[name, rate(s["codes_per_s"]) if "codes_per_s" in s else "-",
              *(f"{s[k]:,.1f} µs" for k in ("p50_us", "p90_us", "p99_us", "max_us"))]
             for name, s in (("verify()", v["single"]), ("verify(), recorded", v["single_recorded"]),
                             (f"verify_many of {v['batch_latency']['batch']:,}", v["batch_latency"]))
                             + ((f"gRPC stream of {grpc['batch']:,}", grpc),) * ("cdf" in grpc)]
            + unary_rows(m.get("grpc_unary") or {})),
           ("p", f"Verification data: {v['issued']:,} cn-drug-20 codes issued; of the codes scanned, half "
                 "commissioned. Codes in cases on pallets (3 levels) verify at "
                 f"{rate(m['events']['verify_packed']['codes_per_s'])} against "
                 f"{rate(m['events']['verify_packed']['loose_codes_per_s'])} for loose ones (same batch, "
                 "same index). Streamed gRPC verification (`tracecode serve`, one worker, loopback): "
                 + (f"{rate(grpc['codes_per_s'])} over one stream." if "codes_per_s" in grpc else
                    f"not measured ({grpc.get('skipped', 'not in these measurements')}).")),
           ("h", 3, "Public queries over HTTP"),
           public_http_block(m.get("public_http") or {}),
           ("h", 3, "Index size and verification against issued codes"),
           ("img", images["scale"], "index size and verification against issued codes"),
           ("table", ["issued codes", "batches", "index", "batch records per code", "verify_many",
                      "verify() p50", "p99"],
            [[f"{r['issued']:,}", f"{r['batches']:,}", size(r["index_bytes"]),
              f"{r['issuance_bytes_per_code']:.2g} B", rate(r["verify_codes_per_s"]),
              f"{r['p50_us']:,.1f} µs", f"{r['p99_us']:,.1f} µs"] for r in m["scale"]]),
           ("h", 3, "Index bytes per code (LMDB pages, B-tree overhead included)"),
           ("table", ["what", "read by verification", "history only"],
            [[f"{a} ({'one event per case of ' + str(m['events']['case_size']) if a == 'pack' else 'one event'})",
              f"{m['events'][a]['verdict_bytes_per_code']:,.1f} B",
              f"{m['events'][a]['history_bytes_per_code']:,.1f} B"] for a in ("commission", "pack", "ship")]
            + [["a code's first scan (its seen record)", f"{m['scan_storage']['seen_bytes_per_code']:,.1f} B", ""],
               ["a recorded scan (scan log)", "", f"{m['scan_storage']['scan_bytes']:,.1f} B"]]),
           ("h", 3, "Peak memory"),
           ("img", images["memory"], "peak memory against count"),
           ("p", "Each in its own process. Private is the process's own memory (sampled every 5 ms); "
                 "resident (VmHWM) also counts the index pages LMDB maps from the page cache, "
                 "which are shared and reclaimable and sized as the hot set above."),
           ("table", ["work", "count", "peak private", "peak resident", "seconds"],
            [["open the index only", "-", size(m["memory"]["idle"]["peak_private_bytes"]),
              size(m["memory"]["idle"]["peak_rss_bytes"]), "-"]]
            + [[kind, f"{r['count']:,}", size(r["peak_private_bytes"]), size(r["peak_rss_bytes"]),
                f"{r['seconds']:,.2f}"] for kind in ("issue", "verify") for r in m["memory"][kind]]),
           ("h", 2, "Machine and versions"),
           ("table", ["", ""],
            [["CPU", mach["cpu"]], ["cores", f"{mach['cores']} ({mach['usable_cores']} usable)"],
             ["memory", size(mach["memory_bytes"])], ["disk", size(mach["disk_bytes"])],
             ["OS", mach["os"]], ["date", ctx["date"]], ["command", f"`{ctx['command']}`"]]
            + [[k, val] for k, val in ctx["versions"].items()]),
           ("p", f"Measurement sizes: {json.dumps(sizes)}")]
    return out


def markdown(bl: list) -> str:
    lines = []
    for b in bl:
        if b[0] == "h":
            lines += ["#" * b[1] + " " + b[2], ""]
        elif b[0] == "p":
            lines += [b[1], ""]
        elif b[0] == "list":
            lines += [f"- {item}" for item in b[1]] + [""]
        elif b[0] == "img":
            lines += [f"![{b[2]}]({b[1]})", ""]
        else:
            head, rows = b[1], b[2]
            lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


def _inline(text: str) -> str:
    """HTML of a text whose `backticks` mark code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


CSS = ("body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}"
       "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
       "text-align:left;vertical-align:top}th{background:#f3f3f3}img{max-width:100%}"
       "code{background:#f3f3f3;padding:0 .2em}")


def to_html(bl: list) -> str:
    body = []
    for b in bl:
        if b[0] == "h":
            body.append(f"<h{b[1]}>{_inline(b[2])}</h{b[1]}>")
        elif b[0] == "p" and b[1].startswith(WARNING):
            body.append(f'<p style="border-left:4px solid #c00;padding-left:.5em"><strong>Warning:</strong>'
                        f'{_inline(b[1][len(WARNING):])}</p>')
        elif b[0] == "p":
            body.append(f"<p>{_inline(b[1])}</p>")
        elif b[0] == "list":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b[1]) + "</ul>")
        elif b[0] == "img":
            src = html.escape(b[1])
            body.append(f'<p><a href="{src}"><img src="{src}" alt="{html.escape(b[2])}"></a></p>')
        else:
            head = "".join(f"<th>{_inline(h)}</th>" for h in b[1])
            rows = "".join("<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>"
                           for row in b[2])
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tracecode capacity plan</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def summary(result: dict) -> str:
    """The answer for a terminal: needs, stages, and where the report is."""
    rows = answer_rows(result)
    lines = [f"{'':14}{'per replica':>14}{'all replicas':>15}  note"]
    lines += [f"{r[0]:14}{r[1]:>14}{r[2]:>15}  {r[3]}" for r in rows]
    lines += ["", "stage                cores  writer  bottleneck"]
    lines += [f"{s[0]:20}{s[2]:>6}{s[3]:>8}  {s[4]}" for s in stage_rows(result)]
    if "postgres_plan" in result:
        lines += ["", "on the PostgreSQL store (the benches' ratios to LMDB):"]
        lines += [f"{r[0]:14}{r[1]:>14}{r[2]:>15}  {r[3]}" for r in answer_rows(result, "postgres_plan")]
    return "\n".join(lines)


def write(result: dict, out: Path, stem: str) -> dict:
    """The JSON, Markdown and HTML reports and their PNG plots in `out`; their paths."""
    from . import plots
    out.mkdir(parents=True, exist_ok=True)
    pngs = plots.draw(result["measurements"], out, stem)
    bl = blocks(result, {k: p.name for k, p in pngs.items()})
    paths = {"json": out / f"{stem}.json", "markdown": out / f"{stem}.md", "html": out / f"{stem}.html"}
    paths["json"].write_text(json.dumps(result, indent=1, ensure_ascii=False))
    paths["markdown"].write_text(markdown(bl))
    paths["html"].write_text(to_html(bl))
    return {**paths, **pngs}
