"""The four gRPC services, a thin adapter over the application layer (tracecode.app):
each method decodes its request, calls the verb with the Caller and encodes the reply.
grpc.aio; one event loop per server process.

Each method names its verb with @rpc(verb): the guard identifies the caller (bearer
token, else client certificate; on an open loopback server, LOCAL), admits it by the
verb's roles, writes refusals of rights and credentials to the audit log, and turns
refusals into statuses with details (status.py). A method without @rpc cannot be
registered (server.py checks), so none is left unguarded. Engine calls run on the
loop's thread: the engine is used by one thread per process, and the processes share
the port.
"""
from __future__ import annotations

import functools
import inspect
import logging

import numpy as np

from ..app import LOCAL, Caller, Refusal, Service
from ..app.refusal import invalid
from ..app.rights import VERBS, admit
from ..app.streams import STREAMS
from ..registry import CHECKS
from . import admin_pb2 as apb
from . import (
    admin_pb2_grpc,
    issuance_pb2_grpc,
    lifecycle_pb2_grpc,
    limits,
    status,
    verification_pb2_grpc,
)
from . import issuance_pb2 as ipb
from . import lifecycle_pb2 as lpb
from . import verification_pb2 as vpb
from .convert import (
    answer_pb,
    batch_pb,
    check_answer_pb,
    check_columns,
    event_dict,
    history_pb,
    info_pb,
    verdict_columns,
)

log = logging.getLogger("tracecode.serve")

RENDERS = {ipb.RENDER_BARE: "bare", ipb.RENDER_ELEMENT: "element", ipb.RENDER_HRI: "hri",
           ipb.RENDER_DIGITAL_LINK: "dl"}
INTERNAL = Refusal("internal", "", "internal error (see the server's log)")


def identify(svc: Service, context) -> Caller:
    """The Caller a call's gRPC identity names: its bearer token, else its client
    certificate's CN (a server without a clients file: LOCAL)."""
    if svc.clients.open:  # no clients file: a loopback server open to its host
        return LOCAL
    auth = None
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            auth = value
    if auth is not None:
        kind, _, token = auth.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise Refusal("unauthenticated", "", "the authorization metadata must be "
                          "'Bearer <token>'")
        who = svc.clients.by_token(token.strip())
        if who is None:
            raise Refusal("unauthenticated", "", "unknown or revoked token")
        return who
    names = context.auth_context().get("x509_common_name")
    if names:
        cn = names[0].decode("utf-8", "replace")
        who = svc.clients.by_cn(cn)
        if who is None:
            raise Refusal("unauthenticated", "", f"the client certificate (CN={cn}) names no "
                          "known client")
        return who
    raise Refusal("unauthenticated", "", "no credentials: send 'authorization: Bearer <token>' "
                  "metadata or a client certificate")


def stream_owner(svc: Service, who: Caller, context) -> str:
    """Whose stream slots a streaming call takes: its client's, or on an open server
    (every caller LOCAL) its connection's (the peer address and port)."""
    return f"{who.name} at {context.peer()}" if svc.clients.open else who.name


def rpc(verb: str):
    """The method calls this verb of the application (see the module's docstring)."""
    def decorate(fn):
        name = fn.__name__

        async def refuse(self, context, who, exc):
            refusal = status.refusal_of(exc)
            if refusal is None:
                log.exception("%s failed", name)
                refusal = INTERNAL
            if refusal.reason in ("permission_denied", "unauthenticated"):
                self.svc.denied_audit(who, name, context.peer(), refusal)
            await context.abort_with_status(status.grpc_status(refusal))

        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def guarded(self, request, context):
                who = None
                try:
                    who = identify(self.svc, context)
                    admit(who, verb, name)
                    # streams per client are capped; on an open server (no clients file) every
                    # caller is LOCAL, so per connection: one caller cannot take everyone's
                    with STREAMS.hold(stream_owner(self.svc, who, context), name):
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
                    admit(who, verb, name)
                    return await fn(self, request, context, who)
                except Exception as exc:  # noqa: BLE001
                    await refuse(self, context, who, exc)
        guarded.roles = VERBS[verb]
        return guarded
    return decorate


class _Servicer:
    def __init__(self, svc: Service):
        self.svc = svc
        self.dd = svc.dd


