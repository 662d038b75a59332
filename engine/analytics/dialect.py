"""The few spellings DuckDB and Spark SQL disagree on, and compiling a rule's SQL.

Macros in a rule's text:  EPOCH_US(x)  microseconds since 1970 of a timestamp (bigint).
KM(lat1, lon1, lat2, lon2) is spelled out here once (haversine, both engines' functions).
Parameters are written :name and become literals: ints as ints, floats as doubles
(1.5E0: Spark reads 1.5 as a DECIMAL), strings quoted, tuples of strings as IN lists.
"""
from __future__ import annotations

import re

from .errors import AnalyticsError

DIALECTS = {
    "duckdb": {"EPOCH_US": "epoch_us({0})"},
    "spark": {"EPOCH_US": "unix_micros({0})"},
}

KM = ("(2.0E0 * 6371.0E0 * asin(sqrt(power(sin(radians({2} - {0}) / 2.0E0), 2) + "
      "cos(radians({0})) * cos(radians({2})) * power(sin(radians({3} - {1}) / 2.0E0), 2))))")

_MACRO = re.compile(r"\b(EPOCH_US|KM)\(([^()]*)\)")
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def literal(value, dialect: str = "duckdb") -> str:
    """value as a SQL literal of the dialect. Text: DuckDB doubles quotes; Spark SQL reads
    a backslash as an escape (x\\' would end the literal), so there both are escaped."""
    if isinstance(value, bool):
        raise AnalyticsError("a rule parameter is a number, text or a list of text")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise AnalyticsError(f"parameter value {value} is not a finite number")
        return repr(value) + "E0" if "e" not in repr(value) else repr(value).upper()
    if isinstance(value, str):
        if dialect == "spark":
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, str) for v in value):
        return ", ".join(literal(v, dialect) for v in value)
    raise AnalyticsError(f"parameter value {value!r} is not a number, text or a list of text")


def compile_sql(sql: str, dialect: str, params: dict) -> str:
    """The rule's SQL for one engine, its parameters as literals."""
    table = DIALECTS[dialect]

    def macro(m):
        args = [a.strip() for a in m.group(2).split(",")]
        if m.group(1) == "KM":
            return KM.format(*args)
        return table[m.group(1)].format(*args)

    def param(m):
        if m.group(1) not in params:
            raise AnalyticsError(f"the rule's SQL names :{m.group(1)}, which it has no value for")
        return literal(params[m.group(1)], dialect)

    return _PARAM.sub(param, _MACRO.sub(macro, sql))


def parse_params(rule, given: dict) -> dict:
    """The rule's defaults overridden by given (text from the command line converted to
    the default's type); an unknown name or a value of the wrong shape is refused."""
    out = dict(rule.PARAMS)
    for name, raw in given.items():
        if name not in out:
            raise AnalyticsError(f"rule {rule.NAME} has no parameter {name!r} "
                                 f"(it has {', '.join(out) or 'none'})")
        default = out[name]
        try:
            if isinstance(raw, str) and not isinstance(default, str):
                raw = (tuple(x for x in raw.split(",") if x) if isinstance(default, tuple)
                       else type(default)(raw))
            if not isinstance(raw, type(default)) and not (
                    isinstance(default, float) and isinstance(raw, int)):
                raise ValueError
        except ValueError:
            raise AnalyticsError(f"rule {rule.NAME}: {name} must be a "
                                 f"{type(default).__name__} ({raw!r} given)") from None
        out[name] = float(raw) if isinstance(default, float) else raw
        _check_range(rule, name, out[name])
    return out


def _check_range(rule, name: str, value) -> None:
    """value within what the rule declares for name (RANGES); a list never empty."""
    if isinstance(value, tuple):
        if not value:
            raise AnalyticsError(f"rule {rule.NAME}: {name} names at least one value")
        return
    allowed = getattr(rule, "RANGES", {}).get(name)
    if allowed is None or isinstance(value, str):
        return
    if isinstance(allowed, (set, frozenset)):
        if value not in allowed:
            raise AnalyticsError(f"rule {rule.NAME}: {name} is one of "
                                 f"{', '.join(map(str, sorted(allowed)))} ({value!r} given)")
    elif not allowed[0] <= value <= allowed[1]:
        raise AnalyticsError(f"rule {rule.NAME}: {name} is {allowed[0]} to {allowed[1]} "
                             f"({value!r} given)")
