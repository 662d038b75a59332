"""What the sync and the asyncio client send and how they read the replies, with no I/O:
request builders (batch_request, code_report, scan_request, verify_batches,
check_batches, event_batches) and reply decoders (Verdicts, Checks, event_result,
chunk_array, CodeWriter). client.py and aio.py only move these over their channels."""
from __future__ import annotations

import uuid

import grpc
import numpy as np

from . import common_pb2 as cpb
from . import issuance_pb2 as ipb
from . import lifecycle_pb2 as lpb
from . import limits
from . import verification_pb2 as vpb
from .convert import (CHECK_DTYPE, answer, approval_record, batch_record, check_records, event_pb,
                      pack_scans, registry_answer, result_records, scan_bytes)

RENDERS = {"bare": ipb.RENDER_BARE, "element": ipb.RENDER_ELEMENT, "hri": ipb.RENDER_HRI,
           "dl": ipb.RENDER_DIGITAL_LINK}
VERIFY_BATCH = 16_384          # scans per VerifyBatchRequest
VERIFY_BATCH_BYTES = 4 << 20
CHECK_ANSWERS_BATCH = 2_048    # scans per CheckBatchRequest asking for answers (~1 KB each)
VERIFY_ANSWERS_BATCH = 8_192   # scans per VerifyBatchRequest asking for answers (limits)
EVENT_BATCH = 1_000            # events per EventBatch


def batch_request(scheme, product, count, *, lot=None, expiry=None, line=None, attributes=None,
                  idempotency_key=None) -> ipb.RequestBatchRequest:
    return ipb.RequestBatchRequest(
        idempotency_key=idempotency_key or str(uuid.uuid4()),
        product=cpb.Product(scheme=scheme, fields={k: str(v) for k, v in product.items()}),
        count=count, lot=lot or "", expiry=expiry or "", line=line or "",
        attributes={k: str(v) for k, v in (attributes or {}).items()})


def code_report(event_id, batch_id=0, ranges=(), codes=(), place=None, time=None, reason=None):
    return ipb.CodeReport(event_id=event_id, batch_id=batch_id,
                          ranges=[ipb.CodeRange(offset=o, count=n) for o, n in ranges],
                          codes=[c.decode() if isinstance(c, bytes) else str(c) for c in codes],
                          place=place or "", time=time or 0.0, reason=reason or "")


def verify_batches(scans, offsets, *, scanner=None, place=None, time=None, record=True,
                   answers=False, batch_size=VERIFY_BATCH, message=vpb.VerifyBatchRequest,
                   region=None, lat=None, lon=None):
    """(count, requests): the VerifyBatchRequests (or CheckBatchRequests: `message`) of a
    list of scans, each under batch_size scans and VERIFY_BATCH_BYTES bytes."""
    data, lengths = pack_scans(scans, offsets)
    ends = np.cumsum(lengths, dtype=np.int64)
    common = dict(scanner=scanner or "", place=place or "", time=time or 0.0,
                  no_record=not record, answers=answers, **location(region, lat, lon))

    def requests():
        i, seq = 0, 0
        while i < len(lengths):
            start = int(ends[i - 1]) if i else 0
            j = min(i + batch_size, int(np.searchsorted(ends, start + VERIFY_BATCH_BYTES, "right")))
            j = max(j, i + 1)
            seq += 1
            yield message(sequence=seq, data=data[start:int(ends[j - 1])],
                          lengths=lengths[i:j].tobytes(), **common)
            i = j
    return len(lengths), requests()


