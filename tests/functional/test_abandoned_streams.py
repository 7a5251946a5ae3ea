"""A client that abandons a streaming call must not crash the server.

grpc_reflection's descriptor database reads one answer per stream and drops the
stream; the server's access log used to ask the cancelled call for its peer,
which crashed the process (SIGSEGV in grpcio) every few dozen streams.  The
walk over every RPC (test_policy_walk) discovers methods exactly that way.
"""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

ROUNDS = 150


def test_abandoned_reflection_streams_leave_the_server_running(controller) -> None:  # type: ignore[no-untyped-def]
    for _ in range(ROUNDS):
        with grpc.insecure_channel(controller.address) as channel:
            database = ProtoReflectionDescriptorDatabase(channel)
            pool = descriptor_pool.DescriptorPool(database)
            for name in database.get_services():
                pool.FindServiceByName(name)
    with grpc.insecure_channel(controller.address) as channel:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
