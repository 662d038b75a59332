"""Running rules on an engine: compile, execute, turn rows into alerts."""
from __future__ import annotations

from . import alerts as _alerts
from .dialect import compile_sql, parse_params
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


def run_rules(engine, names=None, params: dict | None = None) -> list[dict]:
    """The alerts of the named rules (all when None), sorted by rule then id.
    params: {rule: {name: value}}."""
    out = []
    for name in names or list(RULES):
        mod = rule(name)
        sql = rule_sql(name, engine.DIALECT, (params or {}).get(name))
        out.extend(_alerts.from_row(mod, row) for row in engine.rows(sql))
    return sorted(out, key=lambda a: (a["rule"], a["id"]))


def overview(engine) -> dict:
    """The overview tables, each a list of dicts sorted by its columns."""
    res = {}
    for name, sql in OVERVIEW.items():
        rows = engine.rows(compile_sql(sql, engine.DIALECT, {}))
        res[name] = sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))
    return res
