"""Verdicts: the numbers, the one rule that decides them, and their reasons.

verify() and verify_many() both decide through DECIDE (one table, indexed by scalars or
by numpy columns alike) and explain through reasons(), so one scan gets the same verdict
and the same words whichever path read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from .lifecycle import Status


class Verdict(IntEnum):
    """The numbers of the gRPC contract's Verdict (VERDICT_GENUINE = 1...; 0 is no verdict),
    in numpy verdict columns, Answers and on the wire alike. Scan records on disk keep
    their own byte (scanlog.VERDICT_BIAS)."""
    GENUINE = 1
    UNKNOWN = 2
    NOT_COMMISSIONED = 3
    RECALLED = 4
    EXPIRED = 5
    DESTROYED = 6
    ALREADY_SOLD = 7
    SUSPICIOUS = 8


@dataclass
class Answer:
    verdict: Verdict
    reasons: list
    scheme: str | None = None
    code: str | None = None
    product: dict = field(default_factory=dict)
    batch: int | None = None
    lot: str | None = None
    expiry: str | None = None
    status: str | None = None
    first_scan_time: float | None = None
    first_scan_place: str | None = None
    scan_count: int = 0
    fault: str | None = None        # why an unreadable scan could not be read (a Fault name)


# The verdict a code's effective status gives; COMMISSIONED, SHIPPED, RECEIVED are genuine.
VERDICT_OF_STATUS = {
    Status.ISSUED: Verdict.NOT_COMMISSIONED, Status.COMMISSIONED: Verdict.GENUINE,
    Status.DECOMMISSIONED: Verdict.UNKNOWN, Status.SHIPPED: Verdict.GENUINE,
    Status.RECEIVED: Verdict.GENUINE, Status.SOLD: Verdict.ALREADY_SOLD,
    Status.DISPENSED: Verdict.ALREADY_SOLD, Status.RECALLED: Verdict.RECALLED,
    Status.DESTROYED: Verdict.DESTROYED,
}


def _decide(known, status, imported, expired, crowded) -> Verdict:
    """The rule: a code we do not know is UNKNOWN; else its status decides (an imported
    code needs no commissioning here); a genuine one is EXPIRED past its expiry, else
    SUSPICIOUS when scanned at more places than expected."""
    if not known:
        return Verdict.UNKNOWN
    verdict = VERDICT_OF_STATUS[Status(status)]
    if imported and status == Status.ISSUED:
        verdict = Verdict.GENUINE
    if verdict != Verdict.GENUINE:
        return verdict
    return Verdict.EXPIRED if expired else Verdict.SUSPICIOUS if crowded else Verdict.GENUINE


# The rule tabulated once: DECIDE[known, status, imported, expired, crowded]. A scalar index
# is the single scan's path, numpy columns the bulk one's.
DECIDE = np.zeros((2, len(Status), 2, 2, 2), np.uint8)
for _i in np.ndindex(DECIDE.shape):
    DECIDE[_i] = _decide(*_i)
# The known codes' part of the same table as Verdict members, flat: the single scan's path
# indexes it without building a numpy scalar per scan.
_KNOWN = tuple(Verdict(v) for v in DECIDE[1].ravel().tolist())


def decide_one(status: int, imported: bool, expired: bool, crowded: bool) -> Verdict:
    """DECIDE[1, status, imported, expired, crowded] for one known code."""
    return _KNOWN[((status * 2 + imported) * 2 + expired) * 2 + crowded]


def reasons(verdict: int, status: int, *, known: bool = True, expiry=None, places: int = 0,
            max_places: int = 0, fault: str | None = None) -> list:
    """Why the verdict, in words: the same for every path that reached it. known=False:
    the scan names no code of ours nor an imported one (fault: why it could not be read)."""
    if not known:
        return [f"unreadable: {fault}" if fault else "never issued"]
    if verdict == Verdict.EXPIRED:
        return [f"expired {expiry}"]
    if verdict == Verdict.SUSPICIOUS:
        return [f"scanned at {places} places (at most {max_places} expected)"]
    if verdict != Verdict.GENUINE:
        return ["issued but never commissioned" if status == Status.ISSUED
                else f"code is {Status(status).name.lower()}"]
    return []
