"""Code keys and code texts told as the export writes them: code, scheme, product (the
product's fields in clear, e.g. "8177322" for a drug id), batch. Each distinct code is
resolved once a chunk (and remembered across chunks, up to a bound): a scan log repeats its
codes, and the Arrow columns are built by take() over the distinct values, not row by row.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from ..index import Status
from ..store import codekeys

_STATUS_NAMES = np.array([Status(s).name if s in Status._value2member_map_ else None
                          for s in range(256)], object)
MEMO = 2_000_000        # distinct keys remembered across chunks before starting again
VERIFY_CHUNK = 100_000  # codes per bulk read of their state


def product_text(product) -> str | None:
    """A product's fields in clear, in the scheme's order: "8177322", "06901234567892"."""
    if not isinstance(product, dict) or not product:
        return None
    return "/".join(str(v) for v in product.values())


def _codes_of(iss, counters: np.ndarray) -> list:
    """The bare codes of counters (ascending): one FF1 fill per run of consecutive counters."""
    lay = iss.layout("bare")
    out = np.empty(len(counters), f"S{lay.width}")
    rows = out.view(np.uint8).reshape(len(counters), lay.width)
    cuts = np.flatnonzero(np.diff(counters) != 1) + 1
    for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(counters)]):
        iss._fill(lay, int(counters[a]), rows[a:b])   # noqa: SLF001 - the issuer's kernel over a run
    return out.astype(str).tolist()


class CodeNames:
    """The codes of one data directory, by key (the scan log) and by text (events)."""

    def __init__(self, dd):
        self.dd = dd
        self.index = dd.index
        self._memo: dict = {}     # key -> (code, scheme, product, batch)
        self._products: dict = {}  # pid -> (scheme, product dict, product_key) or None
        self._batches: dict = {}

    def _batch(self, view, batch_id):
        if batch_id not in self._batches:
            self._batches[batch_id] = view.batch(batch_id)
        return self._batches[batch_id]

    def of_keys(self, keys) -> tuple:
        """(code, scheme, product, batch) Arrow arrays of a chunk's packed keys (null: no code)."""
        rows = keys.tolist()
        if len(self._memo) > MEMO:
            self._memo.clear()
        new = {k for k in rows if k is not None and k not in self._memo}
        if new:
            with self.index.store.reading() as view:
                self._resolve(view, sorted(new))
        distinct: dict = {}
        idx = np.fromiter((-1 if k is None else distinct.setdefault(k, len(distinct)) for k in rows),
                          np.int64, len(rows))
        values = [self._memo[k] for k in distinct]
        take = pa.array(idx, mask=idx < 0)
        cols = [pa.array([v[i] for v in values], t).take(take)
                for i, t in enumerate((pa.string(), pa.string(), pa.string(), pa.int64()))]
        return tuple(cols)

    def _resolve(self, view, keys: list) -> None:
        ours = [k for k in keys if codekeys.kind(k) == codekeys.OURS]
        for k in keys:
            if codekeys.kind(k) != codekeys.OURS:
                self._memo[k] = self._other(view, k)
        if not ours:
            return
        pairs = np.frombuffer(b"".join(ours), codekeys.OUR_KEY)
        pids, counters = pairs["pid"].astype(np.int64), pairs["counter"].astype(np.int64)
        for pid in np.unique(pids):
            rows = np.flatnonzero(pids == pid)
            found = self._product(view, int(pid))
            if found is None:
                for r in rows:
                    self._memo[ours[r]] = (None, None, None, None)
                continue
            scheme, product, product_key = found
            c = counters[rows]
            starts, ends, ids = view.batch_table(scheme, product_key)
            at = np.searchsorted(starts, c, side="right") - 1
            inside = (at >= 0) & (c < np.asarray(ends)[np.maximum(at, 0)])
            bids = np.where(inside, np.asarray(ids, np.int64)[np.maximum(at, 0)], 0)
            batch_ids = np.unique(bids)   # a batch's codes are under its master-key version
            by_batch = np.array([getattr(self._batch(view, int(b)), "key_version", 0) if b else 0
                                 for b in batch_ids.tolist()], np.int64)
            versions = by_batch[np.searchsorted(batch_ids, bids)]
            texts = np.empty(len(rows), object)
            for version in np.unique(versions):
                pick = np.flatnonzero(versions == version)
                texts[pick] = _codes_of(self.index.issuer(scheme, product, int(version) or None), c[pick])
            ptext = product_text(product)
            for r, code, bid in zip(rows.tolist(), texts.tolist(), bids.tolist()):
                self._memo[ours[r]] = (code, scheme, ptext, bid or None)

    def _product(self, view, pid: int):
        if pid not in self._products:
            got = view.product_of(pid)
            if got is None:
                self._products[pid] = None
            else:
                scheme, product = got
                product = dict(product) if isinstance(product, dict) else product
                iss = self.index.issuer(scheme, product)
                self._products[pid] = (scheme, iss.product, iss.product_key)
        return self._products[pid]

    def _other(self, view, key: bytes):
        kind = codekeys.kind(key)
        if kind == codekeys.SSCC:
            return key[5:].decode(), None, None, None
        code = key[4:].decode("utf-8", "replace")
        raw = view.imported_one(key)
        try:
            record = json.loads(raw) if raw else {}
        except ValueError:
            record = {}
        record = record if isinstance(record, dict) else {}
        product = record.get("product")
        return code, record.get("scheme"), product_text(product) or (
            product if isinstance(product, str) else None), None

    def state_of_codes(self, codes: list) -> dict:
        """code (as the scan export tells it: an EPCIS event's "(01)...(21)..." is the bare
        code), scheme, product, batch, status, scan_count (Arrow arrays) of code texts, in bulk."""
        parts = {name: [] for name in ("scheme", "product", "batch", "status", "scan_count", "code")}
        with self.index.store.reading() as view:
            for at in range(0, len(codes), VERIFY_CHUNK):
                got = self.index.verify_many(codes[at:at + VERIFY_CHUNK], record=False)
                rec, parsed = got.records, got.parsed
                bare = parsed.records["code"].astype(str)
                parts["code"].append(pa.array(np.where(bare != "", bare, np.array(codes[at:at + VERIFY_CHUNK],
                                                                                   object)), pa.string()))
                names = np.array(list(parsed.scheme_names) + [None], object)
                si = parsed.records["scheme"].astype(np.int64)
                parts["scheme"].append(pa.array(names[np.where(si >= 0, si, len(names) - 1)], pa.string()))
                batch = rec["batch"].astype(np.int64)
                ids = np.unique(batch[batch > 0])
                text = {int(b): product_text(getattr(self._batch(view, int(b)), "product", None)) for b in ids}
                products = pa.array([None] + [text[int(b)] for b in ids], pa.string())
                parts["product"].append(products.take(pa.array(np.searchsorted(ids, batch) + 1) if len(ids)
                                                       else pa.array(np.zeros(len(batch), np.int64))))
                parts["batch"].append(pa.array(batch, pa.int64(), mask=batch <= 0))
                known = got.found
                status = _STATUS_NAMES[rec["status"]]
                parts["status"].append(pa.array(np.where(known, status, None), pa.string()))
                # a verdict counts the scan it answers: the logged scans are one fewer
                parts["scan_count"].append(pa.array(rec["scan_count"].astype(np.int64) - known))
        return {k: pa.concat_arrays(v) if v else pa.array([], t)
                for (k, v), t in zip(parts.items(), (pa.string(), pa.string(), pa.int64(),
                                                     pa.string(), pa.int64(), pa.string()))}

    def of_texts(self, codes: list) -> tuple:
        """(code, product) Arrow arrays of code texts (None for None), as state_of_codes reads them."""
        distinct: dict = {}
        idx = np.fromiter((-1 if c is None else distinct.setdefault(c, len(distinct)) for c in codes),
                          np.int64, len(codes))
        if not distinct:
            return pa.nulls(len(codes), pa.string()), pa.nulls(len(codes), pa.string())
        got = self.state_of_codes(list(distinct))
        take = pa.array(idx, mask=idx < 0)
        return got["code"].take(take), got["product"].take(take)

