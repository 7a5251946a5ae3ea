"""The controller end to end over real gRPC: SystemService, errors, request ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import _native
import cumulo
from cumulo import errors
from cumulo.client import Client
from cumulo.rpc.interceptors import REQUEST_ID_KEY
from tests.helpers.identity import admin_client, admin_token


@pytest.fixture
def client(controller) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    with admin_client(controller.address) as sdk:
        yield sdk


def test_get_version_reports_release_and_components(client: Client) -> None:
    version = client.system.get_version()
    assert version.version == cumulo.__version__
    assert "cumulo.system.v1" in version.api_packages
    assert {"python", "grpcio", "protobuf", "sqlalchemy"} <= set(version.components)


def test_get_info_reports_database_native_and_runtime(client: Client, controller) -> None:  # type: ignore[no-untyped-def]
    info = client.system.get_info()
    assert info.database.kind == "sqlite"
    assert info.database.schema_version >= 1
    assert info.native.backend == _native.BACKEND
    assert info.runtime.instance_id == controller.system.instance_id
    assert info.runtime.uptime.ToTimedelta().total_seconds() >= 0
    assert Path(info.runtime.data_dir) == controller.config.data_dir


def test_get_info_returns_only_the_sections_asked_for(client: Client) -> None:
    info = client.system.get_info(["native"])
    assert info.HasField("native")
    assert not info.HasField("database")
    assert not info.HasField("runtime")


def test_unknown_section_is_invalid_argument_with_hint(client: Client) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        client.system.get_info(["bogus"])
    assert "'bogus'" in caught.value.message
    assert caught.value.field == "sections"
    assert "database, native, runtime" in caught.value.hint
    assert len(caught.value.request_id) == 32


def test_malformed_request_bytes_are_invalid_argument(controller) -> None:  # type: ignore[no-untyped-def]
    with grpc.insecure_channel(controller.address) as channel:
        call = channel.unary_unary("/cumulo.system.v1.SystemService/GetInfo")
        with pytest.raises(grpc.RpcError) as caught:
            call(
                b"\xff\xff\xff",  # not a protobuf message
                timeout=10,
                metadata=[("authorization", f"Bearer {admin_token(controller.address)}")],
            )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid message" in caught.value.details()
    assert "Traceback" not in caught.value.details()


def test_request_id_is_echoed_in_trailers(controller) -> None:  # type: ignore[no-untyped-def]
    from cumulo.system.v1 import system_pb2, system_pb2_grpc

    auth = ("authorization", f"Bearer {admin_token(controller.address)}")
    with grpc.insecure_channel(controller.address) as channel:
        stub = system_pb2_grpc.SystemServiceStub(channel)
        _, call = stub.GetVersion.with_call(
            system_pb2.GetVersionRequest(),
            metadata=[(REQUEST_ID_KEY, "my-req-1"), auth],
            timeout=10,
        )
        assert (REQUEST_ID_KEY, "my-req-1") in call.trailing_metadata()
        _, call = stub.GetVersion.with_call(
            system_pb2.GetVersionRequest(),
            metadata=[(REQUEST_ID_KEY, "not a sane id!"), auth],
            timeout=10,
        )
        generated = dict(call.trailing_metadata())[REQUEST_ID_KEY]
        assert generated != "not a sane id!" and len(generated) == 32


def test_stopped_controller_gives_actionable_unavailable() -> None:
    from tests.helpers.ports import free_port

    with (
        Client(f"127.0.0.1:{free_port()}", timeout=5) as sdk,
        pytest.raises(errors.Unavailable) as caught,
    ):
        sdk.system.get_version()
    assert "cannot reach Cumulo" in str(caught.value)
    assert "cumulo up" in str(caught.value)
