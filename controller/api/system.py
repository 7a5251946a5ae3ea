"""cumulo.system.v1.SystemService servicer."""

from __future__ import annotations

import asyncio

from grpc import aio

from controller.system.service import InfoReport, SystemService, VersionReport
from cumulo.system.v1 import system_pb2, system_pb2_grpc

SERVICE_NAME = system_pb2.DESCRIPTOR.services_by_name["SystemService"].full_name


def version_message(report: VersionReport) -> system_pb2.GetVersionResponse:
    return system_pb2.GetVersionResponse(
        version=report.version, api_packages=report.api_packages, components=report.components
    )


def info_message(report: InfoReport) -> system_pb2.GetInfoResponse:
    response = system_pb2.GetInfoResponse()
    if report.database:
        db = report.database
        response.database.CopyFrom(
            system_pb2.DatabaseInfo(
                kind=db.kind,
                server_version=db.server_version,
                schema_version=db.schema_version,
                url=db.url,
            )
        )
    if report.native:
        response.native.CopyFrom(
            system_pb2.NativeInfo(backend=report.native.backend, fallbacks=report.native.fallbacks)
        )
    if report.runtime:
        rt = report.runtime
        info = system_pb2.RuntimeInfo(
            hostname=rt.hostname, pid=rt.pid, instance_id=rt.instance_id, data_dir=rt.data_dir
        )
        info.started_at.FromDatetime(rt.started_at)
        info.uptime.FromTimedelta(rt.uptime)
        response.runtime.CopyFrom(info)
    return response


class SystemServicer(system_pb2_grpc.SystemServiceServicer):
    def __init__(self, service: SystemService) -> None:
        self._service = service

    async def GetVersion(
        self, request: system_pb2.GetVersionRequest, context: aio.ServicerContext
    ) -> system_pb2.GetVersionResponse:
        return version_message(self._service.version())

    async def GetInfo(
        self, request: system_pb2.GetInfoRequest, context: aio.ServicerContext
    ) -> system_pb2.GetInfoResponse:
        report = await asyncio.to_thread(self._service.info, list(request.sections))
        return info_message(report)
