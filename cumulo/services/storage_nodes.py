"""Operator calls to storage nodes: replication, audit and segment-reaper passes on demand.

Object servers are not behind the cloud's tokens: they accept only holders of the
cluster's *storage credential* (the proxies' and replicators' shared secret), so
this client takes that credential (a file readable by root on a storage node), not
a login.  It talks to ``cumulo.objectserver.v1.ReplicationService`` of one node.

On the machine of a ``cumulo up`` cloud, :func:`local_storage_nodes` and
:func:`local_storage_credential` find the nodes and the credential without flags.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from cumulo import errors
from cumulo.local import find_local_cloud
from cumulo.objectserver.v1 import replication_pb2 as rpb
from cumulo.objectserver.v1 import replication_pb2_grpc
from cumulo.rpc.status import error_from_rpc
from cumulo.rpc.tls import Tls, channel, connection_hint

#: Metadata key carrying the storage credential on every internal storage call
#: (one definition for the object servers, the proxies and this client).
CREDENTIAL_KEY = "x-cumulo-storage-credential"
#: The endpoint names of ``cumulo up``'s storage nodes start with this.
LOCAL_NODE_PREFIX = "storage-node"


class StorageNodeAdmin:
    """The replication service of one object server at ``address`` (``HOST:PORT``).

    ``timeout`` bounds each call; a pass on demand runs to its end before the
    answer, so it is generous.  Failures raise :mod:`cumulo.errors` classes.
    """

    def __init__(
        self, address: str, credential: str, *, tls: Tls | None = None, timeout: float = 600.0
    ) -> None:
        from cumulo.client import resolve_tls  # the SDK's TLS order (flags, env, run file)

        self.address = address
        self.timeout = timeout
        self.tls = tls if tls is not None else resolve_tls(address)
        self._metadata = ((CREDENTIAL_KEY, credential),)
        self._channel = channel(address, self.tls)
        self._stub = replication_pb2_grpc.ReplicationServiceStub(self._channel)

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, metadata=self._metadata, timeout=self.timeout)
        except grpc.RpcError as exc:
            error = error_from_rpc(exc)  # type: ignore[arg-type]
            if isinstance(error, errors.Unavailable) and not error.hint:
                error.hint = connection_hint(str(exc.details() or ""), self.tls)  # type: ignore[attr-defined]
            raise error from None

    def status(self) -> rpb.GetReplicationStatusResponse:
        """Settings, ring version and each device's last passes."""
        return self._call(self._stub.GetReplicationStatus, rpb.GetReplicationStatusRequest())  # type: ignore[no-any-return]

    def replicate(self, devices: list[str] | None = None) -> rpb.RunReplicationResponse:
        """Run a replication pass now on ``devices`` (all when empty); wait for it."""
        request = rpb.RunReplicationRequest(devices=devices or [])
        return self._call(self._stub.RunReplication, request)  # type: ignore[no-any-return]

    def audit(self, devices: list[str] | None = None) -> rpb.RunAuditResponse:
        """Run an unthrottled audit pass now on ``devices`` (all when empty); wait for it."""
        return self._call(self._stub.RunAudit, rpb.RunAuditRequest(devices=devices or []))  # type: ignore[no-any-return]

    def reap_segments(self) -> rpb.RunSegmentReapResponse:
        """Run a segment-reaper pass on this node now; wait for it (what it did in ``.reap``)."""
        return self._call(self._stub.RunSegmentReap, rpb.RunSegmentReapRequest())  # type: ignore[no-any-return]

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> StorageNodeAdmin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def local_storage_nodes() -> list[tuple[str, str]]:
    """``(name, address)`` of the running local cloud's storage nodes (empty if none)."""
    cloud = find_local_cloud()
    if cloud is None:
        return []
    nodes = [(n, a) for n, a in cloud.endpoints.items() if n.startswith(LOCAL_NODE_PREFIX)]
    return sorted(nodes, key=lambda item: int(item[0].removeprefix(LOCAL_NODE_PREFIX) or 0))


def local_storage_credential() -> Path | None:
    """The running local cloud's storage credential file, if there is one."""
    cloud = find_local_cloud()
    if cloud is None:
        return None
    path = cloud.data_dir / "storage" / "credential"
    return path if path.exists() else None


def read_credential(path: Path) -> str:
    """The credential in ``path``; NotFound / PermissionDenied with what to do."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise errors.NotFound(
            f"storage credential file {path} does not exist",
            hint="pass --credential-file with the cluster's credential (on a storage "
            "node: storage.credential_file)",
        ) from None
    except PermissionError:
        raise errors.PermissionDenied(
            f"cannot read the storage credential file {path}",
            hint="it is readable by its owner only; run as that user (usually root)",
        ) from None
    if not text:
        raise errors.InvalidArgument(f"storage credential file {path} is empty")
    return text
