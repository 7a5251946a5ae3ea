"""DirectoryService: projects, users, role assignments and application credentials.

Every method takes the :class:`~controller.identity.caller.Caller`; the policy
table has already checked the caller's role for the RPC, and these methods
enforce what the table cannot: which *rows* the caller may see.  A project
other than the caller's is NOT_FOUND unless the caller is a cloud admin
(:meth:`Caller.project_scope`); application credentials are visible to their
owner only.  Returns plain dataclasses; ``controller.api.identity`` turns them
into messages.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controller.db import Database
from controller.db.models_identity import (
    ApplicationCredential,
    Project,
    RoleAssignment,
    User,
)
from controller.identity import passwords
from controller.identity.caller import ROLES, Caller, expand_roles, validate_role
from controller.identity.service import secret_digest
from controller.identity.times import now, utc
from controller.quota.service import QuotaService
from cumulo import errors
from cumulo.rpc.paging import decode_token, encode_token, page_size

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_METHOD = re.compile(r"^/[A-Za-z0-9_.]+/[A-Za-z0-9_]+$")
MAX_DESCRIPTION = 255
MAX_ALLOWED_METHODS = 100
APP_CREDENTIAL_RESOURCE = "application_credentials"


@dataclass(frozen=True)
class ProjectView:
    id: str
    name: str
    description: str
    enabled: bool
    is_admin_project: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class UserView:
    id: str
    name: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AssignmentView:
    user_id: str
    user_name: str
    project_id: str
    project_name: str
    role: str


@dataclass(frozen=True)
class CredentialView:
    id: str
    name: str
    user_id: str
    project_id: str
    roles: list[str]
    allowed_methods: list[str]
    expires_at: datetime | None
    created_at: datetime


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


def _project_view(row: Project) -> ProjectView:
    return ProjectView(
        row.id,
        row.name,
        row.description,
        row.enabled,
        row.is_admin_project,
        utc(row.created_at),
        utc(row.updated_at),
    )


def _user_view(row: User) -> UserView:
    return UserView(row.id, row.name, row.enabled, utc(row.created_at), utc(row.updated_at))


def _credential_view(row: ApplicationCredential) -> CredentialView:
    return CredentialView(
        id=row.id,
        name=row.name,
        user_id=row.user_id,
        project_id=row.project_id,
        roles=row.roles.split(),
        allowed_methods=sorted(json.loads(row.allowed_methods or "[]")),
        expires_at=utc(row.expires_at) if row.expires_at else None,
        created_at=utc(row.created_at),
    )


def validate_name(name: str, field: str = "name") -> str:
    if not _NAME.match(name):
        raise errors.InvalidArgument(
            f"invalid {field} {name!r}",
            field=field,
            hint="use 1-64 characters: letters, digits, '.', '_', '-', '@' (not first)",
        )
    return name


def _user_not_found(user_id: str) -> errors.NotFound:
    return errors.NotFound(f"user {user_id!r} not found", field="user_id")


def _credential_not_found(credential_id: str) -> errors.NotFound:
    return errors.NotFound(
        f"application credential {credential_id!r} not found",
        field="id",
        hint="list yours with `cumulo appcred list`",
    )


def _page_after(token: str) -> str | None:
    after = decode_token(token)
    if after is not None and not isinstance(after, str):
        raise errors.InvalidArgument(
            "page_token is not a token this server issued", field="page.page_token"
        )
    return after


def _paged(items: list[T], size: int, key: str) -> Page[T]:
    if len(items) > size:
        return Page(items[:size], encode_token(key))
    return Page(items, "")


class DirectoryService:
    """Projects, users, role assignments and application credentials."""

    def __init__(
        self,
        database: Database,
        quota: QuotaService,
        *,
        password_hash_log_n: int,
        known_methods: Iterable[str] = (),
    ) -> None:
        self._database = database
        self._quota = quota
        self._log_n = password_hash_log_n
        #: Methods an application credential may be limited to (the policy table's keys).
        self.known_methods = frozenset(known_methods)
        quota.register_counter(
            APP_CREDENTIAL_RESOURCE, self._count_credentials, blocks_project_delete=False
        )

    @staticmethod
    def _count_credentials(session: Session, project_id: str) -> int:
        return int(
            session.execute(
                select(func.count()).where(ApplicationCredential.project_id == project_id)
            ).scalar_one()
        )

    # -- projects ---------------------------------------------------------------------------

    def _insert_named(self, row: object, kind: str, name: str) -> None:
        """Insert ``row``; a unique-name clash becomes ALREADY_EXISTS naming ``kind``."""
        try:
            with self._database.session() as session:
                session.add(row)
        except IntegrityError:
            raise errors.AlreadyExists(
                f"a {kind} named {name!r} exists already", field="name", hint="pick another name"
            ) from None

    def create_project(self, caller: Caller, name: str, description: str) -> ProjectView:
        validate_name(name)
        if len(description) > MAX_DESCRIPTION:
            raise errors.InvalidArgument(
                f"description is longer than {MAX_DESCRIPTION} characters", field="description"
            )
        stamp = now()
        row = Project(
            id=str(uuid.uuid4()),
            name=name,
            description=description,
            enabled=True,
            is_admin_project=False,
            created_at=stamp,
            updated_at=stamp,
        )
        self._insert_named(row, "project", name)
        return _project_view(row)

    def _project(self, session: Session, caller: Caller, project_id: str) -> Project:
        scoped = caller.project_scope(project_id)
        row = session.get(Project, scoped)
        if row is None:
            raise errors.NotFound(f"project {scoped!r} not found", field="project_id")
        return row

    def get_project(self, caller: Caller, project_id: str) -> ProjectView:
        with self._database.session() as session:
            return _project_view(self._project(session, caller, project_id))

    def list_projects(self, caller: Caller, size: int, token: str) -> Page[ProjectView]:
        limit = page_size(size)
        after = _page_after(token)
        query = select(Project).order_by(Project.name).limit(limit + 1)
        if caller.application_credential_id:
            # A credential is bound to one project; it sees nothing else.
            query = query.where(Project.id == caller.project_id)
        elif not caller.is_cloud_admin:
            # The projects the user holds a role on: where it can scope a token to.
            query = query.where(
                Project.id.in_(
                    select(RoleAssignment.project_id).where(
                        RoleAssignment.user_id == caller.user_id
                    )
                )
            )
        if after is not None:
            query = query.where(Project.name > after)
        with self._database.session() as session:
            rows = [_project_view(r) for r in session.execute(query).scalars()]
        return _paged(rows, limit, rows[limit - 1].name if len(rows) > limit else "")

    def update_project(
        self, caller: Caller, project_id: str, description: str | None, enabled: bool | None
    ) -> ProjectView:
        with self._database.session() as session:
            row = self._project(session, caller, project_id)
            if description is not None:
                if len(description) > MAX_DESCRIPTION:
                    raise errors.InvalidArgument(
                        f"description is longer than {MAX_DESCRIPTION} characters",
                        field="description",
                    )
                row.description = description
            if enabled is not None:
                if row.is_admin_project and not enabled:
                    raise errors.Conflict(
                        "the admin project cannot be disabled",
                        hint="it is where the cloud's administrators are",
                    )
                row.enabled = enabled
            row.updated_at = now()
            return _project_view(row)

    def delete_project(self, caller: Caller, project_id: str) -> None:
        if not project_id:
            raise errors.InvalidArgument("project_id is required", field="project_id")
        with self._database.session() as session:
            row = self._project(session, caller, project_id)
            if row.is_admin_project:
                raise errors.Conflict(
                    "the admin project cannot be deleted",
                    hint="it is where the cloud's administrators are",
                )
            left = self._quota.blocking_resources(session, row.id)
            if left:
                owned = ", ".join(f"{count} {resource}" for resource, count in left.items())
                raise errors.Conflict(
                    f"project {row.name!r} still owns {owned}",
                    hint="delete its resources first",
                )
            session.delete(row)

    # -- users ------------------------------------------------------------------------------

    def create_user(self, caller: Caller, name: str, password: str) -> UserView:
        validate_name(name)
        hashed = passwords.hash_password(passwords.check_new_password(password), self._log_n)
        stamp = now()
        row = User(
            id=str(uuid.uuid4()),
            name=name,
            password_hash=hashed,
            enabled=True,
            tokens_valid_after=stamp,
            created_at=stamp,
            updated_at=stamp,
        )
        self._insert_named(row, "user", name)
        return _user_view(row)

    def _user(self, session: Session, caller: Caller, user_id: str) -> User:
        user_id = user_id or caller.user_id
        if user_id != caller.user_id and not caller.is_cloud_admin:
            raise _user_not_found(user_id)
        row = session.get(User, user_id)
        if row is None:
            raise _user_not_found(user_id)
        return row

    def get_user(self, caller: Caller, user_id: str) -> UserView:
        with self._database.session() as session:
            return _user_view(self._user(session, caller, user_id))

    def list_users(self, caller: Caller, size: int, token: str) -> Page[UserView]:
        limit = page_size(size)
        after = _page_after(token)
        query = select(User).order_by(User.name).limit(limit + 1)
        if after is not None:
            query = query.where(User.name > after)
        with self._database.session() as session:
            rows = [_user_view(r) for r in session.execute(query).scalars()]
        return _paged(rows, limit, rows[limit - 1].name if len(rows) > limit else "")

    def update_user(
        self, caller: Caller, user_id: str, password: str | None, enabled: bool | None
    ) -> UserView:
        if not user_id:
            raise errors.InvalidArgument("user_id is required", field="user_id")
        hashed = (
            passwords.hash_password(passwords.check_new_password(password), self._log_n)
            if password is not None
            else None
        )
        with self._database.session() as session:
            row = self._user(session, caller, user_id)
            if enabled is False and row.id == caller.user_id:
                raise errors.Conflict("you cannot disable yourself", hint="ask another admin")
            stamp = now()
            if hashed is not None:
                row.password_hash = hashed
            if enabled is not None:
                row.enabled = enabled
            if hashed is not None or enabled is False:
                # Every token issued until now stops working.
                row.tokens_valid_after = stamp
            row.updated_at = stamp
            return _user_view(row)

    def delete_user(self, caller: Caller, user_id: str) -> None:
        if not user_id:
            raise errors.InvalidArgument("user_id is required", field="user_id")
        if user_id == caller.user_id:
            raise errors.Conflict("you cannot delete yourself", hint="ask another admin")
        with self._database.session() as session:
            session.delete(self._user(session, caller, user_id))

    # -- roles ------------------------------------------------------------------------------

    def grant_role(
        self, caller: Caller, project_id: str, user_id: str, role: str
    ) -> AssignmentView:
        validate_role(role)
        with self._database.session() as session:
            project = self._project(session, caller, project_id)
            user = session.get(User, user_id) if user_id else None
            if user is None:
                raise _user_not_found(user_id)
            if session.get(RoleAssignment, (user.id, project.id, role)) is None:
                session.add(RoleAssignment(user_id=user.id, project_id=project.id, role=role))
            return AssignmentView(user.id, user.name, project.id, project.name, role)

    def revoke_role(self, caller: Caller, project_id: str, user_id: str, role: str) -> None:
        validate_role(role)
        with self._database.session() as session:
            project = self._project(session, caller, project_id)
            row = session.get(RoleAssignment, (user_id, project.id, role))
            if row is None:
                raise errors.NotFound(
                    f"user {user_id!r} does not hold {role!r} on project {project.name!r}",
                    field="role",
                )
            if project.is_admin_project and role == "admin":
                admins = session.execute(
                    select(func.count()).where(
                        RoleAssignment.project_id == project.id, RoleAssignment.role == "admin"
                    )
                ).scalar_one()
                if admins <= 1:
                    raise errors.Conflict(
                        "that is the last admin of the admin project",
                        hint="grant admin to another user first",
                    )
            session.delete(row)

    def list_assignments(
        self, caller: Caller, project_id: str, user_id: str, size: int, token: str
    ) -> Page[AssignmentView]:
        limit = page_size(size)
        after = decode_token(token)
        with self._database.session() as session:
            project = self._project(session, caller, project_id)
            query = (
                select(RoleAssignment.user_id, User.name, RoleAssignment.role)
                .join(User, User.id == RoleAssignment.user_id)
                .where(RoleAssignment.project_id == project.id)
                .order_by(User.name, RoleAssignment.role)
            )
            if user_id:
                query = query.where(RoleAssignment.user_id == user_id)
            rows = [
                AssignmentView(r.user_id, r.name, project.id, project.name, r.role)
                for r in session.execute(query)
            ]
        # Assignments per project are few; page in memory by (user name, role).
        if after is not None:
            try:
                key = (str(after[0]), str(after[1]))
            except (TypeError, IndexError, KeyError):
                raise errors.InvalidArgument(
                    "page_token is not a token this server issued", field="page.page_token"
                ) from None
            rows = [r for r in rows if (r.user_name, r.role) > key]
        if len(rows) > limit:
            last = rows[limit - 1]
            return Page(rows[:limit], encode_token([last.user_name, last.role]))
        return Page(rows, "")

    # -- application credentials --------------------------------------------------------------

    def create_credential(
        self,
        caller: Caller,
        name: str,
        roles: Sequence[str],
        allowed_methods: Sequence[str],
        expires_at: datetime | None,
    ) -> tuple[CredentialView, str]:
        """A new credential and its secret (shown once); counts against the project's quota."""
        if caller.application_credential_id:
            # Otherwise a limited credential could mint itself an unlimited one.
            raise errors.PermissionDenied(
                "an application credential cannot create application credentials",
                hint="log in with your password to create one",
            )
        validate_name(name)
        for role in roles:
            validate_role(role, "roles")
        if not expand_roles(frozenset(roles)) <= caller.roles:
            raise errors.PermissionDenied(
                "you can only give an application credential roles you hold",
                field="roles",
                hint=f"your roles here: {', '.join(r for r in ROLES if r in caller.roles)}",
            )
        chosen = list(roles) or [next(r for r in ROLES if r in caller.roles)]
        methods = sorted(set(allowed_methods))
        if len(methods) > MAX_ALLOWED_METHODS:
            raise errors.InvalidArgument(
                f"at most {MAX_ALLOWED_METHODS} allowed methods", field="allowed_methods"
            )
        for method in methods:
            if not _METHOD.match(method) or (
                self.known_methods and method not in self.known_methods
            ):
                raise errors.InvalidArgument(
                    f"unknown method {method!r}",
                    field="allowed_methods",
                    hint="use full names like /cumulo.system.v1.SystemService/GetInfo",
                )
        if expires_at is not None and utc(expires_at) <= now():
            raise errors.InvalidArgument(
                "expires_at is in the past", field="expires_at", hint="pick a future time"
            )
        secret = secrets.token_urlsafe(32)
        row = ApplicationCredential(
            id=str(uuid.uuid4()),
            name=name,
            user_id=caller.user_id,
            project_id=caller.project_id,
            secret_hash=secret_digest(secret),
            roles=" ".join(sorted(set(chosen), key=ROLES.index)),
            allowed_methods=json.dumps(methods),
            expires_at=utc(expires_at) if expires_at else None,
            created_at=now(),
        )
        try:
            with self._database.session() as session:
                # Lock, count the existing rows, then insert in the same transaction.
                self._quota.reserve(session, caller.project_id, {APP_CREDENTIAL_RESOURCE: 1})
                duplicate = session.execute(
                    select(ApplicationCredential.id).where(
                        ApplicationCredential.user_id == caller.user_id,
                        ApplicationCredential.name == name,
                    )
                ).first()
                if duplicate is not None:
                    raise _duplicate_credential(name)
                session.add(row)
        except IntegrityError:
            raise _duplicate_credential(name) from None
        return _credential_view(row), secret

    def _credential(
        self, session: Session, caller: Caller, credential_id: str
    ) -> ApplicationCredential:
        row = session.get(ApplicationCredential, credential_id) if credential_id else None
        if row is None or not (
            caller.is_cloud_admin
            or (row.user_id == caller.user_id and row.project_id == caller.project_id)
        ):
            raise _credential_not_found(credential_id)
        return row

    def get_credential(self, caller: Caller, credential_id: str) -> CredentialView:
        with self._database.session() as session:
            return _credential_view(self._credential(session, caller, credential_id))

    def list_credentials(self, caller: Caller, size: int, token: str) -> Page[CredentialView]:
        limit = page_size(size)
        after = _page_after(token)
        query = (
            select(ApplicationCredential)
            .where(
                ApplicationCredential.user_id == caller.user_id,
                ApplicationCredential.project_id == caller.project_id,
            )
            .order_by(ApplicationCredential.name)
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(ApplicationCredential.name > after)
        with self._database.session() as session:
            rows = [_credential_view(r) for r in session.execute(query).scalars()]
        return _paged(rows, limit, rows[limit - 1].name if len(rows) > limit else "")

    def delete_credential(self, caller: Caller, credential_id: str) -> None:
        with self._database.session() as session:
            session.delete(self._credential(session, caller, credential_id))


def _duplicate_credential(name: str) -> errors.AlreadyExists:
    return errors.AlreadyExists(
        f"you have an application credential named {name!r} already",
        field="name",
        hint="pick another name",
    )
