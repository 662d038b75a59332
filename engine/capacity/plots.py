"""The report's plots: PNG files drawn with matplotlib's object API on the Agg canvas
(no pyplot, no display, no global state)."""
from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _figure(cols: int = 1):
    fig = Figure(figsize=(6.4 * cols, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, cols)


def _curve(ax, points, label, **kw):
    pts = sorted((p["batch"], p["codes_per_s"]) for p in points)
    ax.plot([b for b, _ in pts], [r for _, r in pts], marker="o", label=label, **kw)


def throughput(m: dict, path: Path) -> Path:
    fig, ax = _figure()
    _curve(ax, m["issuance"], "issuance (reserve + render)")
    _curve(ax, m["verification"]["batches"], "verify_many, verdicts")
    _curve(ax, m["verification"]["recorded"], "verify_many, recorded (one core)")
    for action in ("commission", "pack", "ship"):
        _curve(ax, m["events"][action]["rates"], f"{action} events", linestyle="--")
    ax.plot([1], [m["verification"]["single"]["codes_per_s"]], marker="*", markersize=12,
            linestyle="", label="verify(), one scan per call")
    ax.set(xscale="log", yscale="log", xlabel="codes or scans per call",
           ylabel="codes per second, one core", title="Throughput against batch size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def latency(m: dict, path: Path) -> Path:
    fig, ax = _figure()
    v = m["verification"]
    series = [("verify(), not recorded", v["single"]), ("verify(), recorded", v["single_recorded"]),
              (f"verify_many of {v['batch_latency']['batch']:,} scans (per call)", v["batch_latency"])]
    g = m.get("grpc") or {}
    if "cdf" in g:
        series.append((f"gRPC stream of {g['batch']:,} scans, loopback (per stream)", g))
    for label, s in series:
        xs, fs = zip(*s["cdf"])
        ax.plot(xs, fs, label=f"{label}: p50 {s['p50_us']:,.0f} µs, p99 {s['p99_us']:,.0f} µs")
    ax.set(xscale="log", xlabel="latency (µs)", ylabel="fraction of calls at or below",
           title="Verification latency (CDF)", ylim=(0, 1.01))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.savefig(path, dpi=110)
    return path


def scale(m: dict, path: Path) -> Path:
    fig, (left, right) = _figure(2)
    rows = sorted(m["scale"], key=lambda r: r["issued"])
    n = [r["issued"] for r in rows]
    left.plot(n, [r["index_bytes"] for r in rows], marker="o", label="whole index")
    left.plot(n, [r["issuance_bytes_per_code"] for r in rows], marker="s",
              label="batch records per issued code")
    left.set(xscale="log", yscale="log", xlabel="issued codes", ylabel="bytes", title="Index size")
    left.legend(fontsize=8)
    right.plot(n, [r["verify_codes_per_s"] / 1e6 for r in rows], marker="o", color="C2",
               label="verify_many (M scans/s)")
    right.set(xscale="log", xlabel="issued codes", ylabel="M scans/s, one core",
              title="Verification against issued codes")
    right.set_ylim(bottom=0)
    twin = right.twinx()
    twin.plot(n, [r["p50_us"] for r in rows], marker="s", color="C3", label="verify() p50 (µs)")
    twin.plot(n, [r["p99_us"] for r in rows], marker="^", color="C4", label="verify() p99 (µs)")
    twin.set(ylabel="µs")
    twin.set_ylim(bottom=0)
    lines = right.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    right.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="lower left")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    fig.savefig(path, dpi=110)
    return path


def memory(m: dict, path: Path) -> Path:
    fig, ax = _figure()
    mem = m["memory"]
    for i, (kind, label) in enumerate((("issue", "issue, written to a file"),
                                       ("verify", "verify, recorded, in chunks"))):
        rows = sorted(mem[kind], key=lambda r: r["count"])
        n = [r["count"] for r in rows]
        ax.plot(n, [r["peak_private_bytes"] / 1e6 for r in rows], marker="o", color=f"C{i}",
                label=f"{label}: private")
        ax.plot(n, [r["peak_rss_bytes"] / 1e6 for r in rows], marker="s", color=f"C{i}", linestyle="--",
                label=f"{label}: resident, with mapped index pages")
    ax.axhline(mem["idle"]["peak_private_bytes"] / 1e6, color="grey", linestyle=":",
               label="a process that only opens the index: private")
    ax.set(xscale="log", xlabel="codes or scans", ylabel="peak memory (MB)",
           title="Peak memory against count (child processes)")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return path


def draw(m: dict, out: Path, stem: str) -> dict:
    """Every plot, as PNG files next to the report; their paths by name."""
    return {name: fn(m, out / f"{stem}-{name}.png")
            for name, fn in (("throughput", throughput), ("latency", latency), ("scale", scale),
                             ("memory", memory))}
