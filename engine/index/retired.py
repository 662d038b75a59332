"""What a retired (compromised) master-key version does to its codes' verdicts.

`tracecode key retire DIR N --codes warn|refuse`: with warn a code of a version-N batch
that would be GENUINE is SUSPICIOUS, and every verdict on it says why; with refuse it is
UNKNOWN (a forger holding the key can make codes that decrypt into its batches, so none
of them proves anything). Directories with no retired version pay one dict lookup a call.
"""
from __future__ import annotations


from .verdicts import Verdict

WARN = "master-key version {v} is retired (its key may be known to others): this code may be forged"
REFUSE = "master-key version {v} is retired and its codes are refused: this code proves nothing"


def _retired(index) -> dict:
    ring = index.keyring
    return ring.retired_now() if ring is not None else {}


def answer(index, ans, batch):
    """The Answer of one code, put right for its batch's retired key version (in place)."""
    if batch is None:
        return ans
    retired = _retired(index)
    how = retired.get(batch.key_version) if retired else None
    if how == "refuse":
        ans.verdict = Verdict.UNKNOWN
        ans.reasons = [REFUSE.format(v=batch.key_version)]
    elif how == "warn":
        if ans.verdict == Verdict.GENUINE:
            ans.verdict = Verdict.SUSPICIOUS
            ans.reasons = [r for r in ans.reasons if not r.startswith("scanned at")]
        reason = WARN.format(v=batch.key_version)
        if reason not in ans.reasons:
            ans.reasons.append(reason)
    return ans


def verdicts(index, records, batches: dict) -> None:
    """verify_many's verdict column put right for batches of retired versions (in place)."""
    retired = _retired(index)
    if not retired or not batches:
        return
    hit = {b: retired[r.key_version] for b, r in batches.items() if r is not None and r.key_version in retired}
    if not hit:
        return
    col = records["batch"]
    for b, how in hit.items():
        rows = col == b
        if how == "refuse":
            records["verdict"][rows] = Verdict.UNKNOWN
        else:
            genuine = rows & (records["verdict"] == Verdict.GENUINE)
            records["verdict"][genuine] = Verdict.SUSPICIOUS
    return None


__all__ = ["answer", "verdicts"]
