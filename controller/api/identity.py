"""cumulo.identity.v1.IdentityService servicer: validate, call the domain service, convert."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf import timestamp_pb2
from grpc import aio

from controller.identity.caller import (
    ROLE_DESCRIPTIONS,
    ROLES,
    Caller,
    current_caller,
    implied_roles,
)
from controller.identity.directory import (
    AssignmentView,
    CredentialView,
    DirectoryService,
    ProjectView,
    UserView,
)
from controller.identity.ratelimit import source_address
from controller.identity.service import IdentityService, IssuedToken
from cumulo import errors
from cumulo.identity.v1 import identity_pb2 as pb
from cumulo.identity.v1 import identity_pb2_grpc
from cumulo.types.v1 import types_pb2

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["IdentityService"].full_name

T = TypeVar("T")


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def token_info(caller: Caller) -> pb.TokenInfo:
    return pb.TokenInfo(
        id=caller.token_id,
        user_id=caller.user_id,
        user_name=caller.user_name,
        project_id=caller.project_id,
        project_name=caller.project_name,
        roles=[r for r in ROLES if r in caller.roles],
        issued_at=timestamp(caller.issued_at),
        expires_at=timestamp(caller.expires_at),
        authenticated_at=timestamp(caller.authenticated_at),
        application_credential_id=caller.application_credential_id,
        allowed_methods=sorted(caller.allowed_methods),
        is_cloud_admin=caller.is_cloud_admin,
    )


def _issued(issued: IssuedToken) -> pb.IssueTokenResponse:
    return pb.IssueTokenResponse(token=issued.token, info=token_info(issued.caller))


def project_message(view: ProjectView) -> pb.Project:
    return pb.Project(
        meta=types_pb2.ResourceMeta(
            id=view.id,
            name=view.name,
            created_at=timestamp(view.created_at),
            updated_at=timestamp(view.updated_at),
        ),
        description=view.description,
        enabled=view.enabled,
        is_admin_project=view.is_admin_project,
    )


def user_message(view: UserView) -> pb.User:
    return pb.User(
        meta=types_pb2.ResourceMeta(
            id=view.id,
            name=view.name,
            created_at=timestamp(view.created_at),
            updated_at=timestamp(view.updated_at),
        ),
        enabled=view.enabled,
    )


def assignment_message(view: AssignmentView) -> pb.RoleAssignment:
    return pb.RoleAssignment(
        user_id=view.user_id,
        user_name=view.user_name,
        project_id=view.project_id,
        project_name=view.project_name,
        role=view.role,
    )


def credential_message(view: CredentialView) -> pb.ApplicationCredential:
    message = pb.ApplicationCredential(
        meta=types_pb2.ResourceMeta(
            id=view.id,
            name=view.name,
            project_id=view.project_id,
            created_at=timestamp(view.created_at),
            updated_at=timestamp(view.created_at),
        ),
        user_id=view.user_id,
        roles=view.roles,
        allowed_methods=view.allowed_methods,
    )
    if view.expires_at is not None:
        message.expires_at.CopyFrom(timestamp(view.expires_at))
    return message


def _optional(message: Any, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, identity: IdentityService, directory: DirectoryService) -> None:
        self._identity = identity
        self._directory = directory

    @staticmethod
    async def _run(work: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(work, *args)

    async def IssueToken(
        self, request: pb.IssueTokenRequest, context: aio.ServicerContext
    ) -> pb.IssueTokenResponse:
        source = source_address(context.peer() or "")
        method = request.WhichOneof("method")
        if method == "password":
            p = request.password
            issued = await self._run(
                self._identity.issue_with_password,
                p.user_name,
                p.password,
                p.project_name,
                p.project_id,
                source,
            )
        elif method == "application_credential":
            c = request.application_credential
            issued = await self._run(
                self._identity.issue_with_application_credential, c.id, c.secret, source
            )
        elif method == "token":
            issued = await self._run(self._identity.renew, request.token.token)
        else:
            raise errors.InvalidArgument(
                "say how to authenticate",
                field="method",
                hint="set password, application_credential or token",
            )
        return _issued(issued)

    async def RevokeToken(
        self, request: pb.RevokeTokenRequest, context: aio.ServicerContext
    ) -> pb.RevokeTokenResponse:
        token_id = await self._run(self._identity.revoke, current_caller(), request.token)
        return pb.RevokeTokenResponse(token_id=token_id)

    async def GetCaller(
        self, request: pb.GetCallerRequest, context: aio.ServicerContext
    ) -> pb.GetCallerResponse:
        return pb.GetCallerResponse(info=token_info(current_caller()))

    # -- projects ---------------------------------------------------------------------------

    async def CreateProject(
        self, request: pb.CreateProjectRequest, context: aio.ServicerContext
    ) -> pb.CreateProjectResponse:
        view = await self._run(
            self._directory.create_project, current_caller(), request.name, request.description
        )
        return pb.CreateProjectResponse(project=project_message(view))

    async def GetProject(
        self, request: pb.GetProjectRequest, context: aio.ServicerContext
    ) -> pb.GetProjectResponse:
        view = await self._run(self._directory.get_project, current_caller(), request.project_id)
        return pb.GetProjectResponse(project=project_message(view))

    async def ListProjects(
        self, request: pb.ListProjectsRequest, context: aio.ServicerContext
    ) -> pb.ListProjectsResponse:
        page = await self._run(
            self._directory.list_projects,
            current_caller(),
            request.page.page_size,
            request.page.page_token,
        )
        return pb.ListProjectsResponse(
            projects=[project_message(v) for v in page.items],
            page=types_pb2.PageResponse(next_page_token=page.next_page_token),
        )

    async def UpdateProject(
        self, request: pb.UpdateProjectRequest, context: aio.ServicerContext
    ) -> pb.UpdateProjectResponse:
        caller = current_caller()
        if not request.project_id:
            raise errors.InvalidArgument("project_id is required", field="project_id")
        view = await self._run(
            self._directory.update_project,
            caller,
            request.project_id,
            _optional(request, "description"),
            _optional(request, "enabled"),
        )
        return pb.UpdateProjectResponse(project=project_message(view))

    async def DeleteProject(
        self, request: pb.DeleteProjectRequest, context: aio.ServicerContext
    ) -> pb.DeleteProjectResponse:
        await self._run(self._directory.delete_project, current_caller(), request.project_id)
        return pb.DeleteProjectResponse()

    # -- users ------------------------------------------------------------------------------

    async def CreateUser(
        self, request: pb.CreateUserRequest, context: aio.ServicerContext
    ) -> pb.CreateUserResponse:
        view = await self._run(
            self._directory.create_user, current_caller(), request.name, request.password
        )
        return pb.CreateUserResponse(user=user_message(view))

    async def GetUser(
        self, request: pb.GetUserRequest, context: aio.ServicerContext
    ) -> pb.GetUserResponse:
        view = await self._run(self._directory.get_user, current_caller(), request.user_id)
        return pb.GetUserResponse(user=user_message(view))

    async def ListUsers(
        self, request: pb.ListUsersRequest, context: aio.ServicerContext
    ) -> pb.ListUsersResponse:
        page = await self._run(
            self._directory.list_users,
            current_caller(),
            request.page.page_size,
            request.page.page_token,
        )
        return pb.ListUsersResponse(
            users=[user_message(v) for v in page.items],
            page=types_pb2.PageResponse(next_page_token=page.next_page_token),
        )

    async def UpdateUser(
        self, request: pb.UpdateUserRequest, context: aio.ServicerContext
    ) -> pb.UpdateUserResponse:
        view = await self._run(
            self._directory.update_user,
            current_caller(),
            request.user_id,
            _optional(request, "password"),
            _optional(request, "enabled"),
        )
        return pb.UpdateUserResponse(user=user_message(view))

    async def DeleteUser(
        self, request: pb.DeleteUserRequest, context: aio.ServicerContext
    ) -> pb.DeleteUserResponse:
        await self._run(self._directory.delete_user, current_caller(), request.user_id)
        return pb.DeleteUserResponse()

    async def ChangePassword(
        self, request: pb.ChangePasswordRequest, context: aio.ServicerContext
    ) -> pb.ChangePasswordResponse:
        issued = await self._run(
            self._identity.change_password,
            current_caller(),
            request.current_password,
            request.new_password,
            source_address(context.peer() or ""),
        )
        return pb.ChangePasswordResponse(token=_issued(issued))

    # -- roles ------------------------------------------------------------------------------

    async def ListRoles(
        self, request: pb.ListRolesRequest, context: aio.ServicerContext
    ) -> pb.ListRolesResponse:
        return pb.ListRolesResponse(
            roles=[
                pb.Role(
                    name=role,
                    description=ROLE_DESCRIPTIONS[role],
                    implies=list(implied_roles(role)[1:]),
                )
                for role in ROLES
            ]
        )

    async def GrantRole(
        self, request: pb.GrantRoleRequest, context: aio.ServicerContext
    ) -> pb.GrantRoleResponse:
        view = await self._run(
            self._directory.grant_role,
            current_caller(),
            request.project_id,
            request.user_id,
            request.role,
        )
        return pb.GrantRoleResponse(assignment=assignment_message(view))

    async def RevokeRole(
        self, request: pb.RevokeRoleRequest, context: aio.ServicerContext
    ) -> pb.RevokeRoleResponse:
        await self._run(
            self._directory.revoke_role,
            current_caller(),
            request.project_id,
            request.user_id,
            request.role,
        )
        return pb.RevokeRoleResponse()

    async def ListRoleAssignments(
        self, request: pb.ListRoleAssignmentsRequest, context: aio.ServicerContext
    ) -> pb.ListRoleAssignmentsResponse:
        page = await self._run(
            self._directory.list_assignments,
            current_caller(),
            request.project_id,
            request.user_id,
            request.page.page_size,
            request.page.page_token,
        )
        return pb.ListRoleAssignmentsResponse(
            assignments=[assignment_message(v) for v in page.items],
            page=types_pb2.PageResponse(next_page_token=page.next_page_token),
        )

    # -- application credentials --------------------------------------------------------------

    async def CreateApplicationCredential(
        self, request: pb.CreateApplicationCredentialRequest, context: aio.ServicerContext
    ) -> pb.CreateApplicationCredentialResponse:
        expires = (
            request.expires_at.ToDatetime(tzinfo=UTC) if request.HasField("expires_at") else None
        )
        view, secret = await self._run(
            self._directory.create_credential,
            current_caller(),
            request.name,
            list(request.roles),
            list(request.allowed_methods),
            expires,
        )
        return pb.CreateApplicationCredentialResponse(
            credential=credential_message(view), secret=secret
        )

    async def GetApplicationCredential(
        self, request: pb.GetApplicationCredentialRequest, context: aio.ServicerContext
    ) -> pb.GetApplicationCredentialResponse:
        view = await self._run(self._directory.get_credential, current_caller(), request.id)
        return pb.GetApplicationCredentialResponse(credential=credential_message(view))

    async def ListApplicationCredentials(
        self, request: pb.ListApplicationCredentialsRequest, context: aio.ServicerContext
    ) -> pb.ListApplicationCredentialsResponse:
        page = await self._run(
            self._directory.list_credentials,
            current_caller(),
            request.page.page_size,
            request.page.page_token,
        )
        return pb.ListApplicationCredentialsResponse(
            credentials=[credential_message(v) for v in page.items],
            page=types_pb2.PageResponse(next_page_token=page.next_page_token),
        )

    async def DeleteApplicationCredential(
        self, request: pb.DeleteApplicationCredentialRequest, context: aio.ServicerContext
    ) -> pb.DeleteApplicationCredentialResponse:
        await self._run(self._directory.delete_credential, current_caller(), request.id)
        return pb.DeleteApplicationCredentialResponse()
