"""`tracecode analyze DIR --out REPORT` (export, rules, alerts stored, report) and
`tracecode alerts DIR|--server HOST:PORT [--rule R] [--code C] [--open] [--close ID]`."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from .errors import TracecodeError


class AnalyzeCliError(TracecodeError):
    pass


PAGE = 1000   # alerts per call (the application's bound, alertsapp.MAX_ALERTS)


def _rule_params(items) -> dict:
    """--param rule.name=value ... -> {rule: {name: value}}."""
    out: dict = {}
    for item in items or []:
        head, eq, value = item.partition("=")
        rule, dot, name = head.partition(".")
        if not (eq and dot and rule and name):
            raise AnalyzeCliError(f"--param {item!r}: write RULE.NAME=VALUE (e.g. "
                                  f"clone_velocity.max_kmh=600)")
        out.setdefault(rule, {})[name] = value
    return out


def _since(text):
    if not text:
        return None
    from .clitime import local_timestamp
    return datetime.fromtimestamp(local_timestamp(text, "--since", AnalyzeCliError), timezone.utc)


def cmd_analyze(args) -> int:
    from .analytics import report
    from .analytics.engines import open_engine
    from .analytics.rules import RULES
    from .analytics.run import check_params, overview, run_rules
    from .app.alertsapp import store_alerts
    from .app.caller import OPERATOR
    from .app.service import Service
    from .datadir import DataDir
    names = [n for part in (args.rules or []) for n in part.split(",") if n] or list(RULES)
    params = _rule_params(args.param)
    check_params(names, params)   # an unknown rule, parameter or value refused before any work
    since = _since(args.since)
    dd = DataDir(args.dir)
    svc = Service(dd)
    failed: dict = {}
    try:
        source = args.parquet
        if source is None:
            from .analytics.export import export
            source = str(dd.path / "analytics-export")
            export(dd, source)
        kw = {"memory_limit": args.memory_limit} if args.memory_limit else {}
        if kw and args.engine != "duckdb":
            raise AnalyzeCliError("--memory-limit is DuckDB's (Spark: spark.driver.memory)")
        engine = open_engine(args.engine, source, since=since, **kw)
        try:
            alerts = run_rules(engine, names, params, failed=failed)
            # the rules that ran keep their alerts even when another failed
            new = store_alerts(svc, OPERATOR, alerts, rules=[n for n in names if n not in failed],
                               method="analyze")
            ov = overview(engine)
        finally:
            engine.close()
    finally:
        svc.close()
        dd.close()
    ran = [n for n in names if n not in failed]
    meta = {"source": source, "engine": args.engine, "rules": ran, "failed": failed,
            "since": since.isoformat() if since else None, "new": sum(new)}
    out = report.write(args.out, alerts, ov, meta)
    for name, why in failed.items():
        print(f"rule {name} failed: {why}", file=sys.stderr)
    print(f"{len(alerts):,} alerts ({sum(new):,} new) from {', '.join(ran) or 'no rule'} on "
          f"{args.engine}; report in {out}/report.html and report.md", file=sys.stderr)
    return 1 if failed else 0


def cmd_alerts(args) -> int:
    """One code path for DIR (tracecode.app.LocalClient) and --server (tracecode.v1.Client):
    the same verbs (alerts_page, close_alert), the same JSON lines."""
    from .cli import CliError, _backend
    if args.server and args.dir is not None:
        raise CliError(f"give DIR or --server, not both (DIR was {args.dir!r})")
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    with _backend(args) as c:
        if args.close:
            # through the application layer: refused when not open, audited (who closed it)
            c.close_alert(args.close, args.note or "")
            print(f"closed {args.close}", file=sys.stderr)
            return 0
        left, token = args.limit, None
        while left > 0:
            page, token = c.alerts_page(rule=args.rule, code=args.code, open_only=args.open,
                                        limit=min(left, PAGE), page_token=token)
            for a in page:
                print(json.dumps(a, ensure_ascii=False, sort_keys=True))
            left -= len(page)
            if token is None:
                break
    return 0


def add_parsers(subparsers):
    from .analytics.engines import ENGINES
    p = subparsers.add_parser("analyze", help="counterfeit and diversion analytics: rules, alerts, "
                              "a regulator's report (HTML, Markdown, PNG)")
    p.add_argument("dir", help="data directory (alerts are stored there)")
    p.add_argument("--out", required=True, metavar="REPORT", help="report folder")
    p.add_argument("--parquet", metavar="EXPORT", help="an existing `tracecode export --parquet` "
                   "folder (default: export DIR to DIR/analytics-export first, incrementally)")
    p.add_argument("--since", metavar="DATE", help="only scans from this ISO date or time on")
    p.add_argument("--rules", action="append", metavar="R[,R]", help="rules to run (default all)")
    p.add_argument("--param", action="append", metavar="RULE.NAME=VALUE", help="a rule parameter")
    p.add_argument("--engine", choices=ENGINES, default="duckdb")
    p.add_argument("--memory-limit", metavar="SIZE", help="DuckDB's memory bound, e.g. 2GB "
                   "(default: 80%% of RAM; it spills to disk past it)")
    p.set_defaults(func=cmd_analyze)
    from .v1 import cli as remote
    s = subparsers.add_parser("alerts", help="the stored analytics alerts (JSON lines), or close one")
    s.add_argument("dir", nargs="?", help="data directory; or --server")
    remote.add_server_options(s)
    s.add_argument("--rule")
    s.add_argument("--code")
    s.add_argument("--open", action="store_true", help="open alerts only")
    s.add_argument("--limit", type=int, default=1000)
    s.add_argument("--close", metavar="ID", help="close this alert")
    s.add_argument("--note", help="why (with --close)")
    s.set_defaults(func=cmd_alerts)
