"""Between the engine's values and the wire's messages, both directions.

Bulk data never becomes one Python object per code here: codes and scans travel
as packed bytes and per-scan results as little-endian columns, turned into numpy
arrays with np.frombuffer. Enum numbers on the wire are the engine's plus one
(proto3 keeps 0 for "unspecified"); FAULT_* numbers are the engine's, and so are the
registry's kinds (REGISTRY_KIND_*: compare.KINDS) and verdicts (CheckBatch.verdicts).
"""
from __future__ import annotations

import datetime as _dt
import json

import numpy as np

from ..index import Answer, BatchRecord, Status, Verdict
from ..registry import ApprovalInfo, ApprovalRecord, Check, Product, RegistryAnswer
from . import common_pb2 as cpb
from . import lifecycle_pb2 as lpb
from . import verification_pb2 as vpb

# verify_many's results as the client returns them (Verdict's numbers, which are the
# wire's, so Verdict(records["verdict"][i]) works as it does on a local VerifyBatch)
RESULT_DTYPE = np.dtype([("verdict", "u1"), ("status", "u1"), ("fault", "u1"), ("batch", "u8"),
                         ("scan_count", "u4"), ("places", "u1"), ("first_scan_time", "f8")])
_COLUMNS = (("verdicts", "verdict", "u1"), ("statuses", "status", "u1"), ("faults", "fault", "u1"),
            ("batch_ids", "batch", "<u8"), ("scan_counts", "scan_count", "<u4"),
            ("places", "places", "u1"), ("first_scan_times", "first_scan_time", "<f8"))


# -- batches -------------------------------------------------------------------------------
def batch_pb(b: BatchRecord, code_width: int = 0) -> cpb.Batch:
    return cpb.Batch(id=b.id, product=cpb.Product(scheme=b.scheme, fields=b.product), count=b.count,
                     first_counter=b.start, lot=b.lot or "", expiry=b.expiry or "",
                     line=b.line or "", requester=b.requester or "", issued_at=b.time,
                     attributes={k: str(v) for k, v in (b.attributes or {}).items()},
                     code_width=code_width)


def batch_record(m: cpb.Batch) -> BatchRecord:
    return BatchRecord(id=m.id, scheme=m.product.scheme, product=dict(m.product.fields),
                       start=m.first_counter, count=m.count, lot=m.lot or None,
                       expiry=m.expiry or None, line=m.line or None,
                       requester=m.requester or None, time=m.issued_at,
                       attributes=dict(m.attributes))


# -- answers -------------------------------------------------------------------------------
def status_number(status: str | None) -> int:
    return Status[status.upper()] + 1 if status else 0


def answer_pb(a: Answer, fault: int = 0) -> vpb.Answer:
    return vpb.Answer(verdict=int(a.verdict), reasons=a.reasons, scheme=a.scheme or "",
                      code=a.code or "", product={k: str(v) for k, v in (a.product or {}).items()},
                      batch_id=a.batch or 0, lot=a.lot or "", expiry=a.expiry or "",
                      status=status_number(a.status), first_scan_time=a.first_scan_time or 0.0,
                      first_scan_place=a.first_scan_place or "", scan_count=a.scan_count,
                      fault=fault)


def answer(m: vpb.Answer) -> Answer:
    return Answer(verdict=Verdict(m.verdict), reasons=list(m.reasons), scheme=m.scheme or None,
                  code=m.code or None, product=dict(m.product), batch=m.batch_id or None,
                  lot=m.lot or None, expiry=m.expiry or None,
                  status=Status(m.status - 1).name.lower() if m.status else None,
                  first_scan_time=m.first_scan_time or None,
                  first_scan_place=m.first_scan_place or None, scan_count=m.scan_count)


