"""The Python SDK's entry point: :func:`connect` and :class:`Client`.

One :class:`Client` holds one gRPC channel to a controller and exposes each
service as an attribute (``client.system``, ``client.nodes``, and more as services land); each
service's client class lives in ``cumulo/services/<domain>.py``.  Every
method returns plain protobuf messages or dataclasses and raises
:mod:`cumulo.errors` exceptions, never ``grpc.RpcError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc

from cumulo import errors
from cumulo.local import resolve_endpoint
from cumulo.rpc.status import error_from_rpc
from cumulo.services.nodes import NodesClient
from cumulo.services.system import SystemClient

Response = TypeVar("Response")

DEFAULT_TIMEOUT = 30.0


class Client:
    """A connection to one Cumulo controller."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        metadata: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.metadata = list(metadata)
        self.channel = grpc.insecure_channel(endpoint)
        self.system = SystemClient(self)
        self.nodes = NodesClient(self)

    def call(
        self,
        method: Callable[..., Response],
        request: Any,
        *,
        timeout: float | None = None,
    ) -> Response:
        """Invoke a unary stub ``method``; translate failures into CumuloError."""
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self.metadata)
        except grpc.RpcError as exc:
            raise self.translate(exc) from None

    def translate(self, exc: grpc.RpcError) -> errors.CumuloError:
        error = error_from_rpc(exc)
        if isinstance(error, errors.Unavailable) and error.reason == "UNAVAILABLE":
            return errors.Unavailable(
                f"cannot reach Cumulo at {self.endpoint} ({error.message})",
                hint="start the cloud with `cumulo up`, or pass --endpoint HOST:PORT",
            )
        if isinstance(error, errors.DeadlineExceeded) and error.reason == "DEADLINE_EXCEEDED":
            return errors.DeadlineExceeded(
                f"Cumulo at {self.endpoint} did not answer in time",
                hint="the server may be overloaded; retry, or raise --timeout",
            )
        return error

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect(endpoint: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> Client:
    """Connect to ``endpoint``, or to the local cloud that ``cumulo up`` started."""
    return Client(resolve_endpoint(endpoint), timeout=timeout)
