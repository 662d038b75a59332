"""The gRPC adapter of a `tracecode serve` worker (tracecode.serve.worker): the four
services plus health and reflection over one Service, on the worker's SO_REUSEPORT port.

    handle = await start_grpc(svc, config, "127.0.0.1:50051")
    ...
    await handle.stop(grace)   # NOT_SERVING, then in-flight calls get `grace` seconds
"""
from __future__ import annotations

from pathlib import Path

from ..serve.config import ServeError
from . import (admin_pb2, admin_pb2_grpc, issuance_pb2, issuance_pb2_grpc, lifecycle_pb2,
               lifecycle_pb2_grpc, limits, verification_pb2, verification_pb2_grpc)
from . import epcis_pb2, epcis_pb2_grpc
from . import analytics_pb2, analytics_pb2_grpc
from .analytics import Analytics
from .epcis import Epcis
from .servicers import Admin, Issuance, Lifecycle, Verification

SERVICES = ((Issuance, issuance_pb2, issuance_pb2_grpc.add_IssuanceServicer_to_server),
            (Verification, verification_pb2, verification_pb2_grpc.add_VerificationServicer_to_server),
            (Lifecycle, lifecycle_pb2, lifecycle_pb2_grpc.add_LifecycleServicer_to_server),
            (Admin, admin_pb2, admin_pb2_grpc.add_AdminServicer_to_server),
            (Epcis, epcis_pb2, epcis_pb2_grpc.add_EpcisServicer_to_server),
            (Analytics, analytics_pb2, analytics_pb2_grpc.add_AnalyticsServicer_to_server))


def keepalive_options(seconds: float) -> list:
    """Ping each connection after `seconds` without traffic and close it when the ping is
    not answered within min(20 s, seconds): a client that vanished (power, network) must
    not keep its streams, and their slots (streams.py), open for ever. A live client that
    merely stops reading answers pings (its transport does) and keeps them."""
    ms = max(int(seconds * 1000), 1000)
    return [("grpc.keepalive_time_ms", ms), ("grpc.keepalive_timeout_ms", min(ms, 20_000)),
            ("grpc.http2.ping_timeout_ms", min(ms, 20_000)),   # what newer gRPC core times out
            ("grpc.http2.max_pings_without_data", 0),   # a stalled stream sends no data
            ("grpc.keepalive_permit_without_calls", 1)]


def credentials(config):
    import grpc
    if not config.tls_cert:
        return None
    pair = (Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes())
    ca = Path(config.client_ca).read_bytes() if config.client_ca else None
    return grpc.ssl_server_credentials([pair], root_certificates=ca, require_client_auth=ca is not None)


class GrpcHandle:
    """A started gRPC server of one worker."""

    def __init__(self, server, health_servicer):
        self.server, self.health = server, health_servicer

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


async def start_grpc(svc, config, bind: str) -> GrpcHandle:
    """Serve `svc` over gRPC on `bind` (HOST:PORT, shared with the other workers)."""
    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    from . import reflection

    server = grpc.aio.server(options=[("grpc.so_reuseport", 1), *limits.GRPC_OPTIONS,
                                      *keepalive_options(config.keepalive)])
    ours = []
    for cls, module, add in SERVICES:
        servicer = cls(svc)
        service = module.DESCRIPTOR.services_by_name[cls.__name__]
        for method in service.methods:
            if not hasattr(getattr(servicer, method.name), "roles"):
                raise ServeError(f"{service.full_name}/{method.name} has no @rpc guard")
        add(servicer, server)
        ours.append(service.full_name)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable([*ours, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name], server)
    creds = credentials(config)
    if creds is None:
        server.add_insecure_port(bind)
    else:
        server.add_secure_port(bind, creds)
    await server.start()
    for name in ["", *ours]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return GrpcHandle(server, health_servicer)
