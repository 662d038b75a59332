"""Undoing the state change of a lifecycle event declared erroneous (EPCIS errorDeclaration):
the codes it moved go back to the state they had before it, when no later event depends on
it; otherwise the undo is refused naming that later event.

The erroneous event stays in the log and in every history (EPCIS keeps an erroneous event
and adds its declaration; tracecode's history shows both); only the codes' states are put
back (WriteView.restore_states), inside the caller's write. What "depends" means here:

- the code itself has an event after it (a later ship, a pack, an unpack...);
- a container the code is in had a state change after it (the code's state is the
  container's now: a case received after its units were shipped);
- the event moved a container and one of the codes inside has an event of its own since.

What is undone: the actions that set a state (commission back to issued, ship, receive,
sell, dispense, decommission, destroy, a recall of named codes back to the state before).
An aggregation (pack, unpack) is undone by its opposite event, and a recall of a whole batch
or lot by lifting it; both are refused here with that said.
"""
from __future__ import annotations

from .lifecycle import ACTIONS, ILLEGAL_TRANSITION, EventError, Status

NOT_UNDONE = ILLEGAL_TRANSITION


def _refuse(message: str, eid: str, later: str | None = None) -> EventError:
    exc = EventError(message, event_id=eid, reason=NOT_UNDONE)
    exc.later = later
    return exc


def plan(index, view, eid: str, client: str | None) -> list | None:
    """[(ref, status or None, seq)]: the states to restore for the lifecycle event `eid` of
    `client` (read as it was applied: its action and codes), None when it was never applied
    (nothing to undo). EventError (reason illegal_transition, .later the later event's id)
    when refused."""
    seen = view.event_seen(client, eid)
    if seen is None:
        return None
    at = seen[0]
    ev = view.events_at([at]).get(at)
    if ev is None or ev.get("undone"):   # never applied, or undone already: nothing to undo
        return None
    action = ACTIONS.get(ev.get("action"))
    if action is None or action.to is None:
        raise _refuse(f"event {eid!r} ({ev.get('action')}) is not undone here: an aggregation is undone "
                      "by its opposite event (unpack, or pack again)", eid)
    if action.name == "recall" and (ev.get("batch") or ev.get("lot")):
        raise _refuse(f"event {eid!r} recalled a whole batch or lot: lift the recall instead", eid)
    keys, _ = index._keys_of(view, list(ev.get("codes") or ()), eid)
    seqs = view.code_event_seqs(keys)
    _later_on(view, eid, at, [s for ss in seqs for s in ss])
    # the containers above the codes: a state change there since is the codes' state now
    parents = view.parents(keys)
    above, frontier = set(), set(parents.values())
    while frontier and len(above) < 10_000:
        above |= frontier
        frontier = set(view.parents(list(frontier)).values()) - above
    if above:
        ups = sorted(above)
        found = [s for ss in view.code_event_seqs(ups) for s in ss if s > at]
        if found:
            events = view.events_at(sorted(set(found)))
            moved = [s for s in sorted(events) if ACTIONS.get(events[s].get("action")) is not None
                     and ACTIONS[events[s]["action"]].to is not None and not events[s].get("undone")]
            if moved:
                later = events[moved[0]].get("id")
                raise _refuse(f"event {eid!r} is not undone: {later!r} moved a container of its codes "
                              "since", eid, later)
    # the codes inside containers it moved: an event of their own since depends on it
    from .index import MAX_DEPTH   # here: index.py imports this module
    inside, frontier = set(), set(view.holding(keys))
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        children = {c for p in frontier for c in view.children(p)} - inside
        inside |= children
        frontier = set(view.holding(list(children))) if children else set()
    if inside:
        _later_on(view, eid, at, [s for ss in view.code_event_seqs(sorted(inside)) for s in ss])
    if action.name == "commission":
        return [(k, None, 0) for k in keys]
    return _before(index, view, keys, seqs, at)


def _later_on(view, eid: str, at: int, seqs) -> None:
    """Refused when one of seqs is a later event (one undone itself does not count)."""
    later = sorted({s for s in seqs if s > at})
    if later:
        events = view.events_at(later)
        live = [s for s in later if s in events and not events[s].get("undone")]
        if live:
            name = events[live[0]].get("id")
            raise _refuse(f"event {eid!r} is not undone: the later event {name!r} depends on it", eid, name)


def _before(index, view, keys, seqs, at: int) -> list:
    """Each code's (ref, status, seq) as the events before `at` left it (None: issued)."""
    prior = sorted({s for ss in seqs for s in ss if s < at})
    events = view.events_at(prior) if prior else {}
    parent_keys: dict = {}

    def is_parent(ev, key) -> bool:   # a container comes alive when packed into
        text = ev.get("parent")
        if text is None:
            return False
        if text not in parent_keys:
            parent_keys[text] = index._key_one(view, text)
        return parent_keys[text] == key
    out = []
    for key, ss in zip(keys, seqs):
        state, alive = None, None
        for s in reversed([s for s in ss if s < at]):
            ev = events[s]
            a = ACTIONS.get(ev.get("action"))
            if a is None or ev.get("undone"):   # an event undone before set nothing
                continue
            if a.to is not None:
                state = (key, int(a.to), s)
                break
            if a.name == "pack" and is_parent(ev, key):
                alive = (key, int(Status.COMMISSIONED), s)   # alive by the first pack into it
        out.append(state or alive or (key, None, 0))
    return out
