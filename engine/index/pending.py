"""The events of one apply() call checked one after the other but written together.

A case's pack event writes 24 codes; written alone, each pays a write of its own (cursors,
a nested transaction, a few puts). Here the checked plans wait and are written in one
pass (WriteView.apply_events: each table's records of all of them in one sorted putmulti).

A later event must still see what the earlier ones did, exactly as separate calls would.
So the view the checks read through (PendingView) writes the waiting plans out before any
read that could see them: of a key one of them names, of an event id one of them uses, or
any read it does not know to be untouched by events (the bulk state reads, recalls,
histories). Reads events never change (batch tables, products, imported codes) go straight
through. A plan that unpacks or recalls is written at once, after those waiting.
"""
from __future__ import annotations

from ..errors import TracecodeError

# a call's waiting plans are written out when they name this many codes (memory stays bounded)
MAX_WAITING_CODES = 1 << 20


class PendingWrites:
    """Checked plans of one call, not written yet, with the results that wait for their seq."""

    def __init__(self, view):
        self.view = view
        self.plans, self.results = [], []
        self.keys = set()     # every ref and parent a waiting plan names
        self.ids = set()      # (client, event id) of each waiting plan
        self.codes = 0

    def add(self, plan, result: dict) -> None:
        """Queue the plan; result["seq"] is set when it is written."""
        if plan.recalls or plan.link == "unpack" or not self.keys.isdisjoint(plan.refs) \
                or plan.parent in self.keys:
            self.flush()
        if plan.recalls or plan.link == "unpack":
            result["seq"] = self.view.apply_event(plan)
            return
        self.plans.append(plan)
        self.results.append(result)
        self.keys.update(plan.refs)
        if plan.parent is not None:
            self.keys.add(plan.parent)
        self.ids.add((plan.client, plan.event_id))
        self.codes += len(plan.refs)
        if self.codes >= MAX_WAITING_CODES:
            self.flush()

    def flush(self) -> None:
        """Write the waiting plans. A failure here is not the fault of the event being
        checked when it came: it must end the whole write (nothing of the call is kept),
        not be reported as that event's refusal."""
        if not self.plans:
            return
        plans, results = self.plans, self.results
        self.plans, self.results, self.keys, self.ids, self.codes = [], [], set(), set(), 0
        try:
            seqs = self.view.apply_events(plans)
        except (ValueError, KeyError, TracecodeError) as exc:
            raise RuntimeError(f"writing the call's events failed: {exc}") from exc
        for result, seq in zip(results, seqs):
            result["seq"] = seq


class PendingView:
    """The write's view for checking events while plans wait (see the module's docstring)."""

    __slots__ = ("_view", "_pending")

    def __init__(self, view, pending: PendingWrites):
        self._view, self._pending = view, pending

    def _about(self, ref) -> None:
        if ref in self._pending.keys:
            self._pending.flush()

    # reads of a code: the waiting plans first when one names it
    def parent_of(self, ref):
        self._about(ref)
        return self._view.parent_of(ref)

    def children(self, ref):
        self._about(ref)
        return self._view.children(ref)

    def sscc_user(self, ref):
        self._about(ref)
        return self._view.sscc_user(ref)

    def parents(self, refs):
        if not self._pending.keys.isdisjoint(refs):
            self._pending.flush()
        return self._view.parents(refs)

    def holding(self, refs):
        if not self._pending.keys.isdisjoint(refs):
            self._pending.flush()
        return self._view.holding(refs)

    def event_seen(self, client, event_id):
        if (client, event_id) in self._pending.ids:
            self._pending.flush()
        return self._view.event_seen(client, event_id)

    # what events never write
    def known_products(self):
        return self._view.known_products()

    def product_id(self, scheme, product_key):
        return self._view.product_id(scheme, product_key)

    def table_mark(self, scheme, product_key):
        return self._view.table_mark(scheme, product_key)

    def batch_table(self, scheme, product_key):
        return self._view.batch_table(scheme, product_key)

    def batch(self, batch_id):
        return self._view.batch(batch_id)

    def imported_values(self, buf, off, found):
        return self._view.imported_values(buf, off, found)

    def imported_one(self, ref):
        return self._view.imported_one(ref)

    def product_of(self, product_id):
        return self._view.product_of(product_id)

    def __getattr__(self, name):
        """Any other read or write: after the waiting plans."""
        self._pending.flush()
        return getattr(self._view, name)