# -- scans in, verdicts out ------------------------------------------------------------------
def pack_scans(scans, offsets=None) -> tuple[bytes, np.ndarray]:
    """(data, uint32 lengths) from a list of str/bytes, an ``S`` array, or a packed
    buffer with int64 offsets (as ScanParser.parse_many takes)."""
    if offsets is not None:
        offsets = np.asarray(offsets, np.int64)
        data = bytes(memoryview(np.ascontiguousarray(np.frombuffer(scans, np.uint8)
                                                     if isinstance(scans, (bytes, bytearray))
                                                     else scans, np.uint8)))
        return data[offsets[0]:offsets[-1]], np.diff(offsets).astype(np.uint32)
    if isinstance(scans, np.ndarray) and scans.dtype.kind == "S":
        width = scans.dtype.itemsize
        lengths = np.char.str_len(scans).astype(np.uint32)
        raw = np.ascontiguousarray(scans).view(np.uint8).reshape(len(scans), width)
        if (lengths == width).all():  # the usual bulk case: codes of one scheme
            return raw.tobytes(), lengths
        return raw[np.arange(width) < lengths[:, None]].tobytes(), lengths
    items = [s.encode("utf-8", "surrogatepass") if isinstance(s, str) else scan_bytes(s)
             for s in scans]
    return b"".join(items), np.fromiter(map(len, items), np.uint32, len(items))


def scan_bytes(scan) -> bytes:
    """A scan's bytes: str as UTF-8, bytes-like as is; anything else (None, a number) is no
    text, sent empty: that scan's EMPTY fault, never a TypeError for the call (nor bytes(5),
    five NULs)."""
    if isinstance(scan, str):
        return scan.encode("utf-8", "surrogatepass")
    return bytes(scan) if isinstance(scan, (bytes, bytearray, memoryview, np.bytes_)) else b""


def verdict_columns(records) -> dict:
    """VerifyBatchReply's columns from VerifyBatch.records (the engine's numbering)."""
    verdict = records["verdict"].astype(np.uint8)
    unknown = (verdict == Verdict.UNKNOWN) & (records["status"] == Status.ISSUED)
    out = {"verdicts": verdict.tobytes(),  # Verdict's numbers are the wire's
           "statuses": np.where(unknown, 0, records["status"] + 1).astype(np.uint8).tobytes()}
    for wire, name, dtype in _COLUMNS[2:]:
        out[wire] = records[name].astype(dtype).tobytes()
    return out


def result_records(reply: vpb.VerifyBatchReply) -> np.ndarray:
    out = np.empty(reply.count, RESULT_DTYPE)
    for wire, name, dtype in _COLUMNS:
        out[name] = np.frombuffer(getattr(reply, wire), dtype)
    out["status"] = np.where(out["status"] > 0, out["status"] - 1, 0)
    return out


# -- events and history ------------------------------------------------------------------------
def event_dict(e: lpb.Event) -> dict:
    """An Event message as Index.apply takes it (action already checked)."""
    codes = list(e.codes)
    if e.packed_codes.count:
        pc = e.packed_codes
        codes += np.frombuffer(pc.data, f"S{pc.width}", pc.count).astype(f"U{pc.width}").tolist()
    ev = {"id": e.id, "action": lpb.Action.Name(e.action)[len("ACTION_"):].lower(), "codes": codes}
    for name in ("parent", "lot", "place", "reason"):
        if getattr(e, name):
            ev[name] = getattr(e, name)
    if e.batch_id:
        ev["batch"] = e.batch_id
    if e.time or e.time_text:
        ev["time"] = e.time_text or e.time
    if e.HasField("product"):
        ev["scheme"], ev["product"] = e.product.scheme, dict(e.product.fields)
    return ev


def event_pb(ev: dict) -> lpb.Event:
    """An event dict (the JSON Lines form `tracecode events` reads) as a message."""
    t = ev.get("time")
    if t and not isinstance(t, str):   # a number: else its text, for the server to refuse
        try:                           # as this event's own error (10**400, [1], true...)
            t = float(t) if not isinstance(t, bool) and isinstance(t, (int, float)) else _text(t)
        except OverflowError:
            t = _text(t)
    m = lpb.Event(id=str(ev.get("id") or ""), parent=str(ev.get("parent") or ""),
                  lot=str(ev.get("lot") or ""), place=str(ev.get("place") or ""),
                  reason=str(ev.get("reason") or ""), batch_id=int(ev.get("batch") or 0),
                  time=t if isinstance(t, float) else 0.0,
                  time_text=t if isinstance(t, str) else "")
    action = str(ev.get("action") or "")
    m.action = lpb.Action.Value(f"ACTION_{action.upper()}") \
        if f"ACTION_{action.upper()}" in lpb.Action.keys() else 0
    codes = ev.get("codes")
    if isinstance(codes, np.ndarray) and codes.dtype.kind == "S":
        m.packed_codes.width, m.packed_codes.count = codes.dtype.itemsize, len(codes)
        m.packed_codes.data = np.ascontiguousarray(codes).tobytes()
    else:
        m.codes.extend(c.decode() if isinstance(c, (bytes, np.bytes_)) else str(c)
                       for c in codes or ())
    if ev.get("scheme") or ev.get("product"):
        m.product.scheme = str(ev.get("scheme") or "")
        m.product.fields.update({k: str(v) for k, v in (ev.get("product") or {}).items()})
    return m


