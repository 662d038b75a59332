"""The order in which the C kernels visit many code keys: LMDB's key order.

The codes of a batch of scans lie at random places in the B-tree. Visited in
key order through one cursor, a leaf page holding several of them is found
(and, when recording, copied to be written) once per call instead of once per
key from the root: LMDB searches the cursor's page before descending.

Scans of one code keep their scan order (ties go by row), so its Seen record
and the chain of its scans come out as if the scans were visited one by one.
Only locality depends on the order being exact, never the result.
"""
from __future__ import annotations

import numpy as np

from . import _codes

SMALL = 32          # fewer rows: the order costs more than it saves
_OURS_LEN = 12      # pid u32 + counter u64 (codekeys.OUR_KEY)


def visit_order(keys) -> np.ndarray:
    """The rows of `keys` (codekeys.Keys) that have a key, in key order, ties in
    row order; rows without a key (unknown codes) are left out.

    Remembered on the Keys (a recorded call's keys are read, then recorded: one sort),
    its arrays made read-only so that the order cannot outlive what it sorts; a Keys
    given new arrays is sorted again."""
    memo = getattr(keys, "_visit_order", None)
    if memo is not None and memo[0] is keys.buf and memo[1] is keys.off:
        return memo[2]
    order = _visit_order(keys)
    if len(order) >= SMALL:
        keys.buf.flags.writeable = False
        keys.off.flags.writeable = False
        keys._visit_order = (keys.buf, keys.off, order)
    return order


def _visit_order(keys) -> np.ndarray:
    lens = np.diff(keys.off)
    rows = np.flatnonzero(lens)
    if len(rows) < SMALL:
        return rows
    n = len(lens)
    hi, lo = np.empty(n, np.uint64), np.empty(n, np.uint64)
    _codes.key_prefixes(keys.buf, keys.off, hi, lo)
    # Keys of ours start with a zero byte, imported codes' and SSCCs' never: ours sort first.
    ours = (lens[rows] == _OURS_LEN) & ((hi[rows] >> np.uint64(56)) == 0)
    if ours.all():
        return _ours_order(rows, hi[rows], lo[rows])
    hinted = _from_hint(keys.order_hint, rows, hi, lo) if not ours.any() else None
    if hinted is not None:
        return hinted
    mine, other = rows[ours], rows[~ours]
    # lexsort is stable: equal keys stay in row order; keys beyond 16 bytes tie on their prefix
    return np.concatenate([_ours_order(mine, hi[mine], lo[mine]),
                           other[np.lexsort((lo[other], hi[other]))]])


def _from_hint(hint, rows, hi, lo) -> np.ndarray | None:
    """The order lexsort gives (by prefix, ties by row) from a hint already sorted by
    prefix, checked in O(n) (registered codes: looked up in key order just before,
    sorting 10^6 of them again took 0.23 s); None where the hint is not that."""
    if hint is None or len(hint) != len(rows):
        return None
    hint = np.asarray(hint, np.int64)
    if len(hint) and (hint.min() < 0 or hint.max() >= len(hi)):
        return None
    covered = np.zeros(len(hi), bool)
    covered[hint] = True
    if not covered[rows].all():   # as many as rows, each row once: a permutation of them
        return None
    h, w = hi[hint], lo[hint]
    same_hi = h[1:] == h[:-1]
    if not ((h[1:] > h[:-1]) | (same_hi & (w[1:] >= w[:-1]))).all():
        return None
    tied = np.flatnonzero(same_hi & (w[1:] == w[:-1]))
    if len(tied):   # equal prefixes go by row: reorder each run of them
        at = np.zeros(len(hint), bool)
        at[tied] = at[tied + 1] = True
        members = np.flatnonzero(at)
        starts = np.ones(len(hint), bool)
        starts[tied + 1] = False
        run = np.cumsum(starts)[members].astype(np.uint64)
        row_bits = int(hint.max()).bit_length()
        hint = hint.copy()
        if int(run[-1]).bit_length() + row_bits > 64:   # 2^32 rows and more
            return None
        packed = (run << np.uint64(row_bits)) | hint[members].astype(np.uint64)   # (run, row): one sort
        packed.sort()
        hint[members] = (packed & np.uint64((1 << row_bits) - 1)).astype(np.int64)
    return hint


def _ours_order(rows, hi, lo) -> np.ndarray:
    """Keys of ours by (product id, counter), ties by row. Usually one sort of
    (pid, counter, row) packed in 64 bits: products and counters of one batch
    span few bits (about 3x faster than a stable argsort)."""
    if not len(rows):
        return rows
    pid = hi >> np.uint64(32)
    counter = (hi << np.uint64(32)) | (lo >> np.uint64(32))
    p, c = pid - pid.min(), counter - counter.min()
    bp, bc, br = (int(x.max()).bit_length() for x in (p, c, rows))
    if bp + bc + br > 64:
        return rows[np.lexsort((counter, pid))]
    packed = (p << np.uint64(bc + br)) | (c << np.uint64(br)) | rows.astype(np.uint64)
    packed.sort()
    return (packed & np.uint64((1 << br) - 1)).astype(np.int64)
