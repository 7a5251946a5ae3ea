"""SDK client of ``cumulo.identity.v1.IdentityService``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from cumulo.identity.v1 import identity_pb2 as pb
from cumulo.identity.v1 import identity_pb2_grpc
from cumulo.types.v1 import types_pb2

if TYPE_CHECKING:
    from cumulo.client import Client


def _page(size: int, token: str) -> types_pb2.PageRequest:
    return types_pb2.PageRequest(page_size=size, page_token=token)


class IdentityClient:
    """Tokens, projects, users, roles and application credentials."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._stub = identity_pb2_grpc.IdentityServiceStub(client.channel)

    # -- tokens -----------------------------------------------------------------------------

    def issue_token(self, request: pb.IssueTokenRequest) -> pb.IssueTokenResponse:
        """IssueToken (sent without a token: it is how one gets a token)."""
        return self._client.call(self._stub.IssueToken, request, authenticate=False)

    def login(
        self, user: str, password: str, project: str = "", project_id: str = ""
    ) -> pb.IssueTokenResponse:
        return self.issue_token(
            pb.IssueTokenRequest(
                password=pb.PasswordMethod(
                    user_name=user, password=password, project_name=project, project_id=project_id
                )
            )
        )

    def revoke_token(self, token: str = "") -> str:
        """Revoke ``token`` (the client's own when empty); returns its id."""
        return self._client.call(
            self._stub.RevokeToken, pb.RevokeTokenRequest(token=token)
        ).token_id

    def get_caller(self) -> pb.TokenInfo:
        return self._client.call(self._stub.GetCaller, pb.GetCallerRequest()).info

    # -- projects ---------------------------------------------------------------------------

    def create_project(self, name: str, description: str = "") -> pb.Project:
        return self._client.call(
            self._stub.CreateProject, pb.CreateProjectRequest(name=name, description=description)
        ).project

    def get_project(self, project_id: str = "") -> pb.Project:
        return self._client.call(
            self._stub.GetProject, pb.GetProjectRequest(project_id=project_id)
        ).project

    def list_projects(self, page_size: int = 0) -> Iterator[pb.Project]:
        token = ""
        while True:
            reply = self._client.call(
                self._stub.ListProjects, pb.ListProjectsRequest(page=_page(page_size, token))
            )
            yield from reply.projects
            token = reply.page.next_page_token
            if not token:
                return

    def find_project(self, name_or_id: str) -> pb.Project:
        """A project by id or name (among those the caller may see)."""
        from cumulo import errors

        for project in self.list_projects():
            if name_or_id in (project.meta.id, project.meta.name):
                return project
        raise errors.NotFound(f"project {name_or_id!r} not found", hint="see `cumulo project list`")

    def update_project(
        self, project_id: str, *, description: str | None = None, enabled: bool | None = None
    ) -> pb.Project:
        request = pb.UpdateProjectRequest(project_id=project_id)
        if description is not None:
            request.description = description
        if enabled is not None:
            request.enabled = enabled
        return self._client.call(self._stub.UpdateProject, request).project

    def delete_project(self, project_id: str) -> None:
        self._client.call(self._stub.DeleteProject, pb.DeleteProjectRequest(project_id=project_id))

    # -- users ------------------------------------------------------------------------------

    def create_user(self, name: str, password: str) -> pb.User:
        return self._client.call(
            self._stub.CreateUser, pb.CreateUserRequest(name=name, password=password)
        ).user

    def get_user(self, user_id: str = "") -> pb.User:
        return self._client.call(self._stub.GetUser, pb.GetUserRequest(user_id=user_id)).user

    def list_users(self, page_size: int = 0) -> Iterator[pb.User]:
        token = ""
        while True:
            reply = self._client.call(
                self._stub.ListUsers, pb.ListUsersRequest(page=_page(page_size, token))
            )
            yield from reply.users
            token = reply.page.next_page_token
            if not token:
                return

    def find_user(self, name_or_id: str) -> pb.User:
        from cumulo import errors

        for user in self.list_users():
            if name_or_id in (user.meta.id, user.meta.name):
                return user
        raise errors.NotFound(f"user {name_or_id!r} not found", hint="see `cumulo user list`")

    def update_user(
        self, user_id: str, *, password: str | None = None, enabled: bool | None = None
    ) -> pb.User:
        request = pb.UpdateUserRequest(user_id=user_id)
        if password is not None:
            request.password = password
        if enabled is not None:
            request.enabled = enabled
        return self._client.call(self._stub.UpdateUser, request).user

    def delete_user(self, user_id: str) -> None:
        self._client.call(self._stub.DeleteUser, pb.DeleteUserRequest(user_id=user_id))

    def change_password(self, current_password: str, new_password: str) -> pb.IssueTokenResponse:
        """Change the caller's own password; the client carries on with the fresh token."""
        reply = self._client.call(
            self._stub.ChangePassword,
            pb.ChangePasswordRequest(current_password=current_password, new_password=new_password),
        ).token
        auth = self._client.auth
        if auth is not None and auth.credentials.method == "password":
            # Later re-authentication must use the new password.
            auth.credentials = dataclasses.replace(auth.credentials, password=new_password)
        self._client.adopt_token(reply)
        return reply

    # -- roles ------------------------------------------------------------------------------

    def list_roles(self) -> list[pb.Role]:
        return list(self._client.call(self._stub.ListRoles, pb.ListRolesRequest()).roles)

    def grant_role(self, user_id: str, role: str, project_id: str = "") -> pb.RoleAssignment:
        return self._client.call(
            self._stub.GrantRole,
            pb.GrantRoleRequest(project_id=project_id, user_id=user_id, role=role),
        ).assignment

    def revoke_role(self, user_id: str, role: str, project_id: str = "") -> None:
        self._client.call(
            self._stub.RevokeRole,
            pb.RevokeRoleRequest(project_id=project_id, user_id=user_id, role=role),
        )

    def list_role_assignments(
        self, project_id: str = "", user_id: str = "", page_size: int = 0
    ) -> Iterator[pb.RoleAssignment]:
        token = ""
        while True:
            reply = self._client.call(
                self._stub.ListRoleAssignments,
                pb.ListRoleAssignmentsRequest(
                    project_id=project_id, user_id=user_id, page=_page(page_size, token)
                ),
            )
            yield from reply.assignments
            token = reply.page.next_page_token
            if not token:
                return

    # -- application credentials --------------------------------------------------------------

    def create_application_credential(
        self,
        name: str,
        *,
        roles: Sequence[str] = (),
        allowed_methods: Sequence[str] = (),
        expires_at: datetime | None = None,
    ) -> pb.CreateApplicationCredentialResponse:
        """A new credential; ``.secret`` of the answer is shown only this once."""
        request = pb.CreateApplicationCredentialRequest(
            name=name, roles=list(roles), allowed_methods=list(allowed_methods)
        )
        if expires_at is not None:
            request.expires_at.FromDatetime(expires_at)
        return self._client.call(self._stub.CreateApplicationCredential, request)

    def get_application_credential(self, credential_id: str) -> pb.ApplicationCredential:
        return self._client.call(
            self._stub.GetApplicationCredential,
            pb.GetApplicationCredentialRequest(id=credential_id),
        ).credential

    def list_application_credentials(
        self, page_size: int = 0
    ) -> Iterator[pb.ApplicationCredential]:
        token = ""
        while True:
            reply = self._client.call(
                self._stub.ListApplicationCredentials,
                pb.ListApplicationCredentialsRequest(page=_page(page_size, token)),
            )
            yield from reply.credentials
            token = reply.page.next_page_token
            if not token:
                return

    def delete_application_credential(self, credential_id: str) -> None:
        self._client.call(
            self._stub.DeleteApplicationCredential,
            pb.DeleteApplicationCredentialRequest(id=credential_id),
        )
