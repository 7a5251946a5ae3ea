"""Who is calling: the :class:`Caller` the auth interceptor puts in :data:`CALLER`.

This module has no database access, so servicers (``controller.api``) and
domain services both import it.  Roles are fixed and ordered: admin implies
member implies reader.  A *cloud admin* holds admin on the admin project.

Project isolation lives in :meth:`Caller.project_scope`: a caller names a
project other than its own only if it is a cloud admin; anyone else gets
``NOT_FOUND`` (never ``PERMISSION_DENIED``), so project ids and names do not leak.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import datetime

from cumulo import errors

#: Strongest first.
ROLES = ("admin", "member", "reader")
ROLE_DESCRIPTIONS = {
    "admin": "everything a member can do, plus managing the project's role assignments; "
    "on the admin project: the whole cloud",
    "member": "create, change and delete the project's resources",
    "reader": "list and read the project's resources",
}


def implied_roles(role: str) -> tuple[str, ...]:
    """``role`` and every role it implies, strongest first."""
    return ROLES[ROLES.index(role) :]


def expand_roles(roles: set[str] | frozenset[str] | tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set()
    for role in roles:
        if role in ROLES:
            out.update(implied_roles(role))
    return frozenset(out)


def validate_role(role: str, field: str = "role") -> str:
    if role not in ROLES:
        raise errors.InvalidArgument(
            f"unknown role {role!r}", field=field, hint=f"roles are {', '.join(ROLES)}"
        )
    return role


@dataclass(frozen=True)
class Caller:
    """An authenticated call's identity, checked against the database for this call."""

    user_id: str
    user_name: str
    project_id: str
    project_name: str
    #: Effective roles, implied ones included.
    roles: frozenset[str]
    token_id: str
    issued_at: datetime
    expires_at: datetime
    authenticated_at: datetime
    is_cloud_admin: bool = False
    application_credential_id: str = ""
    #: Full method names an application credential is limited to; empty means any.
    allowed_methods: frozenset[str] = frozenset()

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def project_scope(self, requested: str = "") -> str:
        """The project a request acts on: ``requested``, or the caller's own when empty.

        Raises NOT_FOUND when a caller who is not a cloud admin names another
        project, so the answer is the same whether that project exists or not.
        """
        if not requested or requested == self.project_id:
            return self.project_id
        if self.is_cloud_admin:
            return requested
        raise project_not_found(requested)


def project_not_found(project_id: str) -> errors.NotFound:
    return errors.NotFound(
        f"project {project_id!r} not found",
        field="project_id",
        hint="check the id; you can only see projects you have a role on",
    )


#: The current call's caller (``None`` outside an authenticated call).
CALLER: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "cumulo_caller", default=None
)


def current_caller() -> Caller:
    """The authenticated caller of the current RPC; an internal error if there is none."""
    caller = CALLER.get()
    if caller is None:
        # Only reachable when a method's policy row is OPEN but its servicer needs a caller.
        raise errors.InternalError(
            "this method needs an authenticated caller but the policy lets it through unchecked",
            hint="the operator must fix the method's row in controller/policy.py",
        )
    return caller
