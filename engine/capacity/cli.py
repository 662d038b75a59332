"""`tracecode capacity`: what a workload needs, from measurements made on this machine.

    tracecode capacity [--workload FILE.toml|.json] [--codes-per-year N | --codes-per-day N]
                       [--peak-scans-per-second N] [--events-per-code N] [--packaging-levels N]
                       [--retention-years N] [--replicas N] [...assumptions]
                       [--quick | --reuse REPORT.json] [--out DIR] [--name STEM]

Measures (or reuses a previous report's measurements), sizes the workload and writes
DIR/STEM.md, .html, .json and the PNG plots; prints the answer.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from ..errors import TracecodeError
from . import layout, machine, measure, postgres, report, sizing, workload
from .progress import Progress


class CapacityError(TracecodeError):
    """A measurement file that cannot be reused, or options that do not go together."""


def add_parser(subparsers):
    s = subparsers.add_parser("capacity", help="size a platform for a workload from measurements on this machine")
    s.add_argument("--workload", metavar="FILE", help="workload as TOML or JSON (fields as the options below)")
    s.add_argument("--codes-per-year", metavar="N", help="codes issued per year (instead of --codes-per-day)")
    for f in workload.FIELDS:
        default = "" if f.default is None else f" (default {f.default:g})"
        s.add_argument("--" + f.name.replace("_", "-"), metavar="N", help=f.help + default)
    how = s.add_mutually_exclusive_group()
    how.add_argument("--quick", action="store_true", help="small measurements (seconds; for tests)")
    how.add_argument("--reuse", metavar="REPORT.json", help="reuse the measurements of an earlier report")
    s.add_argument("--out", default="capacity-report", metavar="DIR",
                   help="directory for the report (default capacity-report)")
    s.add_argument("--name", default="capacity", metavar="STEM", help="file name stem (default capacity)")
    s.add_argument("--postgres-rates", metavar="RATES.json",
                   help="the PostgreSQL store's figures for a cluster plan: bench/results/rates.json "
                        "of `pytest bench/test_bench_postgres.py` (kept in the report: --reuse keeps them)")
    s.add_argument("--failover", metavar="FAILOVER.json",
                   help="the failover bench's figures for the cluster plan: bench/results/failover.json "
                        "of `pytest bench/test_bench_failover.py`")
    s.add_argument("--workdir", metavar="DIR",
                   help="where measurements write their throw-away data (default: the temp directory)")
    s.set_defaults(func=cmd_capacity)
    return s


def reused(path) -> tuple[dict, dict]:
    """(measurements, context) of an earlier report's JSON."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CapacityError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CapacityError(f"{path} is not JSON: {exc}") from None
    except RecursionError:
        raise CapacityError(f"{path} is not a capacity report's JSON: it nests too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("measurements"), dict) \
            or not isinstance(data.get("context"), dict) \
            or not isinstance(data["context"].get("machine"), dict):
        raise CapacityError(f"{path} is not a capacity report's JSON (no measurements); "
                            f"write one with `tracecode capacity --out DIR`")
    machine_ = data["context"]["machine"]
    for name in ("cores", "memory_bytes", "disk_bytes"):  # the workload's defaults come from these
        value = machine_.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise CapacityError(f"{path}: context.machine.{name} must be a positive number, got "
                                f"{str(value)[:40]!r}; measure again without --reuse")
    return data["measurements"], data["context"]


def measured(args) -> tuple[dict, dict]:
    if args.workdir is not None and not Path(args.workdir).is_dir():
        raise CapacityError(f"--workdir {args.workdir}: no such directory (give one that exists; "
                            f"the measurements write throw-away data there)")
    sizes = measure.QUICK if args.quick else measure.STANDARD
    progress = Progress(measure.step_count(sizes))
    with tempfile.TemporaryDirectory(prefix="tracecode-capacity-", dir=args.workdir) as tmp:
        ctx = machine.context(disk_path=tmp)
        try:
            m = measure.run(Path(tmp), sizes, progress)
        finally:
            progress.close()
    m["quick"] = bool(args.quick)  # kept in the JSON: a --reuse of it warns too
    return m, ctx


def cmd_capacity(args):
    options = {f.name: getattr(args, f.name) for f in workload.FIELDS} | {"codes_per_year": args.codes_per_year}
    if args.reuse:
        m, ctx = reused(args.reuse)
    else:
        workload.load(args.workload, options, machine.machine())  # refuse a bad workload before measuring
        pg = postgres.read(args.postgres_rates) if args.postgres_rates else None  # and a bad file
        m, ctx = measured(args)
        if pg:
            m["postgres"] = pg
    if args.reuse and args.postgres_rates:
        m = {**m, "postgres": postgres.read(args.postgres_rates)}
    if args.failover:
        m = {**m, "failover": postgres.read_failover(args.failover)}
    w = workload.load(args.workload, options, ctx["machine"])
    try:
        rates = sizing.Rates.of(m, w)
        plan = sizing.plan(w, rates)
        pg_plan = sizing.plan(w, postgres.rates(rates, m["postgres"], w.scan_batch)) \
            if m.get("postgres") else None
    except (KeyError, TypeError, ValueError) as exc:
        if args.reuse:
            raise CapacityError(f"the measurements in {args.reuse} lack what sizing needs ({exc!r}); "
                                f"measure again without --reuse") from None
        raise CapacityError(f"the measurements just made lack what sizing needs ({exc!r})") from None
    result = {"workload": w.as_dict(), "plan": plan.as_dict(), "measurements": m, "context": ctx}
    if pg_plan:
        result["postgres_plan"] = pg_plan.as_dict()
    result["warnings"] = [measure.QUICK_WARNING] if measure.is_quick(m) else []
    for text in result["warnings"]:
        print(f"tracecode capacity: warning: {text}", file=sys.stderr, flush=True)
    if args.reuse:
        now = machine.context()
        result["reused"] = {"file": str(args.reuse), "command": now["command"], "date": now["date"]}
    paths = report.write(result, Path(args.out), args.name)
    cluster = layout.write(result, Path(args.out), args.name)
    print(report.summary(result), flush=True)
    print(f"report: {paths['markdown']}, {paths['html']}, {paths['json']} and "
          f"{len(paths) - 3} plots in {args.out}; the cluster layout to adapt in "
          f"{cluster['settings'].parent}", file=sys.stderr)
