"""cumulo.quota.v1.QuotaService servicer: validate, call the domain service, convert."""

from __future__ import annotations

import asyncio
from datetime import UTC

from grpc import aio

from controller.api.identity import timestamp
from controller.identity.caller import current_caller
from controller.quota.service import QuotaItemView, QuotaService
from cumulo.quota.v1 import quota_pb2 as pb
from cumulo.quota.v1 import quota_pb2_grpc
from cumulo.types.v1 import types_pb2

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["QuotaService"].full_name


def _items(items: list[QuotaItemView]) -> list[pb.QuotaItem]:
    return [
        pb.QuotaItem(resource=i.resource, limit=i.limit, in_use=i.in_use, is_default=i.is_default)
        for i in items
    ]


class QuotaServicer(quota_pb2_grpc.QuotaServiceServicer):
    def __init__(self, quota: QuotaService) -> None:
        self._quota = quota

    async def GetQuota(
        self, request: pb.GetQuotaRequest, context: aio.ServicerContext
    ) -> pb.GetQuotaResponse:
        project_id, items = await asyncio.to_thread(
            self._quota.get_quota, current_caller(), request.project_id
        )
        return pb.GetQuotaResponse(project_id=project_id, items=_items(items))

    async def SetQuota(
        self, request: pb.SetQuotaRequest, context: aio.ServicerContext
    ) -> pb.SetQuotaResponse:
        project_id, items = await asyncio.to_thread(
            self._quota.set_quota,
            current_caller(),
            request.project_id,
            dict(request.limits),
            list(request.reset),
        )
        return pb.SetQuotaResponse(project_id=project_id, items=_items(items))

    async def GetUsage(
        self, request: pb.GetUsageRequest, context: aio.ServicerContext
    ) -> pb.GetUsageResponse:
        since = request.since.ToDatetime(tzinfo=UTC) if request.HasField("since") else None
        until = request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None
        report = await asyncio.to_thread(
            self._quota.get_usage,
            current_caller(),
            request.project_id,
            since,
            until,
            list(request.resources),
            request.page.page_size,
            request.page.page_token,
        )
        return pb.GetUsageResponse(
            project_id=report.project_id,
            totals=[
                pb.UsageTotal(resource=t.resource, sum=t.sum, max=t.max, records=t.records)
                for t in report.totals
            ],
            records=[
                pb.UsageRecord(
                    project_id=r.project_id,
                    resource=r.resource,
                    amount=r.amount,
                    at=timestamp(r.at),
                )
                for r in report.records
            ],
            page=types_pb2.PageResponse(next_page_token=report.next_page_token),
        )
