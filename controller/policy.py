"""The policy table: every RPC the controller serves, mapped to what a caller needs.

This is the one place that says who may call what.  The auth interceptor
(``controller.api.auth``) looks every call up here and **denies any method
without a row**; ``tests/functional/test_policy_walk.py`` walks every RPC the
controller registers and fails when one has no row, so a new RPC cannot ship
without a decision here.

Rule kinds:

* :data:`OPEN` - no token needed (health, reflection, IssueToken).
* ``Rule(role, scope="project")`` - a token whose project grants ``role`` or a
  stronger one (admin > member > reader).  Which rows the call may touch is the
  domain service's business: another project's resource is NOT_FOUND.
* ``Rule("admin", scope="system")`` (:data:`CLOUD_ADMIN`) - a cloud admin: the
  admin role on the admin project.
* :data:`INTROSPECTION` - any valid token, even from an application credential
  limited to other methods: the call only describes the calling token
  (``GetCaller``, which other processes use to validate a token).
* :data:`NODE_CREDENTIAL` - no token; the interceptor lets the call through and
  the service itself checks the node's enrollment credential (for
  ``cumulo.agent.v1.AgentService/Connect``: agents are machines, not users).
  A service using it must refuse every call that lacks a valid node credential.

Adding an RPC: add its row here (the walk test fails until you do), with the
weakest role that is still safe; reads are ``reader``, changes ``member``,
cloud-wide changes :data:`CLOUD_ADMIN`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from controller.identity.caller import ROLES, Caller
from cumulo import errors

Kind = Literal["open", "token", "node_credential"]
Scope = Literal["project", "system"]


@dataclass(frozen=True)
class Rule:
    """What a caller of one RPC needs; see the module docstring."""

    kind: Kind = "token"
    role: str = "reader"
    scope: Scope = "project"
    #: The call only describes the calling token itself, so every application
    #: credential may make it whatever its method list says (GetCaller: a service
    #: in another process, like the object proxy, validates a token by calling it).
    introspection: bool = False

    def describe(self) -> str:
        if self.kind == "open":
            return "open (no token)"
        if self.kind == "node_credential":
            return "node credential (checked by the service)"
        if self.scope == "system":
            return "cloud admin"
        return f"{self.role} on the project"


OPEN = Rule(kind="open", role="")
NODE_CREDENTIAL = Rule(kind="node_credential", role="")
READER = Rule(role="reader")
MEMBER = Rule(role="member")
PROJECT_ADMIN = Rule(role="admin")
CLOUD_ADMIN = Rule(role="admin", scope="system")
INTROSPECTION = Rule(role="reader", introspection=True)

_IDENTITY = "/cumulo.identity.v1.IdentityService/"
_QUOTA = "/cumulo.quota.v1.QuotaService/"
_NODE = "/cumulo.node.v1.NodeService/"

#: Full method name -> rule.  Deny by default: a method missing here is refused.
POLICY: dict[str, Rule] = {
    # Health and reflection: probes and `grpcurl list` work without a token.
    "/grpc.health.v1.Health/Check": OPEN,
    "/grpc.health.v1.Health/Watch": OPEN,
    "/grpc.health.v1.Health/List": OPEN,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": OPEN,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": OPEN,
    # System facts: anyone with a token (versions and backends are not secrets; the
    # database URL in GetInfo has its password removed).
    "/cumulo.system.v1.SystemService/GetVersion": READER,
    "/cumulo.system.v1.SystemService/GetInfo": READER,
    # Tokens.
    _IDENTITY + "IssueToken": OPEN,
    _IDENTITY + "RevokeToken": READER,
    _IDENTITY + "GetCaller": INTROSPECTION,
    # Projects: the caller's own is readable by its readers; the rest is cloud-wide.
    _IDENTITY + "CreateProject": CLOUD_ADMIN,
    _IDENTITY + "GetProject": READER,
    _IDENTITY + "ListProjects": READER,
    _IDENTITY + "UpdateProject": CLOUD_ADMIN,
    _IDENTITY + "DeleteProject": CLOUD_ADMIN,
    # Users are cloud-wide; a user may read itself (GetUser with an empty id).
    _IDENTITY + "CreateUser": CLOUD_ADMIN,
    _IDENTITY + "GetUser": READER,
    _IDENTITY + "ListUsers": CLOUD_ADMIN,
    _IDENTITY + "UpdateUser": CLOUD_ADMIN,
    _IDENTITY + "DeleteUser": CLOUD_ADMIN,
    _IDENTITY + "ChangePassword": READER,
    # Roles: a project's admins manage its assignments; its readers may see them.
    _IDENTITY + "ListRoles": READER,
    _IDENTITY + "GrantRole": PROJECT_ADMIN,
    _IDENTITY + "RevokeRole": PROJECT_ADMIN,
    _IDENTITY + "ListRoleAssignments": READER,
    # Application credentials belong to their user; a reader may make one that reads.
    _IDENTITY + "CreateApplicationCredential": READER,
    _IDENTITY + "GetApplicationCredential": READER,
    _IDENTITY + "ListApplicationCredentials": READER,
    _IDENTITY + "DeleteApplicationCredential": READER,
    # Quotas: members (and readers) see their own; cloud admins set them.
    _QUOTA + "GetQuota": READER,
    _QUOTA + "SetQuota": CLOUD_ADMIN,
    _QUOTA + "GetUsage": READER,
    # Agents: no user token; AgentService checks the node credential itself.
    "/cumulo.agent.v1.AgentService/Connect": NODE_CREDENTIAL,
    # Nodes are the cloud's hardware: cloud admins only.
    _NODE + "EnrollNode": CLOUD_ADMIN,
    _NODE + "ListNodes": CLOUD_ADMIN,
    _NODE + "GetNode": CLOUD_ADMIN,
    _NODE + "DisableNode": CLOUD_ADMIN,
    _NODE + "EnableNode": CLOUD_ADMIN,
    _NODE + "DrainNode": CLOUD_ADMIN,
    _NODE + "RevokeNodeCredential": CLOUD_ADMIN,
    _NODE + "SetDesiredState": CLOUD_ADMIN,
    _NODE + "GetNodeSummary": CLOUD_ADMIN,
}


def rule_for(method: str, policy: dict[str, Rule] | None = None) -> Rule | None:
    return (POLICY if policy is None else policy).get(method)


def authorize(rule: Rule, caller: Caller, method: str) -> None:
    """Raise PERMISSION_DENIED unless ``caller`` satisfies ``rule`` for ``method``."""
    if caller.allowed_methods and method not in caller.allowed_methods and not rule.introspection:
        raise errors.PermissionDenied(
            f"this application credential may not call {method}",
            reason="METHOD_NOT_ALLOWED",
            hint="use a credential whose allowed methods include it",
        )
    if rule.scope == "system":
        if not caller.is_cloud_admin:
            raise errors.PermissionDenied(
                f"{method} needs a cloud admin",
                hint="log in as an admin of the admin project",
            )
        return
    if rule.role not in ROLES:
        raise errors.InternalError(f"policy row of {method} names unknown role {rule.role!r}")
    if not caller.has_role(rule.role):
        raise errors.PermissionDenied(
            f"{method} needs the {rule.role} role on project {caller.project_name!r}",
            hint="ask an admin of the project to grant it",
        )
