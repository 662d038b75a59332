"""Open analytics alerts fed back into verification: a code with an open clone or diversion
alert (tracecode.analytics.rules.FEEDBACK_RULES) answers SUSPICIOUS, the alert named.

The flagged codes are read from the store's alerts (written by `tracecode analyze`, maybe
in another process) at most every ttl seconds and only when the store's alerts_version
moved, into one sorted numpy array: the bulk path
is one searchsorted over the batch's parsed codes, not per-scan Python. Only a GENUINE
verdict turns SUSPICIOUS (RECALLED, ALREADY_SOLD... say more). The scan log keeps the
verdict the index gave (recorded before this step)."""
from __future__ import annotations

import time

import numpy as np

from ..analytics.rules import FEEDBACK_RULES
from ..index.verdicts import Verdict

MAX_FLAGGED = 1_000_000   # bounded memory: the newest alerts first


class AlertFeed:
    def __init__(self, store, ttl: float = 10.0, clock=time.monotonic):
        self.store, self.ttl, self.clock = store, ttl, clock
        self._read_at = self._version = None
        self._codes = np.zeros(0, "S1")
        self._reasons: list = []

    def _refresh(self) -> None:
        now = self.clock()
        if self._read_at is not None and now - self._read_at < self.ttl:
            return
        self._read_at = now
        find = getattr(self.store, "alerts_find", None)
        version = self.store.alerts_version() if find else None
        if version == self._version:
            return   # nothing put or closed since the last read
        self._version = version
        found = {}
        # one read for all the feedback rules, of the open codes only (no alert decoded)
        for code, rule, alert in (self.store.alerts_open_codes(FEEDBACK_RULES)[:MAX_FLAGGED]
                                  if find else ()):
            found.setdefault(code.encode(), f"open {rule} alert {alert}")
        keys = sorted(found)
        self._codes = np.array(keys, dtype="S") if keys else np.zeros(0, "S1")
        self._reasons = [found[k] for k in keys]

    def mark_many(self, batch) -> None:
        """Turn the GENUINE rows of a VerifyBatch whose code has an open alert SUSPICIOUS,
        their reasons naming the alert (batch.alert_reasons: row -> reasons)."""
        self._refresh()
        if not len(self._codes) or not len(batch):
            return
        codes = batch.parsed.records["code"]
        at = np.minimum(np.searchsorted(self._codes, codes), len(self._codes) - 1)
        verdicts = batch.records["verdict"]
        hit = (self._codes[at] == codes) & (verdicts == Verdict.GENUINE)
        if hit.any():
            verdicts[hit] = Verdict.SUSPICIOUS
            rows = np.flatnonzero(hit)
            batch.alert_reasons = {int(i): [self._reasons[int(at[i])]] for i in rows}

    def mark_one(self, ans) -> None:
        """The same for one Answer."""
        self._refresh()
        if not len(self._codes) or ans.verdict != Verdict.GENUINE or not ans.code:
            return
        key = ans.code.encode()
        i = int(np.searchsorted(self._codes, key))
        if i < len(self._codes) and self._codes[i] == key:
            ans.verdict = Verdict.SUSPICIOUS
            ans.reasons = [*ans.reasons, self._reasons[i]]
