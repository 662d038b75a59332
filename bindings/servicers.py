"""The four services, thin over the engine (grpc.aio; one event loop per server process).

Each method declares who may call it with @rpc(roles): the guard identifies the caller
(bearer token, else client certificate; on an open loopback server, LOCAL),
refuses other roles with PERMISSION_DENIED, writes refusals of rights and credentials
to the audit log, and turns errors into statuses with details (status.py). A method
without @rpc cannot be registered (server.py checks), so none is left unguarded.
Engine calls run on the loop's thread: the engine is used by one thread per process,
and the processes share the port.
"""
from __future__ import annotations

import datetime as _dt
import functools
import inspect
import logging

import numpy as np

from ..errors import UnknownApproval
from ..index import ACTIONS, BatchRecord, lifecycle
from ..store.lmdb.batches import u64
from ..issuance import Issuer
from ..registry import CHECKS
from ..registry.records import RowError, canonical_number
from . import admin_pb2 as apb
from . import admin_pb2_grpc
from . import issuance_pb2 as ipb
from . import issuance_pb2_grpc
from . import lifecycle_pb2 as lpb
from . import lifecycle_pb2_grpc
from . import limits, status
from .audit import AuditError
from . import verification_pb2 as vpb
from . import verification_pb2_grpc
from .auth import LOCAL, ROLES, Identity
from .convert import (answer_pb, batch_pb, check_answer_pb, check_columns, event_dict, history_pb,
                      info_pb, verdict_columns)
from .service import Service, is_sscc
from .streams import STREAMS

log = logging.getLogger("tracecode.serve")

ISSUING = ("issuer", "admin")
VERIFYING = ("scanner", "issuer", "regulator", "admin")
CHECKING = ("scanner", "regulator", "admin")   # the registry's counterfeit check
EVENTS = ("issuer", "regulator", "admin")
READING = ("issuer", "regulator", "admin")
OVERSEEING = ("regulator", "admin")
RENDERS = {ipb.RENDER_BARE: "bare", ipb.RENDER_ELEMENT: "element", ipb.RENDER_HRI: "hri",
           ipb.RENDER_DIGITAL_LINK: "dl"}


def identify(svc: Service, context) -> Identity:
    if svc.clients.open:  # no clients file: a loopback server open to its host
        return LOCAL
    auth = None
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            auth = value
    if auth is not None:
        kind, _, token = auth.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise status.unauthenticated("the authorization metadata must be 'Bearer <token>'")
        who = svc.clients.by_token(token.strip())
        if who is None:
            raise status.unauthenticated("unknown or revoked token")
        return who
    names = context.auth_context().get("x509_common_name")
    if names:
        cn = names[0].decode("utf-8", "replace")
        who = svc.clients.by_cn(cn)
        if who is None:
            raise status.unauthenticated(f"the client certificate (CN={cn}) names no known client")
        return who
    raise status.unauthenticated("no credentials: send 'authorization: Bearer <token>' "
                                 "metadata or a client certificate")


def rpc(*roles):
    """Who may call the method; the guard around it (see the module's docstring)."""
    allowed = frozenset(roles)

    def decorate(fn):
        name = fn.__name__

        def admit(who):
            if who.roles.isdisjoint(allowed):
                raise status.denied(f"{who.name} ({', '.join(sorted(who.roles))}) may not call "
                                    f"{name}; it needs one of: {', '.join(sorted(allowed))}",
                                    client=who.name)

        async def refuse(self, context, who, exc):
            refusal = status.refusal_of(exc)
            if refusal is None:
                log.exception("%s failed", name)
                refusal = status.Refusal(status.Code.INTERNAL, "internal error (see the server's log)",
                                         reason="INTERNAL")
            if refusal.code in (status.Code.PERMISSION_DENIED, status.Code.UNAUTHENTICATED):
                self.svc.denied_audit(who, name, context.peer(), refusal)
            await context.abort_with_status(refusal.status())

        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def guarded(self, request, context):
                who = None
                try:
                    who = identify(self.svc, context)
                    admit(who)
                    with STREAMS.hold(who.name, name):  # streams per client are capped
                        async for reply in fn(self, request, context, who):
                            yield reply
                except Exception as exc:  # noqa: BLE001 - every error becomes a status
                    await refuse(self, context, who, exc)
        else:
            @functools.wraps(fn)
            async def guarded(self, request, context):
                who = None
                try:
                    who = identify(self.svc, context)
                    admit(who)
                    return await fn(self, request, context, who)
                except Exception as exc:  # noqa: BLE001
                    await refuse(self, context, who, exc)
        guarded.roles = allowed
        return guarded
    return decorate