class Verdicts:
    """verify_many's result: ``records`` (numpy: verdict, status, fault, batch, scan_count,
    places, first_scan_time; Verdict's numbers, the wire's), ``batches`` (id -> BatchRecord),
    and with answers=True one Answer per scan (iterate, or index)."""

    def __init__(self, count: int, want_answers: bool):
        from .convert import RESULT_DTYPE
        self.records = np.zeros(count, RESULT_DTYPE)
        self.batches: dict = {}
        self.answers = [] if want_answers else None
        self._filled = 0

    def add(self, reply: vpb.VerifyBatchReply) -> None:
        self.records[self._filled:self._filled + reply.count] = result_records(reply)
        self._filled += reply.count
        self.batches.update((b.id, batch_record(b)) for b in reply.batches)
        if self.answers is not None:
            self.answers += [answer(a) for a in reply.answers]

    def __len__(self):
        return len(self.records)

    @property
    def verdicts(self) -> np.ndarray:
        return self.records["verdict"]

    def _need_answers(self):
        if self.answers is None:
            raise TypeError("ask verify_many(..., answers=True) for Answers; records has the verdicts")
        return self.answers

    def __iter__(self):
        return iter(self._need_answers())

    def __getitem__(self, i):
        return self._need_answers()[i]


def scan_request(message, scan, scanner=None, place=None, time=None, record=True,
                 region=None, lat=None, lon=None):
    """A VerifyRequest or a CheckRequest (the same fields) for one scan."""
    raw = scan_bytes(scan)
    return message(scan=raw, scanner=scanner or "", place=place or "", time=time or 0.0,
                   no_record=not record, **location(region, lat, lon))


def location(region=None, lat=None, lon=None) -> dict:
    """A Verify request's region, lat, lon fields: only those given (the server checks them)."""
    out = {"region": str(region)} if region not in (None, "") else {}
    for name, value in (("lat", lat), ("lon", lon)):
        if value not in (None, ""):
            out[name] = float(value)
    return out


def check_batches(scans, offsets, *, answers=False, batch_size=None, **kw):
    """(count, requests): the CheckBatchRequests of a list of scans."""
    if batch_size is None:
        batch_size = CHECK_ANSWERS_BATCH if answers else VERIFY_BATCH
    return verify_batches(scans, offsets, answers=answers, batch_size=batch_size,
                          message=vpb.CheckBatchRequest, **kw)


class Checks:
    """check_many's result, the counterfeit check of each scan:

    ``records`` (numpy): verdict (1 GENUINE, 2 NOT_GENUINE, 3 NOT_COVERED), kind (0 none,
    1 vet, 2 pesticide), genuine, failed and unchecked (bitmasks: bit i is ``checks[i]``),
    source (0 not found, 1 issued by us, 2 national code data), level, expiry (YYYYMMDD,
    0 none) and approval (index in ``approvals``, -1 none); ``approvals``: the registry
    records compared against, each once; ``index``: the index's Verdicts on the same
    scans; with answers=True one RegistryAnswer per scan (iterate, or index)."""

    def __init__(self, count: int, want_answers: bool):
        self.records = np.zeros(count, CHECK_DTYPE)
        self.index = Verdicts(count, False)
        self.approvals: list = []
        self.checks: tuple = ()
        self.answers = [] if want_answers else None
        self._slot: dict = {}
        self._filled = 0

    def add(self, reply: vpb.CheckBatchReply) -> None:
        rec = check_records(reply)
        local = []
        for a in reply.approvals:
            if a.number not in self._slot:
                self._slot[a.number] = len(self.approvals)
                self.approvals.append(approval_record(a))
            local.append(self._slot[a.number])
        rec["approval"] = np.array(local + [-1], np.int32)[rec["approval"]]  # -1 stays -1
        self.records[self._filled:self._filled + reply.count] = rec
        self._filled += reply.count
        self.checks = self.checks or tuple(reply.checks)
        self.index.add(reply.index)
        if self.answers is not None:
            self.answers += [registry_answer(a) for a in reply.answers]

    def __len__(self):
        return len(self.records)

    @property
    def genuine(self) -> np.ndarray:
        return self.records["genuine"]

    def names(self, mask: int) -> tuple:
        """The check names of a failed or unchecked bitmask."""
        return tuple(n for i, n in enumerate(self.checks) if int(mask) >> i & 1)

    def _need_answers(self):
        if self.answers is None:
            raise TypeError("ask check_many(..., answers=True) for RegistryAnswers; records has "
                            "the verdicts and failed checks")
        return self.answers

    def __iter__(self):
        return iter(self._need_answers())

    def __getitem__(self, i):
        return self._need_answers()[i]


