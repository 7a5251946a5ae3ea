"""The interceptor's error table over a real server, for every call shape."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cumulo import errors
from cumulo.rpc.server import Service, start_server
from cumulo.rpc.status import error_from_rpc
from cumulo.system.v1 import system_pb2, system_pb2_grpc


class FailingSystem(system_pb2_grpc.SystemServiceServicer):
    """GetVersion raises whatever the test sets; GetInfo crashes like a bug would."""

    def __init__(self) -> None:
        self.error: Exception = errors.NotFound("no such thing", field="id")

    async def GetVersion(self, request, context):  # type: ignore[no-untyped-def]
        raise self.error

    async def GetInfo(self, request, context):  # type: ignore[no-untyped-def]
        missing: dict[str, int] = {}
        return missing["key"]  # KeyError: a server bug


@pytest.fixture
def failing(background_loop):  # type: ignore[no-untyped-def]
    servicer = FailingSystem()
    service = Service(
        "cumulo.system.v1.SystemService",
        servicer,
        system_pb2_grpc.add_SystemServiceServicer_to_server,
    )
    running = background_loop.run(start_server("127.0.0.1:0", [service]))
    yield servicer, running.address
    background_loop.run(running.server.stop(0.1))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidArgument("bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.NotFound("gone"), grpc.StatusCode.NOT_FOUND),
        (errors.PermissionDenied("no"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.QuotaExceeded("full"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (errors.Conflict("busy"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.OutOfRange("past end"), grpc.StatusCode.OUT_OF_RANGE),
    ],
)
def test_domain_errors_map_through_the_table(failing, error, code) -> None:  # type: ignore[no-untyped-def]
    servicer, address = failing
    servicer.error = error
    with grpc.insecure_channel(address) as channel:
        stub = system_pb2_grpc.SystemServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetVersion(system_pb2.GetVersionRequest(), timeout=10)
    assert caught.value.code() == code
    back = error_from_rpc(caught.value)
    assert type(back) is type(error)
    assert back.message == error.message


def test_unexpected_exception_is_internal_without_traceback(failing) -> None:  # type: ignore[no-untyped-def]
    _, address = failing
    with grpc.insecure_channel(address) as channel:
        stub = system_pb2_grpc.SystemServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetInfo(system_pb2.GetInfoRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "request id" in caught.value.details()
    assert "KeyError" not in caught.value.details()
    assert "Traceback" not in caught.value.details()


def test_health_and_reflection_are_served(failing) -> None:  # type: ignore[no-untyped-def]
    _, address = failing
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(
            health_pb2.HealthCheckRequest(service="cumulo.system.v1.SystemService"), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_listen_address_in_use_is_unavailable(failing, background_loop) -> None:  # type: ignore[no-untyped-def]
    _, address = failing
    with pytest.raises(errors.Unavailable, match="cannot listen"):
        background_loop.run(start_server(address, []))


class WorkingSystem(system_pb2_grpc.SystemServiceServicer):
    async def GetVersion(self, request, context):  # type: ignore[no-untyped-def]
        return system_pb2.GetVersionResponse()

    async def GetInfo(self, request, context):  # type: ignore[no-untyped-def]
        raise errors.NotFound("nothing here")


def test_quiet_methods_log_success_at_debug_and_failure_at_info(
    background_loop, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    service = Service(
        "cumulo.system.v1.SystemService",
        WorkingSystem(),
        system_pb2_grpc.add_SystemServiceServicer_to_server,
    )
    running = background_loop.run(
        start_server("127.0.0.1:0", [service], quiet_prefixes=["/cumulo.system.v1.SystemService/"])
    )
    try:
        caplog.set_level("DEBUG", logger="cumulo.rpc")
        with grpc.insecure_channel(running.address) as channel:
            stub = system_pb2_grpc.SystemServiceStub(channel)
            stub.GetVersion(system_pb2.GetVersionRequest(), timeout=10)
            with pytest.raises(grpc.RpcError):
                stub.GetInfo(system_pb2.GetInfoRequest(), timeout=10)
    finally:
        background_loop.run(running.server.stop(0.1))
    levels = {
        record.getMessage().split()[0]: record.levelname
        for record in caplog.records
        if record.name == "cumulo.rpc"
    }
    assert levels["/cumulo.system.v1.SystemService/GetVersion"] == "DEBUG"
    assert levels["/cumulo.system.v1.SystemService/GetInfo"] == "INFO"
