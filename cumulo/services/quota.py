"""SDK client of ``cumulo.quota.v1.QuotaService``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from cumulo.quota.v1 import quota_pb2 as pb
from cumulo.quota.v1 import quota_pb2_grpc
from cumulo.types.v1 import types_pb2

if TYPE_CHECKING:
    from cumulo.client import Client


class QuotaClient:
    """Quotas (limits and what is in use) and usage records per project."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._stub = quota_pb2_grpc.QuotaServiceStub(client.channel)

    def get_quota(self, project_id: str = "") -> pb.GetQuotaResponse:
        return self._client.call(self._stub.GetQuota, pb.GetQuotaRequest(project_id=project_id))

    def set_quota(
        self, project_id: str, limits: Mapping[str, int], reset: Sequence[str] = ()
    ) -> pb.SetQuotaResponse:
        return self._client.call(
            self._stub.SetQuota,
            pb.SetQuotaRequest(project_id=project_id, limits=dict(limits), reset=list(reset)),
        )

    def get_usage(
        self,
        project_id: str = "",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        resources: Sequence[str] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> pb.GetUsageResponse:
        """One page of records plus totals over the whole range."""
        request = pb.GetUsageRequest(
            project_id=project_id,
            resources=list(resources),
            page=types_pb2.PageRequest(page_size=page_size, page_token=page_token),
        )
        if since is not None:
            request.since.FromDatetime(since)
        if until is not None:
            request.until.FromDatetime(until)
        return self._client.call(self._stub.GetUsage, request)

    def iter_usage_records(
        self,
        project_id: str = "",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        resources: Sequence[str] = (),
    ) -> Iterator[pb.UsageRecord]:
        token = ""
        while True:
            reply = self.get_usage(
                project_id, since=since, until=until, resources=resources, page_token=token
            )
            yield from reply.records
            token = reply.page.next_page_token
            if not token:
                return