class EventBatches(list):
    """The EventBatch messages of a send_events call; ``local`` holds the results of the
    events no message can carry (a batch id that is no integer...), by their position:
    each is that event's own refusal, never the whole call's."""
    local: dict

    def results(self, sent: list) -> list:
        """The results of every event, in order: the server's for those sent."""
        if not self.local:
            return sent
        it = iter(sent)
        return [self.local[i] if i in self.local else next(it)
                for i in range(len(sent) + len(self.local))]


def event_batches(events, atomic: bool, batch_size: int) -> EventBatches:
    events = list(events)
    if atomic and len(events) > limits.MAX_EVENTS_PER_BATCH:
        raise ValueError(f"an atomic call holds at most {limits.MAX_EVENTS_PER_BATCH:,} events")
    messages, local = [], {}
    for i, e in enumerate(events):
        try:
            messages.append(e if isinstance(e, lpb.Event) else event_pb(e))
        except (TypeError, ValueError, OverflowError, AttributeError) as exc:
            eid = str(e.get("id") or "")[:limits.MAX_KEY_LENGTH] if isinstance(e, dict) else ""
            local[i] = {"id": eid, "ok": False, "status": "INVALID_ARGUMENT",
                        "error": f"events[{i}] cannot be sent: " + (
                            "not an object" if not isinstance(e, dict) else str(exc)[:200])}
    if atomic and local:   # all or none: none, as the server would
        local.update({i: {"id": str(m.id), "ok": False, "status": "ABORTED",
                          "error": "not applied: another event in the batch is invalid"}
                      for i, m in zip((i for i in range(len(events)) if i not in local), messages)})
        messages = []
    size = len(messages) if atomic else batch_size
    out = EventBatches(lpb.EventBatch(sequence=n + 1, atomic=atomic, events=messages[i:i + size])
                       for n, i in enumerate(range(0, len(messages), max(size, 1))))
    out.local = local
    return out


def event_result(r: lpb.EventResult, resent: bool) -> dict:
    """As Index.apply reports it, and a rejection's status code by name ("status"). A
    resent event the server already applied is acknowledged as applied by the server
    itself (the same event from the same client, its first seq); ALREADY_EXISTS means
    another event holds the id, a refusal even on a resend."""
    if r.ok:
        return {"id": r.id, "ok": True, "seq": r.seq}
    return {"id": r.id, "ok": False, "error": r.error, "status": _CODE_NAMES.get(r.code, "UNKNOWN")}


_CODE_NAMES = {c.value[0]: c.name for c in grpc.StatusCode}


def chunk_array(chunk: ipb.CodeChunk) -> np.ndarray:
    return np.frombuffer(chunk.codes, f"S{chunk.width}", chunk.count)


class CodeWriter:
    """Codes one per line into a binary file, through one reused buffer."""

    def __init__(self, f, newline: bytes = b"\n"):
        self.f, self.newline, self.buf, self.count = f, newline, None, 0

    def write(self, codes: np.ndarray) -> None:
        k, w = len(codes), codes.dtype.itemsize
        if not self.newline:
            self.f.write(memoryview(codes).cast("B"))
        else:
            if self.buf is None or self.buf.shape[0] < k or self.buf.shape[1] != w + len(self.newline):
                self.buf = np.empty((k, w + len(self.newline)), np.uint8)
            out = self.buf[:k]
            out[:, :w] = codes.view(np.uint8).reshape(k, w)
            out[:, w:] = np.frombuffer(self.newline, np.uint8)
            self.f.write(memoryview(out).cast("B"))
        self.count += k
