"""grpcurl sees the node and agent services through reflection and can call NodeService."""

from __future__ import annotations

import json

from tests.functional.test_grpcurl import grpcurl
from tests.helpers.identity import admin_token


def test_reflection_lists_and_describes_the_new_services(controller) -> None:  # type: ignore[no-untyped-def]
    services = grpcurl(controller.address, "list").stdout.split()
    assert "cumulo.node.v1.NodeService" in services
    assert "cumulo.agent.v1.AgentService" in services
    described = grpcurl(controller.address, "describe", "cumulo.agent.v1.AgentService").stdout
    assert "rpc Connect ( stream .cumulo.agent.v1.AgentMessage )" in described


def test_enroll_and_list_with_json(controller) -> None:  # type: ignore[no-untyped-def]
    auth = f"authorization: Bearer {admin_token(controller.address)}"
    enrolled = grpcurl(
        "-H",
        auth,
        "-d",
        '{"name": "via-grpcurl"}',
        controller.address,
        "cumulo.node.v1.NodeService/EnrollNode",
    )
    assert enrolled.returncode == 0, enrolled.stderr
    body = json.loads(enrolled.stdout)
    assert body["credential"].startswith(body["node"]["id"] + ".")
    listed = grpcurl("-H", auth, controller.address, "cumulo.node.v1.NodeService/ListNodes")
    assert json.loads(listed.stdout)["nodes"][0]["state"] == "NODE_STATE_NEW"