def _text(value) -> str:
    """A JSON value no message field can carry as itself, as text (at most 100 characters)."""
    try:
        text = json.dumps(value, default=str)
    except ValueError:     # an int past Python's digit limit for str
        text = f"a number of {value.bit_length():,} bits" if isinstance(value, int) else repr(type(value))
    return text if len(text) <= 100 else text[:64] + f"…({len(text):,} characters)"


_OPTIONAL = ("disposition", "parent", "place", "lot", "reason")


def history_pb(item: dict) -> lpb.HistoryItem:
    t = item.get("time")
    m = lpb.HistoryItem(kind=item["kind"], time=float(t) if isinstance(t, (int, float)) else 0.0,
                        record=json.dumps(item, ensure_ascii=False))
    if item.get("via") is not None:
        m.via = item["via"]
    if item["kind"] == "scan":
        if item.get("scanner") is not None:
            m.scanner = item["scanner"]
        if item.get("place") is not None:
            m.place = item["place"]
        m.verdict = item.get("verdict") or ""
        return m
    if item["kind"] != "event":   # a transformation the code came out of: its record says it
        return m
    m.seq, m.id, m.action = item["seq"], str(item["id"]), item["action"]
    m.type, m.epcis_action, m.biz_step = item["type"], item["epcis_action"], item["bizStep"]
    m.codes.extend(item.get("codes") or ())
    for name in _OPTIONAL:
        if item.get(name) is not None:
            setattr(m, name, str(item[name]))
    if item.get("batch") is not None:
        m.batch = int(item["batch"])
    return m


# -- the counterfeit check ---------------------------------------------------------------------
REGISTRY_VERDICTS = {"GENUINE": vpb.REGISTRY_VERDICT_GENUINE,
                     "NOT_GENUINE": vpb.REGISTRY_VERDICT_NOT_GENUINE,
                     "NOT_COVERED": vpb.REGISTRY_VERDICT_NOT_COVERED}
_VERDICT_NAMES = {v: k for k, v in REGISTRY_VERDICTS.items()}
KINDS = {None: vpb.REGISTRY_KIND_UNSPECIFIED, "vet": vpb.REGISTRY_KIND_VET,
         "pesticide": vpb.REGISTRY_KIND_PESTICIDE}   # the numbers of compare.KINDS
_KIND_NAMES = {v: k for k, v in KINDS.items()}
APPROVAL_STATUSES = {"valid": vpb.APPROVAL_STATUS_VALID, "suspended": vpb.APPROVAL_STATUS_SUSPENDED,
                     "revoked": vpb.APPROVAL_STATUS_REVOKED}
_STATUS_NAMES = {v: k for k, v in APPROVAL_STATUSES.items()}
_OUTCOMES = {True: vpb.CHECK_OUTCOME_PASSED, False: vpb.CHECK_OUTCOME_FAILED,
             None: vpb.CHECK_OUTCOME_UNCHECKED}
_OUTCOME_OK = {v: k for k, v in _OUTCOMES.items()}
# check_many's results as the client returns them: verdict (RegistryVerdict numbers),
# kind (0 none, 1 vet, 2 pesticide: compare.KINDS), genuine, failed and unchecked
# bitmasks (bit i: the reply's checks[i]), source, level, expiry YYYYMMDD, approval
# (index in the result's approvals, -1 none)
CHECK_DTYPE = np.dtype([("verdict", "u1"), ("kind", "u1"), ("genuine", "?"), ("failed", "<u2"),
                        ("unchecked", "<u2"), ("source", "u1"), ("level", "u1"),
                        ("expiry", "<u4"), ("approval", "<i4")])
