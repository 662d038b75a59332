"""The per-code records of many event plans, written by C loops (_puts.put_records).

An apply() call of a thousand pack events writes, for each of their 24,000 codes, its
container (codes: key + PARENT), the event (code_events) and its place in the container
(children); a state change writes the new state instead (key + STATE). Built as tuples for
py-lmdb's putmulti and sorted, that cost more than the puts themselves. Here each table's
records are slices of a few byte buffers, ordered in numpy, put through one cursor.

The plans name disjoint keys (LmdbView.apply_events checks): each code's records come from
one plan, so the order records are put in changes locality only, never what is stored.
"""
from __future__ import annotations

import struct
from itertools import chain

import numpy as np

from . import _codes, _puts
from .batches import u64
from .codekeys import Keys
from .keyorder import visit_order

STATE_RECORD = struct.Struct("=BQ")   # _codes.State: status (u8), seq (u64), machine order
_SUFFIX = {"state": _codes.STATE[0], "pack": _codes.PARENT[0]}


def write_code_records(txn, store, plans, first: int) -> None:
    """The records under each plan's refs (not its parent's: the caller writes those) for
    plans given seqs first, first + 1, ...: state or container, event, children."""
    env = store.env
    refs = list(chain.from_iterable(p.refs for p in plans))
    if not refs:
        return
    n, m = len(refs), len(plans)
    keys = Keys.packed(refs)
    start, length = keys.off[:-1], np.diff(keys.off)
    plan_of = np.repeat(np.arange(m), np.fromiter((len(p.refs) for p in plans), np.int64, m))
    order = visit_order(keys)   # every ref has a key: all rows, in key order
    # code_events: ref -> the plan's seq (u64, big-endian)
    ats = b"".join(u64(first + j) for j in range(m))
    eight = np.full(n, 8, np.int64)
    _puts.put_records(env, txn, store.db_code_events, keys.buf, start, length,
                      ats, plan_of * 8, eight, order)
    # codes: ref + STATE -> State (a state change) or ref + PARENT -> the container (a pack)
    values, vstart, vlen, suffix = [], np.zeros(m, np.int64), np.zeros(m, np.int64), np.zeros(m, np.uint8)
    at, kinds = 0, np.zeros(m, bool)
    for j, p in enumerate(plans):
        if p.state is not None:
            v, suffix[j] = STATE_RECORD.pack(p.state, first + j), _SUFFIX["state"]
        elif p.link == "pack":
            v, suffix[j] = p.parent, _SUFFIX["pack"]
        else:
            continue
        values.append(v)
        vstart[j], vlen[j], kinds[j], at = at, len(v), True, at + len(v)
    rows = order[kinds[plan_of[order]]]
    if len(rows):
        buf = np.empty(len(keys.buf) + n, np.uint8)   # each ref, then its record's kind byte
        shift = np.arange(n)
        buf[np.arange(len(keys.buf)) + np.repeat(shift, length)] = keys.buf
        buf[keys.off[1:] + shift] = suffix[plan_of]
        _puts.put_records(env, txn, store.db_codes, buf, start + shift, length + 1,
                          b"".join(values), vstart[plan_of], vlen[plan_of], rows)
    # children: the container -> each ref packed into it, by container then ref
    packs = [j for j, p in enumerate(plans) if p.link == "pack" and p.parent is not None]
    if packs:
        parents = [plans[j].parent for j in packs]
        pbuf = b"".join(parents)
        pstart, plen = np.zeros(m, np.int64), np.zeros(m, np.int64)
        pstart[packs] = np.cumsum([0] + [len(k) for k in parents[:-1]])
        plen[packs] = [len(k) for k in parents]
        rank = np.empty(m, np.int64)
        rank[packs] = np.argsort(np.argsort(np.array(parents, dtype=object)))   # the containers' key order
        inpack = np.zeros(m, bool)
        inpack[packs] = True
        mine = order[inpack[plan_of[order]]]   # refs in key order, those packed
        mine = mine[np.argsort(rank[plan_of[mine]], kind="stable")]
        _puts.put_records(env, txn, store.db_children, pbuf, pstart[plan_of], plen[plan_of],
                          keys.buf, start, length, mine)
