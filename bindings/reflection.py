"""Server reflection under both of its names: grpc.reflection.v1 (which current grpcurl,
Postman and other tools try first) and grpc.reflection.v1alpha (older tools).

grpcio-reflection ships only v1alpha. The v1 protocol is the same file under another
package (same messages, same field numbers), so the v1 service reuses v1alpha's
servicer and message classes on the wire, and a renamed copy of v1alpha's file
descriptor goes into the descriptor pool so v1 can describe itself too.
"""
from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1ALPHA = reflection.SERVICE_NAME                       # grpc.reflection.v1alpha.ServerReflection
V1 = "grpc.reflection.v1.ServerReflection"
SERVICE_NAMES = (V1, V1ALPHA)
_V1_FILE = "grpc/reflection/v1/reflection.proto"


def _register_v1_descriptor(pool) -> None:
    """v1alpha's FileDescriptorProto, renamed to v1, in `pool` (once)."""
    try:
        pool.FindFileByName(_V1_FILE)
        return
    except KeyError:
        pass
    fd = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(fd)
    old = fd.package
    fd.name, fd.package = _V1_FILE, "grpc.reflection.v1"
    for message in fd.message_type:          # type references are fully qualified
        for f in message.field:
            if f.HasField("type_name"):
                f.type_name = f.type_name.replace(f".{old}.", ".grpc.reflection.v1.")
    for service in fd.service:
        for m in service.method:
            m.input_type = m.input_type.replace(f".{old}.", ".grpc.reflection.v1.")
            m.output_type = m.output_type.replace(f".{old}.", ".grpc.reflection.v1.")
    pool.Add(fd)


def enable(service_names, server, pool=None) -> None:
    """Serve reflection on a grpc.aio server under both names, listing `service_names`
    and both reflection services."""
    pool = pool or descriptor_pool.Default()
    _register_v1_descriptor(pool)
    servicer = reflection.aio.ReflectionServicer([*service_names, *SERVICE_NAMES], pool=pool)
    for name in SERVICE_NAMES:
        handler = grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo,
            request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
            response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": handler}),))