class Issuance(_Servicer, issuance_pb2_grpc.IssuanceServicer):
    @rpc("issue")
    async def RequestBatch(self, req, context, who):
        batch, _ = self.svc.issue(
            who, req.product.scheme, dict(req.product.fields), req.count,
            idempotency_key=req.idempotency_key, lot=req.lot, expiry=req.expiry, line=req.line,
            attributes=dict(req.attributes), peer=context.peer())
        return batch_pb(batch, self.dd.schemes[batch.scheme].length)

    @rpc("download")
    async def DownloadCodes(self, req, context, who):
        width, chunks = self.svc.download(
            who, req.batch_id, req.offset, req.count or None, render=RENDERS.get(req.render),
            chunk_codes=req.chunk_codes, max_chunk_bytes=limits.MAX_CHUNK_BYTES)
        # a chunk is made only when the client has taken the last one (the yield waits on
        # flow control); no array or bytes of it stay referenced here meanwhile
        for off, codes in chunks:
            chunk = ipb.CodeChunk(offset=off, count=len(codes), width=width, codes=codes.tobytes())
            del codes   # the loop's name would keep the array while the client waits
            yield chunk

    def _report_args(self, req, context) -> dict:
        return {"batch_id": req.batch_id, "ranges": [(r.offset, r.count) for r in req.ranges],
                "codes": list(req.codes), "place": req.place or None, "time": req.time or None,
                "peer": context.peer()}

    @rpc("report_commissioned")
    async def ReportCommissioned(self, req, context, who):
        r = self.svc.report_commissioned(who, req.event_id, **self._report_args(req, context))
        return lpb.EventResult(id=r["id"], ok=True, seq=r["seq"])

    @rpc("report_spoiled")
    async def ReportSpoiled(self, req, context, who):
        r = self.svc.report_spoiled(who, req.event_id, reason=req.reason or None,
                                    **self._report_args(req, context))
        return lpb.EventResult(id=r["id"], ok=True, seq=r["seq"])


def _scan_options(req) -> dict:
    return {"scanner": req.scanner, "place": req.place, "time": req.time,
            "record": not req.no_record}


def _location(req) -> dict:
    """A Verify request's region and coordinates (unset: None), for the Service to check."""
    return {"region": req.region or None, "lat": req.lat if req.HasField("lat") else None,
            "lon": req.lon if req.HasField("lon") else None}


class Verification(_Servicer, verification_pb2_grpc.VerificationServicer):
    @rpc("verify")
    async def Verify(self, req, context, who):
        return answer_pb(self.svc.verify(who, req.scan, scanner=req.scanner, place=req.place,
                                         time=req.time, record=not req.no_record, **_location(req)))

    @rpc("verify_many")
    async def VerifyStream(self, requests, context, who):
        svc = self.svc
        async for req in requests:
            offsets = scan_offsets(req)
            if req.answers and len(offsets) - 1 > limits.MAX_VERIFY_ANSWERS:  # before recording
                raise invalid("lengths", f"{len(offsets) - 1:,} scans; at most "
                                           f"{limits.MAX_VERIFY_ANSWERS:,} per batch with answers")
            found = svc.verify_many(who, req.data, offsets, **_scan_options(req), **_location(req))
            rec = found.records
            reply = vpb.VerifyBatchReply(sequence=req.sequence, count=len(rec),
                                         **verdict_columns(rec))
            reply.batches.extend(batch_pb(b) for b in svc.batches_seen_by(who, rec["batch"]))
            if req.answers:
                reply.answers.extend(answer_pb(a, f) for a, f in zip(found, rec["fault"].tolist()))
            yield reply

    # -- the counterfeit check (engine/registry) -------------------------------------------
    @rpc("check")
    async def Check(self, req, context, who):
        checked = self.svc.check(who, req.scan, **_scan_options(req), **_location(req))
        return check_answer_pb(checked[0], int(checked.index.records["fault"][0]))

    @rpc("check_many")
    async def CheckStream(self, requests, context, who):
        svc = self.svc
        async for req in requests:
            offsets = scan_offsets(req)
            if req.answers and len(offsets) - 1 > limits.MAX_CHECK_ANSWERS:
                raise invalid("lengths", f"{len(offsets) - 1:,} scans; at most "
                                           f"{limits.MAX_CHECK_ANSWERS:,} per batch with answers")
            checked = svc.check_many(who, req.data, offsets, **_scan_options(req), **_location(req))
            rec = checked.index.records
            reply = vpb.CheckBatchReply(sequence=req.sequence, count=len(rec), checks=CHECKS,
                                        **check_columns(checked))
            reply.index.MergeFrom(vpb.VerifyBatchReply(sequence=req.sequence, count=len(rec),
                                                       **verdict_columns(rec)))
            reply.index.batches.extend(batch_pb(b) for b in svc.batches_seen_by(who, rec["batch"]))
            if req.answers:
                reply.answers.extend(check_answer_pb(a, f)
                                     for a, f in zip(checked, rec["fault"].tolist()))
            yield reply

    @rpc("lookup_approval")
    async def LookupApproval(self, req, context, who):
        return info_pb(self.svc.lookup_approval(who, req.number, req.date or None))


