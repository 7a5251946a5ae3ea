"""cumulo.node.v1.NodeService servicer: validate, call NodeService, build messages."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from grpc import aio

from controller.agents.registry import NodeRecord
from controller.agents.service import NodeService
from cumulo.node.v1 import node_pb2, node_pb2_grpc
from cumulo.types.v1 import types_pb2

SERVICE_NAME = node_pb2.DESCRIPTOR.services_by_name["NodeService"].full_name

_STATES = {
    "new": node_pb2.NODE_STATE_NEW,
    "up": node_pb2.NODE_STATE_UP,
    "down": node_pb2.NODE_STATE_DOWN,
}
_ADMIN = {"enabled": node_pb2.ADMIN_STATE_ENABLED, "disabled": node_pb2.ADMIN_STATE_DISABLED}


def node_message(record: NodeRecord) -> node_pb2.Node:
    node = node_pb2.Node(
        id=record.id,
        name=record.name,
        state=_STATES.get(record.state, node_pb2.NODE_STATE_UNSPECIFIED),
        admin_state=_ADMIN.get(record.admin_state, node_pb2.ADMIN_STATE_UNSPECIFIED),
        draining=record.draining,
        disabled_reason=record.disabled_reason,
        desired_revision=record.desired_revision,
        applied_revision=record.applied_revision,
        agent_version=record.agent_version,
        controller_instance=record.controller_instance,
        credential_revoked=record.credential_revoked,
    )
    node.enrolled_at.FromDatetime(record.enrolled_at)
    node.state_changed_at.FromDatetime(record.state_changed_at)
    if record.last_seen is not None:
        node.last_seen.FromDatetime(record.last_seen)
    if record.inventory:
        json_format.ParseDict(record.inventory, node.inventory, ignore_unknown_fields=True)
    for status in record.resource_status:
        node.resources.add(**status)
    for resource in record.desired_resources:
        item = node.desired_resources.add(kind=resource["kind"], name=resource["name"])
        item.spec.update(resource.get("spec") or {})
    return node


def resources_from(resources: Any) -> list[dict[str, Any]]:
    return [
        {
            "kind": r.kind,
            "name": r.name,
            "spec": json_format.MessageToDict(r.spec) if r.HasField("spec") else {},
        }
        for r in resources
    ]


class NodeServicer(node_pb2_grpc.NodeServiceServicer):
    def __init__(self, service: NodeService) -> None:
        self._service = service

    async def EnrollNode(
        self, request: node_pb2.EnrollNodeRequest, context: aio.ServicerContext
    ) -> node_pb2.EnrollNodeResponse:
        record, credential = await self._service.enroll(request.name, request.rotate)
        return node_pb2.EnrollNodeResponse(node=node_message(record), credential=credential)

    async def ListNodes(
        self, request: node_pb2.ListNodesRequest, context: aio.ServicerContext
    ) -> node_pb2.ListNodesResponse:
        records, token = await self._service.list_nodes(
            request.page.page_size, request.page.page_token
        )
        return node_pb2.ListNodesResponse(
            nodes=[node_message(r) for r in records],
            page=types_pb2.PageResponse(next_page_token=token),
        )

    async def GetNode(
        self, request: node_pb2.GetNodeRequest, context: aio.ServicerContext
    ) -> node_pb2.GetNodeResponse:
        return node_pb2.GetNodeResponse(node=node_message(await self._service.get(request.node)))

    async def DisableNode(
        self, request: node_pb2.DisableNodeRequest, context: aio.ServicerContext
    ) -> node_pb2.DisableNodeResponse:
        record = await self._service.disable(request.node, request.reason)
        return node_pb2.DisableNodeResponse(node=node_message(record))

    async def EnableNode(
        self, request: node_pb2.EnableNodeRequest, context: aio.ServicerContext
    ) -> node_pb2.EnableNodeResponse:
        record = await self._service.enable(request.node)
        return node_pb2.EnableNodeResponse(node=node_message(record))

    async def DrainNode(
        self, request: node_pb2.DrainNodeRequest, context: aio.ServicerContext
    ) -> node_pb2.DrainNodeResponse:
        record = await self._service.drain(request.node, request.reason)
        return node_pb2.DrainNodeResponse(node=node_message(record))

    async def RevokeNodeCredential(
        self, request: node_pb2.RevokeNodeCredentialRequest, context: aio.ServicerContext
    ) -> node_pb2.RevokeNodeCredentialResponse:
        record = await self._service.revoke(request.node)
        return node_pb2.RevokeNodeCredentialResponse(node=node_message(record))

    async def SetDesiredState(
        self, request: node_pb2.SetDesiredStateRequest, context: aio.ServicerContext
    ) -> node_pb2.SetDesiredStateResponse:
        revisions = await self._service.set_desired(
            list(request.nodes), request.all_nodes, resources_from(request.resources)
        )
        return node_pb2.SetDesiredStateResponse(
            revisions=[
                node_pb2.NodeRevision(node_id=node_id, revision=revision)
                for node_id, revision in sorted(revisions.items())
            ]
        )

    async def GetNodeSummary(
        self, request: node_pb2.GetNodeSummaryRequest, context: aio.ServicerContext
    ) -> node_pb2.GetNodeSummaryResponse:
        summary = await self._service.summary()
        return node_pb2.GetNodeSummaryResponse(
            nodes_by_state=summary.nodes_by_state,
            connected_streams=summary.connected_streams,
            heartbeats_received=summary.heartbeats_received,
            acks_received=summary.acks_received,
            controller_instance=summary.controller_instance,
        )


__all__ = ["NodeServicer", "node_message"]
