"""SDK client of ``cumulo.system.v1.SystemService``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cumulo.system.v1 import system_pb2, system_pb2_grpc

if TYPE_CHECKING:
    from cumulo.client import Client


class SystemClient:
    """``cumulo.system.v1.SystemService``: versions and runtime facts."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._stub = system_pb2_grpc.SystemServiceStub(client.channel)

    def get_version(self) -> system_pb2.GetVersionResponse:
        return self._client.call(self._stub.GetVersion, system_pb2.GetVersionRequest())

    def get_info(self, sections: Sequence[str] = ()) -> system_pb2.GetInfoResponse:
        """Runtime facts; ``sections`` picks among "database", "native", "runtime"."""
        return self._client.call(
            self._stub.GetInfo, system_pb2.GetInfoRequest(sections=list(sections))
        )
