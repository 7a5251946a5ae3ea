"""SDK client of ``cumulo.node.v1.NodeService``: enrolled nodes and their agents."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cumulo.agent.v1 import agent_pb2
from cumulo.node.v1 import node_pb2, node_pb2_grpc
from cumulo.types.v1 import types_pb2

if TYPE_CHECKING:
    from cumulo.client import Client


def resource(kind: str, name: str, spec: Mapping[str, Any] | None = None) -> agent_pb2.Resource:
    """A desired-state resource for :meth:`NodesClient.set_desired_state`."""
    item = agent_pb2.Resource(kind=kind, name=name)
    if spec:
        item.spec.update(dict(spec))
    return item


class NodesClient:
    """``cumulo.node.v1.NodeService``: enroll, list, disable, enable, drain, revoke nodes."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._stub = node_pb2_grpc.NodeServiceStub(client.channel)

    def enroll(self, name: str, *, rotate: bool = False) -> node_pb2.EnrollNodeResponse:
        """Enroll node ``name``; the response's ``credential`` is shown only this once."""
        return self._client.call(
            self._stub.EnrollNode, node_pb2.EnrollNodeRequest(name=name, rotate=rotate)
        )

    def list_page(self, page_size: int = 0, page_token: str = "") -> node_pb2.ListNodesResponse:
        return self._client.call(
            self._stub.ListNodes,
            node_pb2.ListNodesRequest(
                page=types_pb2.PageRequest(page_size=page_size, page_token=page_token)
            ),
        )

    def list(self, *, page_size: int = 0) -> Iterator[node_pb2.Node]:
        """Every node, sorted by name (fetched page by page)."""
        token = ""
        while True:
            response = self.list_page(page_size, token)
            yield from response.nodes
            token = response.page.next_page_token
            if not token:
                return

    def get(self, node: str) -> node_pb2.Node:
        """One node by id or name, with its resources."""
        return self._client.call(self._stub.GetNode, node_pb2.GetNodeRequest(node=node)).node

    def disable(self, node: str, reason: str = "") -> node_pb2.Node:
        return self._client.call(
            self._stub.DisableNode, node_pb2.DisableNodeRequest(node=node, reason=reason)
        ).node

    def enable(self, node: str) -> node_pb2.Node:
        return self._client.call(self._stub.EnableNode, node_pb2.EnableNodeRequest(node=node)).node

    def drain(self, node: str, reason: str = "") -> node_pb2.Node:
        return self._client.call(
            self._stub.DrainNode, node_pb2.DrainNodeRequest(node=node, reason=reason)
        ).node

    def revoke(self, node: str) -> node_pb2.Node:
        """Revoke the node's credential; its agent is disconnected."""
        return self._client.call(
            self._stub.RevokeNodeCredential, node_pb2.RevokeNodeCredentialRequest(node=node)
        ).node

    def set_desired_state(
        self,
        resources: Sequence[agent_pb2.Resource],
        *,
        nodes: Sequence[str] = (),
        all_nodes: bool = False,
    ) -> dict[str, int]:
        """Replace the desired resources of ``nodes`` (or all); return node id -> revision."""
        response = self._client.call(
            self._stub.SetDesiredState,
            node_pb2.SetDesiredStateRequest(
                nodes=list(nodes), all_nodes=all_nodes, resources=list(resources)
            ),
        )
        return {item.node_id: item.revision for item in response.revisions}

    def summary(self) -> node_pb2.GetNodeSummaryResponse:
        return self._client.call(self._stub.GetNodeSummary, node_pb2.GetNodeSummaryRequest())