class _Servicer:
    def __init__(self, svc: Service):
        self.svc = svc
        self.dd = svc.dd


class Issuance(_Servicer, issuance_pb2_grpc.IssuanceServicer):
    @rpc(*ISSUING)
    async def RequestBatch(self, req, context, who):
        svc = self.svc
        key = svc.key("idempotency_key", req.idempotency_key)
        if " " in key:  # the batch's requester is "<client> request <key>": keep it unambiguous
            raise status.invalid("idempotency_key", "must not contain spaces")
        scheme = svc.scheme(req.product.scheme)
        product = svc.values(scheme.product_values, dict(req.product.fields), "product.fields")
        svc.require_owner(who, scheme.name, product, "issue codes for")
        if not 1 <= req.count <= limits.MAX_BATCH_CODES:
            raise status.invalid("count", f"{req.count:,} is not between 1 and "
                                          f"{limits.MAX_BATCH_CODES:,}")
        attributes = dict(req.attributes)
        svc.values(scheme.attribute_values, attributes, "attributes")
        # audited before and after: no batch exists without its intent in the audit log
        asked = {"scheme": scheme.name, "product": product, "count": req.count,
                 "idempotency_key": key}
        try:
            svc.audit.write("issue_intent", who.name, "RequestBatch", context.peer(), **asked)
        except AuditError as exc:
            raise status.exhausted("audit_log", f"nothing issued: {exc}", "AUDIT_LOG_FULL") from None
        try:
            batch, replayed = svc.issuing.issue(
                who.name, key, scheme.name, product, req.count, lot=req.lot or None,
                expiry=req.expiry or None, line=req.line or None, attributes=attributes)
        except Exception as exc:  # noqa: BLE001 - the intent's outcome, then the refusal
            try:
                svc.audit.write("issue_refused", who.name, "RequestBatch", context.peer(),
                                error=str(exc), **asked)
            except AuditError:
                pass  # the intent is there; the refusal goes to the caller either way
            if isinstance(exc, ValueError):  # the index's checks: the expiry, bounded text (named)
                raise status.refusal_of(exc, "" if getattr(exc, "field", None) else "expiry") from None
            raise
        try:
            svc.audit.write("issue", who.name, "RequestBatch", context.peer(), batch=batch.id,
                            scheme=scheme.name, product=product, count=batch.count,
                            first_counter=batch.start, idempotency_key=key, replayed=replayed)
        except AuditError as exc:
            raise status.exhausted(
                "audit_log", f"batch {batch.id} committed, audit line not written ({exc}); its "
                f"intent is in the audit log: retry with the same idempotency key for the batch",
                "AUDIT_INCOMPLETE", batch=batch.id) from None
        return batch_pb(batch, scheme.length)

    @rpc(*ISSUING)
    async def DownloadCodes(self, req, context, who):
        batch = self.svc.batch(req.batch_id)
        self.svc.require_owner(who, batch.scheme, batch.product, "download codes of")
        scheme = self.svc.scheme(batch.scheme)
        render = RENDERS.get(req.render)
        if render not in scheme.renders:
            raise status.invalid("render", f"{scheme.name} codes render as {', '.join(scheme.renders)}")
        if req.offset >= batch.count:
            raise status.invalid("offset", f"batch {batch.id} has {batch.count:,} codes")
        count = req.count or batch.count - req.offset
        if req.offset + count > batch.count:
            raise status.invalid("count", f"offset + count passes the end of batch {batch.id} "
                                          f"({batch.count:,} codes)")
        # an Issuer of its own: rendering is pure FF1, nothing shared with the index
        iss = Issuer(scheme, batch.product, self.dd.master_key)
        width = iss.layout(render, batch.attributes).width
        per = max(1, min(req.chunk_codes or limits.DEFAULT_CHUNK_CODES, limits.MAX_CHUNK_CODES,
                         limits.MAX_CHUNK_BYTES // width))
        end = req.offset + count
        for off in range(req.offset, end, per):
            k = min(per, end - off)
            # a chunk is made only when the client has taken the last one (the yield waits
            # on flow control); no array or bytes of it stay referenced here meanwhile
            yield ipb.CodeChunk(offset=off, count=k, width=width, codes=iss.codes(
                batch.start + off, k, render, batch.attributes).tobytes())

    async def _report(self, req, context, who, action: str):
        svc = self.svc
        event_id = svc.key("event_id", req.event_id)
        total = sum(r.count for r in req.ranges) + len(req.codes)  # before building any code
        if not total:
            raise status.invalid("ranges", "name the codes: ranges of the batch, or codes")
        if total > limits.MAX_CODES_PER_EVENT:
            raise status.invalid("ranges", f"{total:,} codes; at most "
                                           f"{limits.MAX_CODES_PER_EVENT:,} per report")
        codes = []
        if req.ranges:
            batch = svc.batch(req.batch_id)
            svc.require_owner(who, batch.scheme, batch.product, action)
            for i, r in enumerate(req.ranges):
                if not r.count or r.offset + r.count > batch.count:
                    raise status.invalid(f"ranges[{i}]", f"{r.offset:,} + {r.count:,} is not a "
                                         f"non-empty run inside batch {batch.id} ({batch.count:,} codes)")
            iss = self.dd.issuer(batch.scheme, batch.product)
            for r in req.ranges:
                run = iss.codes(batch.start + r.offset, r.count)
                codes += run.astype(f"U{run.dtype.itemsize}").tolist()
        if req.codes:
            svc.require_codes(who, list(req.codes), action)
            codes += list(req.codes)
        event = {"id": event_id, "action": action, "codes": codes}
        for name in ("place", "reason"):
            if getattr(req, name):
                event[name] = getattr(req, name)
        if req.time:
            event["time"] = svc.when(req.time)
        result = self.dd.apply([event], client=who.name)[0]   # event ids are per client
        if not result["ok"]:
            raise event_refusal(event_id, result)
        return lpb.EventResult(id=event_id, ok=True, seq=result["seq"])

    @rpc(*ISSUING)
    async def ReportCommissioned(self, req, context, who):
        return await self._report(req, context, who, "commission")

    @rpc(*ISSUING)
    async def ReportSpoiled(self, req, context, who):
        return await self._report(req, context, who, "decommission")


def one_scan(scan: bytes) -> None:
    """A scan of a unary call must be there and within the size limit."""
    if not scan:
        raise status.invalid("scan", "empty scan", reason="SCAN_EMPTY", fault="EMPTY")
    if len(scan) > limits.MAX_SCAN_BYTES:
        raise status.invalid("scan", f"{len(scan):,} bytes; at most {limits.MAX_SCAN_BYTES:,}",
                             reason="SCAN_TOO_LONG", fault="TOO_LONG")


class Verification(_Servicer, verification_pb2_grpc.VerificationServicer):
    @rpc(*VERIFYING)
    async def Verify(self, req, context, who):
        svc, scan = self.svc, req.scan
        one_scan(scan)
        ans = self.dd.verify(scan, scanner=svc.scanner(who, req.scanner), place=req.place or None,
                             when=svc.when(req.time), record=svc.record(who, req.no_record))
        if ans.fault:
            raise svc.unreadable(scan)
        return answer_pb(ans)

    @rpc(*VERIFYING)
    async def VerifyStream(self, requests, context, who):
        svc = self.svc
        async for req in requests:
            offsets = scan_offsets(req)
            if req.answers and len(offsets) - 1 > limits.MAX_VERIFY_ANSWERS:  # before recording
                raise status.invalid("lengths", f"{len(offsets) - 1:,} scans; at most "
                                                f"{limits.MAX_VERIFY_ANSWERS:,} per batch with answers")
            found = self.dd.verify_many(req.data, offsets,
                                        scanner=svc.scanner(who, req.scanner),
                                        place=req.place or None, when=svc.when(req.time),
                                        record=svc.record(who, req.no_record))
            rec = found.records
            reply = vpb.VerifyBatchReply(sequence=req.sequence, count=len(rec),
                                         **verdict_columns(rec))
            ids = np.unique(rec["batch"])
            reply.batches.extend(svc.batch_seen_by(who, b) for b in ids[ids != 0].tolist())
            if req.answers:
                reply.answers.extend(answer_pb(a, f) for a, f in zip(found, rec["fault"].tolist()))
            yield reply

    # -- the counterfeit check (engine/registry) -------------------------------------------
    def _registry(self):
        registry = self.dd.registry
        if not registry:
            raise status.precondition("NO_REGISTRY", "registry", "the server has no product "
                                      "registry (import one with `tracecode registry import`)")
        return registry

    @rpc(*CHECKING)
    async def Check(self, req, context, who):
        svc, scan = self.svc, req.scan
        one_scan(scan)
        checked = self._registry().check_many(
            [scan], scanner=svc.scanner(who, req.scanner), place=req.place or None,
            when=svc.when(req.time), record=svc.record(who, req.no_record))
        return check_answer_pb(checked[0], int(checked.index.records["fault"][0]))

    @rpc(*CHECKING)
    async def CheckStream(self, requests, context, who):
        svc = self.svc
        async for req in requests:
            offsets = scan_offsets(req)
            if req.answers and len(offsets) - 1 > limits.MAX_CHECK_ANSWERS:
                raise status.invalid("lengths", f"{len(offsets) - 1:,} scans; at most "
                                                f"{limits.MAX_CHECK_ANSWERS:,} per batch with answers")
            checked = self._registry().check_many(
                req.data, offsets, scanner=svc.scanner(who, req.scanner), place=req.place or None,
                when=svc.when(req.time), record=svc.record(who, req.no_record))
            rec = checked.index.records
            reply = vpb.CheckBatchReply(sequence=req.sequence, count=len(rec), checks=CHECKS,
                                        **check_columns(checked))
            reply.index.MergeFrom(vpb.VerifyBatchReply(sequence=req.sequence, count=len(rec),
                                                       **verdict_columns(rec)))
            ids = np.unique(rec["batch"])
            reply.index.batches.extend(svc.batch_seen_by(who, b) for b in ids[ids != 0].tolist())
            if req.answers:
                reply.answers.extend(check_answer_pb(a, f)
                                     for a, f in zip(checked, rec["fault"].tolist()))
            yield reply

    @rpc(*ROLES)
    async def LookupApproval(self, req, context, who):
        text = req.number.strip()
        if not text:
            raise status.invalid("number", "required")
        try:
            _, number = canonical_number(text)
        except RowError as exc:
            raise status.invalid("number", str(exc), reason="INVALID_NUMBER") from None
        on = None
        if req.date:
            try:
                on = _dt.date.fromisoformat(req.date)
            except ValueError:
                raise status.invalid("date", f"{req.date!r} is not a date (YYYY-MM-DD)") from None
        try:
            info = self._registry().lookup(number, on)
        except UnknownApproval as exc:
            raise status.not_found("approval", number, str(exc)) from None
        return info_pb(info)


def scan_offsets(req) -> np.ndarray:
    """The int64 offsets (N + 1) of a VerifyBatchRequest's or CheckBatchRequest's packed
    scans, its lengths checked."""
    if len(req.lengths) % 4:
        raise status.invalid("lengths", "must be little-endian uint32s (a multiple of 4 bytes)")
    lengths = np.frombuffer(req.lengths, "<u4")
    if not 1 <= len(lengths) <= limits.MAX_SCANS_PER_BATCH:
        raise status.invalid("lengths", f"{len(lengths):,} scans; 1 to "
                                        f"{limits.MAX_SCANS_PER_BATCH:,} per batch")
    total = int(lengths.sum(dtype=np.uint64))
    if total != len(req.data):
        raise status.invalid("data", f"{len(req.data):,} bytes, but the lengths add up to {total:,}")
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def event_refusal(event_id: str, result: dict) -> status.Refusal:
    code, error = event_code(result), result["error"]
    if code is status.Code.ALREADY_EXISTS:
        return status.already_exists("event", event_id, error)
    if code is status.Code.NOT_FOUND:
        return status.not_found("code", event_id, error)
    if code is status.Code.FAILED_PRECONDITION:
        return status.precondition("TRANSITION", event_id, error)
    if code is status.Code.PERMISSION_DENIED:  # an SSCC another client packed into first
        return status.denied(error)
    return status.invalid("event", error)


_EVENT_CODES = {lifecycle.DUPLICATE_EVENT: status.Code.ALREADY_EXISTS,
                lifecycle.NOT_HOLDER: status.Code.PERMISSION_DENIED,
                lifecycle.UNKNOWN_CODE: status.Code.NOT_FOUND,
                lifecycle.ILLEGAL_TRANSITION: status.Code.FAILED_PRECONDITION,
                lifecycle.NOT_APPLIED: status.Code.ABORTED}


def event_code(result: dict) -> status.Code:
    """The status code of an event Index.apply rejected, from its machine-readable reason."""
    return _EVENT_CODES.get(result.get("reason"), status.Code.INVALID_ARGUMENT)


class Lifecycle(_Servicer, lifecycle_pb2_grpc.LifecycleServicer):
    @rpc(*EVENTS)
    async def SendEvents(self, requests, context, who):
        async for req in requests:
            n = len(req.events)
            if not 1 <= n <= limits.MAX_EVENTS_PER_BATCH:
                raise status.invalid("events", f"{n:,} events; 1 to "
                                               f"{limits.MAX_EVENTS_PER_BATCH:,} per batch")
            results: list = [None] * n
            todo = []
            for i, e in enumerate(req.events):
                problem = self._malformed(e, i)
                if problem:
                    results[i] = lpb.EventResult(id=e.id, code=status.Code.INVALID_ARGUMENT.value[0],
                                                 error=problem)
                    continue
                ev = event_dict(e)
                self._authorize(who, ev)
                todo.append((i, ev))
            if req.atomic and len(todo) < n:
                todo = []
            recalls = [ev for _, ev in todo if ev["action"] == "recall"]
            try:  # audited before they are applied: no recall without its intent in the log
                for ev in recalls:
                    self.svc.audit.write("recall_intent", who.name, "SendEvents", context.peer(),
                                         event_id=ev["id"], codes=len(ev["codes"]),
                                         batch=ev.get("batch"), lot=ev.get("lot"),
                                         reason=ev.get("reason"))
            except AuditError as exc:
                raise status.exhausted("audit_log", f"events of message {req.sequence} not "
                                       f"applied: {exc}", "AUDIT_LOG_FULL") from None
            applied = self.dd.apply([ev for _, ev in todo], atomic=req.atomic,  # ids per client
                                    client=who.name, bind_ssccs=not who.admin) if todo else []
            for (i, ev), r in zip(todo, applied):
                results[i] = lpb.EventResult(id=str(r["id"]), ok=True, seq=r["seq"]) if r["ok"] \
                    else lpb.EventResult(id=str(r["id"]), code=event_code(r).value[0],
                                         error=r["error"])
                if ev["action"] == "recall":
                    try:
                        self.svc.audit.write("recall", who.name, "SendEvents", context.peer(),
                                             event_id=ev["id"], ok=r["ok"], error=r.get("error"),
                                             codes=len(ev["codes"]), batch=ev.get("batch"),
                                             lot=ev.get("lot"), reason=ev.get("reason"))
                    except AuditError as exc:  # applied, and its intent is in the log: ack it
                        log.error("recall %s (ok=%s) audited by its intent only: %s", ev["id"],
                                  r["ok"], exc)
            for i, r in enumerate(results):
                if r is None:  # atomic: refused because of another event
                    results[i] = lpb.EventResult(id=req.events[i].id, code=status.Code.ABORTED.value[0],
                                                 error="not applied: another event in the batch "
                                                       "is invalid")
            yield lpb.EventAck(sequence=req.sequence, results=results)

    def _malformed(self, e, i) -> str | None:
        if not e.id:
            return f"events[{i}].id is required"
        if len(e.id) > limits.MAX_KEY_LENGTH:
            return f"events[{i}].id is over {limits.MAX_KEY_LENGTH} characters"
        if e.action == lpb.ACTION_UNSPECIFIED:
            return f"events[{i}].action is required; actions: {', '.join(ACTIONS)}"
        if len(e.codes) + e.packed_codes.count > limits.MAX_CODES_PER_EVENT:
            return f"events[{i}] names over {limits.MAX_CODES_PER_EVENT:,} codes"
        pc = e.packed_codes
        if pc.count and (not pc.width or len(pc.data) != pc.width * pc.count):
            return f"events[{i}].packed_codes.data must hold count * width bytes"
        if e.time and e.time_text:
            return f"events[{i}]: give time or time_text, not both"
        if e.time:
            try:
                self.svc.when(e.time, f"events[{i}].time")
            except status.Refusal as exc:
                return exc.message
        if e.HasField("product"):
            if e.product.scheme not in self.dd.schemes:
                return f"events[{i}].product.scheme: unknown scheme {e.product.scheme!r}"
            try:
                self.dd.schemes[e.product.scheme].product_values(dict(e.product.fields))
            except ValueError as exc:
                return f"events[{i}].product.fields: {exc}"
        return None

    def _authorize(self, who: Identity, ev: dict) -> None:
        """The whole message is refused if one event is outside the sender's rights."""
        if who.admin or (ev["action"] == "recall" and "regulator" in who.roles):
            return
        if "issuer" not in who.roles:
            raise status.denied(f"{who.name} may not send {ev['action']} events", client=who.name)
        what = f"send {ev['action']} events about"
        if ev.get("batch"):
            b = self.svc.batch(int(ev["batch"]), "events.batch_id")
            self.svc.require_owner(who, b.scheme, b.product, what)
        if ev.get("scheme"):
            self.svc.require_owner(who, ev["scheme"], ev.get("product") or {}, what)
        self.svc.require_codes(who, ev["codes"] + ([ev["parent"]] if ev.get("parent") else []), what)

    @rpc(*READING)
    async def History(self, req, context, who):
        code = req.code.strip()
        if not code:
            raise status.invalid("code", "required")
        if not is_sscc(code) and self.dd.verify(code, record=False).fault:  # before any rights:
            raise self.svc.unreadable(code.encode())  # a typo is not a refusal to audit
        self.svc.require_codes(who, [code], "read the history of", read=True)
        try:
            items = self.dd.history(code)
        except ValueError as exc:  # EventError: the index knows no such code
            raise status.not_found("code", code, str(exc)) from None
        limit = min(req.limit or limits.MAX_HISTORY_ITEMS, limits.MAX_HISTORY_ITEMS)
        return lpb.HistoryReply(items=[history_pb(i) for i in items[-limit:]],
                                truncated=len(items) > limit)


class Admin(_Servicer, admin_pb2_grpc.AdminServicer):
    @rpc(*ROLES)
    async def ListSchemes(self, req, context, who):
        out = apb.ListSchemesReply()
        for name in sorted(self.dd.schemes):
            s = self.dd.schemes[name]
            fields = [apb.SchemeField(name=f.name, role=f.role, length=f.length or f.max_length or 0,
                                      ai=f.ai or "", description=f.description)
                      for f in (*s.code_fields, *s.attribute_fields)]
            out.schemes.append(apb.Scheme(name=s.name, title=s.title, length=s.length, fields=fields,
                                          renders=s.renders, capacity=s.capacity))
        return out

    @rpc(*READING)
    async def ListBatches(self, req, context, who):
        limit = min(req.limit or limits.DEFAULT_BATCH_PAGE, limits.MAX_BATCH_PAGE)
        out = apb.ListBatchesReply()
        for b in self._batches(req.after_id + 1):
            if len(out.batches) == limit:
                out.more = True
                break
            if (not req.scheme or b.scheme == req.scheme) and (
                    not who.roles.isdisjoint(OVERSEEING) or who.owns(b.scheme, b.product)):
                out.batches.append(batch_pb(b, self.dd.schemes[b.scheme].length))
        return out

    def _batches(self, first_id: int):
        records = self.dd.index.batches.records
        with self.dd.index.env.begin(db=records) as txn:
            cur = txn.cursor()
            if cur.set_range(u64(first_id)):
                for _, raw in cur:
                    yield BatchRecord.from_bytes(raw)

    @rpc(*OVERSEEING)
    async def Stats(self, req, context, who):
        per: dict = {}
        for b in self._batches(1):
            s = per.setdefault(b.scheme, apb.SchemeStats(scheme=b.scheme))
            s.batches += 1
            s.codes_issued += b.count
        index = self.dd.index
        env = index.env
        with env.begin() as txn:
            events = txn.stat(index.db_events)["entries"]
            scans = txn.stat(index.db_scans)["entries"]
        with env.begin(db=index.batches.counters) as txn:
            for key, _ in txn.cursor():
                scheme = key.split(b"\x00", 1)[0].decode()
                if scheme in per:
                    per[scheme].products += 1
        info = env.info()
        return apb.StatsReply(batches=sum(s.batches for s in per.values()),
                              codes_issued=sum(s.codes_issued for s in per.values()),
                              schemes=[per[k] for k in sorted(per)], events=events, scans=scans,
                              index_bytes=(info["last_pgno"] + 1) * env.stat()["psize"],
                              map_bytes=info["map_size"], server_version=self.svc.version)

    @rpc(*ROLES)
    async def WhoAmI(self, req, context, who):
        return apb.WhoAmIReply(name=who.name, authenticated_by=who.via, roles=sorted(who.roles),
                               products=[str(r) for r in who.products], limits=limits.message(),
                               server_version=self.svc.version, registry=bool(self.dd.registry),
                               field_limits=limits.field_limits())


SERVICERS = (Issuance, Verification, Lifecycle, Admin)
