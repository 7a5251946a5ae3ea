"""cumulo.agent.v1.AgentService servicer: hands each Connect stream to the AgentHub.

Authentication of agents is the node credential in the call's metadata, checked
by the hub (:mod:`controller.agents.stream`), not by the user-token
interceptor: the policy table lets Connect through to this check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from grpc import aio

from controller.agents.stream import CREDENTIAL_KEY, AgentHub
from cumulo.agent.v1 import agent_pb2, agent_pb2_grpc

SERVICE_NAME = agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name


def credential_from(context: aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == CREDENTIAL_KEY and isinstance(value, str):
            return value
    return None


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, hub: AgentHub) -> None:
        self._hub = hub

    async def Connect(  # type: ignore[override]
        self,
        request_iterator: AsyncIterator[agent_pb2.AgentMessage],
        context: aio.ServicerContext,
    ) -> AsyncIterator[agent_pb2.ControllerMessage]:
        async for message in self._hub.connect(credential_from(context), request_iterator):
            yield message
