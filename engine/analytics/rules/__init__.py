"""The named rules: one module each, with NAME, SEVERITY, WINDOW, PARAMS, RANGES (what a
number parameter may be: (lowest, highest) or a set of choices) and SQL.

A rule's SQL reads the views scans, events, codes (the newest snapshot) and centroids
(code, lat, lon), and returns one row per finding with the columns
    subject, product, region, first_us, last_us, win   (win: str or int; see WINDOW)
plus evidence columns named ev_*. It is written once: compile_sql() turns the few macros
that differ between DuckDB and Spark SQL (dialect.py) into each engine's spelling, and the
parameters into literals.
"""
from __future__ import annotations

from . import clone_spread, clone_velocity, diversion, impossible, probing, recall_reach

RULES = {m.NAME: m for m in (clone_velocity, clone_spread, diversion, impossible, probing,
                             recall_reach)}
# Rules whose open alert turns a code's verdict SUSPICIOUS (the feedback).
FEEDBACK_RULES = ("clone_velocity", "clone_spread", "diversion")


def rule(name: str):
    from ..errors import AnalyticsError
    try:
        return RULES[name]
    except KeyError:
        raise AnalyticsError(f"unknown rule {name!r} (rules: {', '.join(RULES)})") from None