def scan_offsets(req) -> np.ndarray:
    """The int64 offsets (N + 1) of a VerifyBatchRequest's or CheckBatchRequest's packed
    scans, its lengths checked."""
    if len(req.lengths) % 4:
        raise invalid("lengths", "must be little-endian uint32s (a multiple of 4 bytes)")
    lengths = np.frombuffer(req.lengths, "<u4")
    if not 1 <= len(lengths) <= limits.MAX_SCANS_PER_BATCH:
        raise invalid("lengths", f"{len(lengths):,} scans; 1 to "
                                   f"{limits.MAX_SCANS_PER_BATCH:,} per batch")
    total = int(lengths.sum(dtype=np.uint64))
    if total != len(req.data):
        raise invalid("data", f"{len(req.data):,} bytes, but the lengths add up to "
                                   f"{total:,}")
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def _decoded(e: lpb.Event, i: int):
    """An Event message as the application takes it, or what is wrong with its encoding."""
    if e.id and e.action == lpb.ACTION_UNSPECIFIED:
        return {"id": e.id, "action": ""}      # the application says what is missing
    pc = e.packed_codes
    if pc.count and (not pc.width or len(pc.data) != pc.width * pc.count):
        return f"events[{i}].packed_codes.data must hold count * width bytes"
    if e.time and e.time_text:
        return f"events[{i}]: give time or time_text, not both"
    if len(e.codes) + pc.count > limits.MAX_CODES_PER_EVENT:  # before decoding them
        return f"events[{i}] names over {limits.MAX_CODES_PER_EVENT:,} codes"
    return event_dict(e) if e.id else {"id": ""}


class Lifecycle(_Servicer, lifecycle_pb2_grpc.LifecycleServicer):
    @rpc("apply_events")
    async def SendEvents(self, requests, context, who):
        async for req in requests:
            events = [_decoded(e, i) for i, e in enumerate(req.events)]
            results = self.svc.apply_events(who, events, atomic=req.atomic, peer=context.peer(),
                                            label=str(req.sequence))
            for r, e in zip(results, req.events):
                if not r["id"]:
                    r["id"] = e.id
            yield lpb.EventAck(sequence=req.sequence, results=[
                lpb.EventResult(id=r["id"], ok=True, seq=r["seq"]) if r["ok"] else
                lpb.EventResult(id=r["id"], code=status.code_of(r["reason"]).value[0],
                                error=r["error"]) for r in results])

    @rpc("history")
    async def History(self, req, context, who):
        items, truncated = self.svc.history(who, req.code, req.limit)
        return lpb.HistoryReply(items=[history_pb(i) for i in items], truncated=truncated)


class Admin(_Servicer, admin_pb2_grpc.AdminServicer):
    @rpc("list_schemes")
    async def ListSchemes(self, req, context, who):
        out = apb.ListSchemesReply()
        for s in self.svc.list_schemes(who):
            fields = [apb.SchemeField(name=f.name, role=f.role, length=f.length or f.max_length or 0,
                                      ai=f.ai or "", description=f.description)
                      for f in (*s.code_fields, *s.attribute_fields)]
            out.schemes.append(apb.Scheme(name=s.name, title=s.title, length=s.length, fields=fields,
                                          renders=s.renders, capacity=s.capacity))
        return out

    @rpc("list_batches")
    async def ListBatches(self, req, context, who):
        batches, more = self.svc.list_batches(who, after_id=req.after_id, scheme=req.scheme or None,
                                              limit=req.limit)
        return apb.ListBatchesReply(batches=[batch_pb(b, self.dd.schemes[b.scheme].length)
                                             for b in batches], more=more)

    @rpc("stats")
    async def Stats(self, req, context, who):
        s = self.svc.stats(who)
        return apb.StatsReply(batches=s["batches"], codes_issued=s["codes_issued"],
                              schemes=[apb.SchemeStats(**per) for per in s["schemes"]],
                              events=s["events"], scans=s["scans"], index_bytes=s["index_bytes"],
                              map_bytes=s["map_bytes"], server_version=s["server_version"])

    @rpc("whoami")
    async def WhoAmI(self, req, context, who):
        return apb.WhoAmIReply(**self.svc.whoami(who), limits=limits.message(),
                               field_limits=limits.field_limits())


SERVICERS = (Issuance, Verification, Lifecycle, Admin)
