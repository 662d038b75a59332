"""The workload a platform must carry, and the assumptions sizing makes about it.

A workload comes from command-line options, a TOML or JSON file, or both (options
win). Every field has one definition here: its type, its bounds, its default and
the sentence that explains it, which the CLI's help and the report both use.
"""
from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import TracecodeError

DAYS_PER_YEAR = 365


class WorkloadError(TracecodeError, ValueError):
    """A workload that cannot be sized: a missing, unknown or out-of-range field."""


@dataclass(frozen=True)
class Field:
    name: str
    kind: type            # int or float
    low: float            # smallest accepted value
    high: float           # largest accepted value
    default: float | None  # None: required (machine_*: this machine's)
    help: str
    low_open: bool = False  # low itself refused


FIELDS = [
    Field("codes_per_day", float, 0, math.inf, None,
          "codes issued per day, all packaging levels (or give codes_per_year)"),
    Field("peak_scans_per_second", float, 0, math.inf, None, "scans verified per second at peak"),
    Field("peak_public_queries_per_second", float, 0, math.inf, 0.0,
          "public queries per second at peak (the page a phone opens or the JSON API, over "
          "HTTP; each is also recorded as a scan)"),
    Field("events_per_code", float, 1, 100, 3.0,
          "lifecycle events naming each code itself (commission, pack, sell...); events "
          "naming a container (ship a pallet) write nothing per code inside it"),
    Field("packaging_levels", int, 1, 8, 3,
          "packaging levels (unit, case, pallet: 3); below the top level each code is packed once"),
    Field("retention_years", float, 0, 100, 5.0, "years events and scans are kept", low_open=True),
    Field("replicas", int, 1, 16, 2, "full copies of the index, each able to carry the whole load"),
    Field("issue_batch", int, 1, 10**9, 100_000, "codes per issuance request from a production line"),
    Field("scan_batch", int, 1, 10**6, 1, "scans per verification call (1: one scan per call)"),
    Field("working_hours", float, 0, 24, 8.0,
          "hours a day in which issuance and lifecycle events arrive", low_open=True),
    Field("mean_to_peak", float, 0, 1, 0.1,
          "a day's mean scan rate over its peak rate (sizes the scan log on disk)", low_open=True),
    Field("hot_days", float, 0, 3650, 30.0,
          "days of new codes whose index records should stay in memory"),
    Field("headroom", float, 0, 10, 0.5, "spare capacity: resources sized for load x (1 + headroom)"),
    Field("machine_cores", int, 1, 4096, None, "cores per machine (default: this machine's)"),
    Field("machine_memory_gb", float, 0, 1e6, None, "memory per machine, GB (default: this machine's)",
          low_open=True),
    Field("machine_disk_tb", float, 0, 1e6, None,
          "disk per machine for the index, TB (default: this machine's disk)", low_open=True),
]
BY_NAME = {f.name: f for f in FIELDS}
MACHINE_FIELDS = ("machine_cores", "machine_memory_gb", "machine_disk_tb")


@dataclass(frozen=True)
class Workload:
    codes_per_day: float
    peak_scans_per_second: float
    peak_public_queries_per_second: float
    events_per_code: float
    packaging_levels: int
    retention_years: float
    replicas: int
    issue_batch: int
    scan_batch: int
    working_hours: float
    mean_to_peak: float
    hot_days: float
    headroom: float
    machine_cores: int
    machine_memory_gb: float
    machine_disk_tb: float

    @property
    def packs_per_code(self) -> int:
        return 1 if self.packaging_levels > 1 else 0

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _value(field: Field, raw, where: str):
    what = f"{field.name} ({where})"
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise WorkloadError(f"{what} must be a number, got {raw!r}")
    try:
        number = float(str(raw).replace("_", "")) if isinstance(raw, str) else float(raw)
    except ValueError:
        raise WorkloadError(f"{what} must be a number, got {raw!r}") from None
    if field.kind is int:
        if number != int(number):
            raise WorkloadError(f"{what} must be a whole number, got {raw!r}")
        number = int(number)
    if not (field.low < number if field.low_open else field.low <= number) or number > field.high:
        low = f"above {field.low:g}" if field.low_open else f"at least {field.low:g}"
        raise WorkloadError(f"{what} must be {low} and at most {field.high:g}, got {raw!r}")
    return number


def _no_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def read_file(path) -> dict:
    """A workload file's fields: TOML (.toml) or JSON (.json), one table of name = value."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkloadError(f"cannot read workload file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise WorkloadError(f"workload file {path} is not UTF-8 text (byte {exc.start + 1})") from None
    try:
        if path.suffix == ".json":
            data = json.loads(text, parse_constant=_no_constant)
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise WorkloadError(f"workload file {path} must end in .toml or .json")
    except RecursionError:  # both parsers recurse: a hostile file nests 100,000 deep
        raise WorkloadError(f"workload file {path} nests too deeply; it holds one table of "
                            f"name = value") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise WorkloadError(f"workload file {path} is not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise WorkloadError(f"workload file {path} must hold one table of name = value")
    return data


def build(values: dict, machine: dict, where: str = "workload") -> Workload:
    """A checked Workload from raw values (a file's, the options'); machine_* fields
    default to `machine` (cores, memory_bytes, disk_bytes of the measured machine)."""
    values = dict(values)
    unknown = sorted(set(values) - set(BY_NAME) - {"codes_per_year"})
    if unknown:
        raise WorkloadError(f"unknown workload field {unknown[0]!r} ({where}); fields: "
                            f"{', '.join(['codes_per_year'] + list(BY_NAME))}")
    if "codes_per_year" in values:
        if "codes_per_day" in values:
            raise WorkloadError(f"give codes_per_day or codes_per_year, not both ({where})")
        per_year = _value(BY_NAME["codes_per_day"], values.pop("codes_per_year"), where)
        values["codes_per_day"] = per_year / DAYS_PER_YEAR
    defaults = {"machine_cores": machine["cores"],
                "machine_memory_gb": machine["memory_bytes"] / 1e9,
                "machine_disk_tb": machine["disk_bytes"] / 1e12}
    out = {}
    for f in FIELDS:
        raw = values.get(f.name, f.default if f.default is not None else defaults.get(f.name))
        if raw is None:
            raise WorkloadError(f"the workload needs {f.name} ({f.help})")
        out[f.name] = _value(f, raw, where)
    w = Workload(**out)
    least = 1 + w.packs_per_code
    if w.events_per_code < least:
        raise WorkloadError(f"events_per_code ({where}) must count commissioning"
                            + (" and packing" if w.packs_per_code else "")
                            + f": at least {least}, got {w.events_per_code:g}")
    return w


def load(path=None, options: dict | None = None, machine: dict | None = None) -> Workload:
    """The workload of a file and/or options (options given as not-None win)."""
    values = read_file(path) if path else {}
    given = {k: v for k, v in (options or {}).items() if v is not None}
    if "codes_per_year" in given:
        values.pop("codes_per_day", None)
    if "codes_per_day" in given:
        values.pop("codes_per_year", None)
    where = f"{path} and options" if path and given else str(path) if path else "options"
    return build({**values, **given}, machine, where)