_CHECK_COLUMNS = (("kinds", "kind", "u1"), ("failed", "failed", "<u2"),
                  ("unchecked", "unchecked", "<u2"), ("sources", "source", "u1"),
                  ("levels", "level", "u1"), ("expiries", "expiry", "<u4"))


def approval_pb(rec) -> vpb.Approval:
    """An engine ApprovalRecord as a message."""
    return vpb.Approval(
        kind=KINDS[rec.kind], number=rec.number, company=rec.company,
        products=[vpb.ApprovedProduct(name=p.name, dosage_form=p.dosage_form or "",
                                      specification=p.specification or "") for p in rec.products],
        valid_until=rec.valid_until, status=APPROVAL_STATUSES.get(rec.status, 0),
        status_since=rec.status_since or "", enterprise_id=rec.enterprise_id or "",
        spec_codes=list(rec.spec_codes), code_prefix=rec.code_prefix or "",
        source=rec.source or "", updated=rec.updated or 0.0)


def approval_record(m: vpb.Approval):
    return ApprovalRecord(
        kind=_KIND_NAMES.get(m.kind), number=m.number, company=m.company,
        products=tuple(Product(p.name, p.dosage_form or None, p.specification or None)
                       for p in m.products),
        valid_until=m.valid_until, status=_STATUS_NAMES.get(m.status, "valid"),
        status_since=m.status_since or None, enterprise_id=m.enterprise_id or None,
        spec_codes=tuple(m.spec_codes), source=m.source or None, updated=m.updated)


def check_answer_pb(a, fault: int = 0) -> vpb.CheckAnswer:
    """A RegistryAnswer as a message; `fault` the index's fault number for the scan."""
    m = vpb.CheckAnswer(verdict=REGISTRY_VERDICTS[a.verdict], kind=KINDS[a.kind], code=a.code or "",
                        checks=[vpb.RegistryCheck(name=c.name, outcome=_OUTCOMES[c.ok],
                                                  detail=c.detail) for c in a.checks],
                        scan_approval=a.scan_approval or "", level=a.level or 0,
                        index=answer_pb(a.index, fault))
    if a.approval is not None:
        m.approval.CopyFrom(approval_pb(a.approval))
    return m


def registry_answer(m: vpb.CheckAnswer):
    """A CheckAnswer as the engine's RegistryAnswer (what `tracecode verify` prints)."""
    return RegistryAnswer(
        _VERDICT_NAMES[m.verdict], _KIND_NAMES.get(m.kind), m.code or None,
        tuple(Check(c.name, _OUTCOME_OK[c.outcome], c.detail) for c in m.checks),
        approval_record(m.approval) if m.HasField("approval") else None,
        m.scan_approval or None, m.level or None, answer(m.index))


def check_columns(batch) -> dict:
    """CheckBatchReply's columns and approvals from a CheckBatch (numpy, no step per scan)."""
    rec = batch.records
    out = {"verdicts": batch.verdicts().tobytes()}
    for wire, name, dtype in _CHECK_COLUMNS:
        out[wire] = rec[name].astype(dtype).tobytes()
    refs, records = batch.approvals()
    out["approval_indexes"] = refs.astype("<i4").tobytes()
    out["approvals"] = [approval_pb(r) for r in records]
    return out


def check_records(reply: vpb.CheckBatchReply) -> np.ndarray:
    out = np.empty(reply.count, CHECK_DTYPE)
    out["verdict"] = np.frombuffer(reply.verdicts, "u1")
    for wire, name, dtype in _CHECK_COLUMNS:
        out[name] = np.frombuffer(getattr(reply, wire), dtype)
    out["genuine"] = out["verdict"] == vpb.REGISTRY_VERDICT_GENUINE
    out["approval"] = np.frombuffer(reply.approval_indexes, "<i4")
    return out


def info_pb(info) -> vpb.ApprovalInfo:
    """An engine ApprovalInfo (manual entry of a number) as a message."""
    return vpb.ApprovalInfo(record=approval_pb(info.record), valid=info.valid,
                            validity=info.validity, on=info.on.isoformat(),
                            companies=list(info.companies))


def approval_info(m: vpb.ApprovalInfo):
    return ApprovalInfo(approval_record(m.record), m.valid, m.validity,
                        _dt.date.fromisoformat(m.on))
