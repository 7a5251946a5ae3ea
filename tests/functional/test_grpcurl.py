"""The real grpcurl against a real controller: list, describe and a JSON call."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers.identity import admin_token
from tests.helpers.tools import venv_tool


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("grpcurl"), "-plaintext", *args], capture_output=True, text=True, timeout=30
    )


def test_list_shows_cumulo_health_and_reflection(controller) -> None:  # type: ignore[no-untyped-def]
    result = grpcurl(controller.address, "list")
    assert result.returncode == 0, result.stderr
    services = result.stdout.split()
    assert "cumulo.system.v1.SystemService" in services
    assert "grpc.health.v1.Health" in services
    assert "grpc.reflection.v1alpha.ServerReflection" in services


def test_describe_shows_methods_and_messages(controller) -> None:  # type: ignore[no-untyped-def]
    result = grpcurl(controller.address, "describe", "cumulo.system.v1.SystemService")
    assert result.returncode == 0, result.stderr
    assert "rpc GetInfo ( .cumulo.system.v1.GetInfoRequest )" in result.stdout
    message = grpcurl(controller.address, "describe", "cumulo.system.v1.GetInfoRequest")
    assert "repeated string sections = 1;" in message.stdout


def bearer(controller) -> str:  # type: ignore[no-untyped-def]
    return f"authorization: Bearer {admin_token(controller.address)}"


def test_call_with_json_body(controller) -> None:  # type: ignore[no-untyped-def]
    result = grpcurl(
        "-H",
        bearer(controller),
        "-d",
        '{"sections": ["native"]}',
        controller.address,
        "cumulo.system.v1.SystemService/GetInfo",
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"native"}
    assert body["native"]["backend"] in ("cython", "python")


@pytest.mark.parametrize("body", ['{"sections": ["nope"]}'])
def test_bad_value_is_invalid_argument_in_grpcurl(controller, body: str) -> None:  # type: ignore[no-untyped-def]
    result = grpcurl(
        "-H",
        bearer(controller),
        "-d",
        body,
        controller.address,
        "cumulo.system.v1.SystemService/GetInfo",
    )
    assert result.returncode != 0
    assert "Code: InvalidArgument" in result.stdout + result.stderr
    assert "valid sections" in result.stdout + result.stderr


def test_health_check_via_grpcurl(controller) -> None:  # type: ignore[no-untyped-def]
    result = grpcurl(controller.address, "grpc.health.v1.Health/Check")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "SERVING"


def test_call_without_token_is_unauthenticated(controller) -> None:  # type: ignore[no-untyped-def]
    result = grpcurl(controller.address, "cumulo.system.v1.SystemService/GetVersion")
    assert result.returncode != 0
    assert "Code: Unauthenticated" in result.stdout + result.stderr
    assert "cumulo login" in result.stdout + result.stderr


def test_issue_token_with_grpcurl_then_call(controller) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers.identity import ADMIN_PASSWORD

    body = json.dumps(
        {"password": {"user_name": "admin", "password": ADMIN_PASSWORD, "project_name": "admin"}}
    )
    issued = grpcurl(
        "-d", body, controller.address, "cumulo.identity.v1.IdentityService/IssueToken"
    )
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)["token"]
    caller = grpcurl(
        "-H",
        f"authorization: Bearer {token}",
        controller.address,
        "cumulo.identity.v1.IdentityService/GetCaller",
    )
    assert caller.returncode == 0, caller.stderr
    info = json.loads(caller.stdout)["info"]
    assert info.get("isCloudAdmin", info.get("is_cloud_admin")) is True, info
