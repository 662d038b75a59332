"""The public trail of a code: where it went and what happened to it, as a label's reader
may know it (the public window's distribution path and recall notice).

History (Service.history) is for issuers and overseers: it names the clients that sent
the events, event ids, batches and every code an event touched. The trail keeps only
each event's step, date, place and, for a recall or destruction, its stated reason, so
anyone who may verify a code may read it.
"""
from __future__ import annotations

from .caller import Caller
from .rights import admit

# lifecycle actions that make the distribution path, and those whose reason is public
PATH_ACTIONS = ("commission", "ship", "receive", "sell", "dispense", "recall", "destroy")
NOTICE_ACTIONS = ("recall", "destroy")
MAX_TRAIL = 64          # the last steps shown: a page, not an audit


def trail(svc, caller: Caller, code: str, method: str = "Trail") -> list[dict]:
    """The code's path, oldest first: [{"action", "time", "place", "reason"}] ("reason"
    only for recalls and destructions). A code the index does not know has none."""
    admit(caller, "verify", method)
    try:
        items = svc.dd.history(code, scans=False)   # a copy's million queries: not read
    except ValueError:          # not a code of ours (imported, unknown): no events here
        return []
    out = []
    for item in items:
        action = item.get("action")
        if item.get("kind") != "event" or action not in PATH_ACTIONS or item.get("undone"):
            continue   # an event declared erroneous and undone (EPCIS errorDeclaration) is no step
        step = {"action": action, "time": item.get("time"), "place": item.get("place") or None}
        if action in NOTICE_ACTIONS:
            step["reason"] = item.get("reason") or None
        out.append(step)
    return out[-MAX_TRAIL:]
