"""NodeService: the admin operations on nodes (domain layer of cumulo.node.v1).

Each operation changes the database through :class:`NodeRegistry` and then tells
the connected agent through :class:`AgentHub` (drain, new desired state, a
revoked credential closing the stream).  The database is the truth: an agent
connected to another controller learns of the change by that controller's poll.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from controller.agents.registry import NodeRecord, NodeRegistry
from controller.agents.stream import AgentHub
from cumulo import errors
from cumulo.rpc.paging import decode_token, encode_token, page_size


@dataclass(frozen=True)
class NodeSummary:
    nodes_by_state: dict[str, int]
    connected_streams: int
    heartbeats_received: int
    acks_received: int
    controller_instance: str


class NodeService:
    """Enroll, list, disable, enable, drain, revoke nodes; set their desired state."""

    def __init__(self, registry: NodeRegistry, hub: AgentHub) -> None:
        self.registry = registry
        self.hub = hub

    async def enroll(self, name: str, rotate: bool) -> tuple[NodeRecord, str]:
        record, credential = await asyncio.to_thread(self.registry.enroll, name, rotate=rotate)
        if rotate:
            self.hub.disconnect(
                record.id,
                errors.Unauthenticated(
                    "the node's credential was rotated", reason="BAD_NODE_CREDENTIAL"
                ),
            )
        return record, credential

    async def list_nodes(self, requested_size: int, token: str) -> tuple[list[NodeRecord], str]:
        size = page_size(requested_size)
        after = decode_token(token)
        records, more = await asyncio.to_thread(self.registry.list_nodes, after, size)
        return records, encode_token(records[-1].name) if more and records else ""

    async def get(self, ref: str) -> NodeRecord:
        return await asyncio.to_thread(self.registry.get, _ref(ref))

    async def disable(self, ref: str, reason: str) -> NodeRecord:
        return await asyncio.to_thread(
            self.registry.set_admin, _ref(ref), enabled=False, draining=False, reason=reason
        )

    async def enable(self, ref: str) -> NodeRecord:
        before = await asyncio.to_thread(self.registry.get, _ref(ref))
        record = await asyncio.to_thread(
            self.registry.set_admin, _ref(ref), enabled=True, draining=False
        )
        if before.draining:
            self.hub.push_drain(record.id, False, "")
        return record

    async def drain(self, ref: str, reason: str) -> NodeRecord:
        record = await asyncio.to_thread(
            self.registry.set_admin, _ref(ref), enabled=False, draining=True, reason=reason
        )
        self.hub.push_drain(record.id, True, reason)
        return record

    async def revoke(self, ref: str) -> NodeRecord:
        record = await asyncio.to_thread(self.registry.revoke, _ref(ref))
        self.hub.disconnect(
            record.id,
            errors.Unauthenticated(
                "the node's credential was revoked",
                reason="BAD_NODE_CREDENTIAL",
                hint="re-enroll with `cumulo node enroll NAME --rotate`",
            ),
        )
        return record

    async def set_desired(
        self, refs: list[str], all_nodes: bool, resources: list[dict[str, Any]]
    ) -> dict[str, int]:
        revisions = await asyncio.to_thread(
            self.registry.set_desired, refs, resources, all_nodes=all_nodes
        )
        self.hub.push_desired(revisions, resources)
        return revisions

    async def summary(self) -> NodeSummary:
        counts = await asyncio.to_thread(self.registry.count_by_state)
        return NodeSummary(
            nodes_by_state=counts,
            connected_streams=len(self.hub.sessions),
            heartbeats_received=self.hub.heartbeats_received,
            acks_received=self.hub.acks_received,
            controller_instance=self.hub.instance,
        )


def _ref(ref: str) -> str:
    if not ref:
        raise errors.InvalidArgument("name the node (id or name)", field="node")
    return ref
