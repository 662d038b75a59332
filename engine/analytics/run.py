"""Running rules on an engine: compile, execute, turn rows into alerts."""
from __future__ import annotations

from . import alerts as _alerts
from .dialect import compile_sql, parse_params
from .errors import AnalyticsError
from .rules import RULES, rule
from .rules.common import SCAN_POINTS

OVERVIEW = {
    # scans and verdicts by scheme (the category's), product, region and UTC day
    "by_day": """SELECT CAST(CAST(time AS DATE) AS STRING) AS day, verdict, count(*) AS scans
                 FROM scans GROUP BY CAST(CAST(time AS DATE) AS STRING), verdict""",
    "by_region": """SELECT coalesce(region, '-') AS region, verdict, count(*) AS scans
                    FROM scans GROUP BY coalesce(region, '-'), verdict""",
    "by_product": """SELECT scheme, coalesce(product, '-') AS product, verdict, count(*) AS scans
                     FROM scans GROUP BY scheme, coalesce(product, '-'), verdict""",
    # flows between regions: distinct codes shipped from one region to another
    "flows": """SELECT source_region, destination_region, count(DISTINCT code) AS codes
                FROM events WHERE source_region IS NOT NULL AND destination_region IS NOT NULL
                GROUP BY source_region, destination_region""",
}


def rule_sql(name: str, dialect: str, given: dict | None = None) -> str:
    mod = rule(name)
    params = parse_params(mod, given or {})
    return compile_sql(mod.SQL.replace("__SCAN_POINTS__", SCAN_POINTS), dialect, params)


def check_params(names, params: dict | None) -> None:
    """Refuse, before any work, parameters of an unknown rule or of one not run, and any
    unknown name or value out of its rule's range (AnalyticsError naming it)."""
    names = list(names or RULES)
    for name in names:
        rule(name)
    for name, given in (params or {}).items():
        mod = rule(name)
        if name not in names:
            raise AnalyticsError(f"parameters given for rule {name}, which is not run "
                                 f"(rules run: {', '.join(names)})")
        parse_params(mod, given)


def run_rules(engine, names=None, params: dict | None = None,
              failed: dict | None = None) -> list[dict]:
    """The alerts of the named rules (all when None), sorted by rule then id.
    params: {rule: {name: value}}. With failed (a dict), a rule the engine cannot run is
    recorded there (rule -> why) and the others still run; without it, it raises."""
    names = list(names or RULES)
    check_params(names, params)
    out = []
    for name in names:
        mod = rule(name)
        sql = rule_sql(name, engine.DIALECT, (params or {}).get(name))
        try:
            rows = engine.rows(sql)
        except AnalyticsError as exc:
            if failed is None:
                raise AnalyticsError(f"rule {name}: {exc}") from None
            failed[name] = str(exc)
            continue
        out.extend(_alerts.from_row(mod, row) for row in rows)
    return sorted(out, key=lambda a: (a["rule"], a["id"]))


def overview(engine) -> dict:
    """The overview tables, each a list of dicts sorted by its columns."""
    res = {}
    for name, sql in OVERVIEW.items():
        rows = engine.rows(compile_sql(sql, engine.DIALECT, {}))
        res[name] = sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))
    return res
