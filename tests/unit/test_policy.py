"""The policy table and how a rule judges a caller (no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.identity.caller import Caller, expand_roles
from controller.policy import (
    CLOUD_ADMIN,
    MEMBER,
    NODE_CREDENTIAL,
    OPEN,
    POLICY,
    PROJECT_ADMIN,
    READER,
    Rule,
    authorize,
)
from cumulo import errors

NOW = datetime(2026, 6, 1, tzinfo=UTC)
METHOD = "/cumulo.system.v1.SystemService/GetInfo"


def caller(
    role: str, *, cloud_admin: bool = False, allowed: frozenset[str] = frozenset()
) -> Caller:
    return Caller(
        user_id="u",
        user_name="user",
        project_id="p",
        project_name="proj",
        roles=expand_roles({role}),
        token_id="t",
        issued_at=NOW,
        expires_at=NOW,
        authenticated_at=NOW,
        is_cloud_admin=cloud_admin,
        allowed_methods=allowed,
    )


@pytest.mark.parametrize(
    ("rule", "role", "allowed"),
    [
        (READER, "reader", True),
        (MEMBER, "reader", False),
        (MEMBER, "member", True),
        (MEMBER, "admin", True),
        (PROJECT_ADMIN, "member", False),
        (PROJECT_ADMIN, "admin", True),
        (CLOUD_ADMIN, "admin", False),  # admin of an ordinary project is no cloud admin
    ],
)
def test_roles_are_ordered(rule: Rule, role: str, allowed: bool) -> None:
    if allowed:
        authorize(rule, caller(role), METHOD)
    else:
        with pytest.raises(errors.PermissionDenied):
            authorize(rule, caller(role), METHOD)


def test_cloud_admin_passes_everything() -> None:
    for rule in (READER, MEMBER, PROJECT_ADMIN, CLOUD_ADMIN):
        authorize(rule, caller("admin", cloud_admin=True), METHOD)


def test_application_credential_methods_are_enforced() -> None:
    limited = caller("admin", cloud_admin=True, allowed=frozenset({"/a.B/C"}))
    authorize(READER, limited, "/a.B/C")
    with pytest.raises(errors.PermissionDenied) as caught:
        authorize(READER, limited, METHOD)
    assert caught.value.reason == "METHOD_NOT_ALLOWED"
    authorize(POLICY["/cumulo.identity.v1.IdentityService/GetCaller"], limited, "/x.Y/Z")


def test_only_health_reflection_and_issue_token_are_open() -> None:
    # AgentService/Connect takes no user token: the service checks the node credential.
    assert POLICY["/cumulo.agent.v1.AgentService/Connect"] == NODE_CREDENTIAL
    open_methods = {
        m for m, rule in POLICY.items() if rule.kind != "token" and rule != NODE_CREDENTIAL
    }
    assert open_methods == {
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.health.v1.Health/List",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/cumulo.identity.v1.IdentityService/IssueToken",
    }
    assert all(POLICY[m] == OPEN for m in open_methods)


def test_every_row_is_well_formed() -> None:
    for method, rule in POLICY.items():
        assert method.startswith("/") and method.count("/") == 2, method
        assert rule.kind in ("open", "token", "node_credential")
        if rule.kind == "token":
            assert rule.role in ("reader", "member", "admin") and rule.scope in (
                "project",
                "system",
            )
    assert NODE_CREDENTIAL.describe().startswith("node credential")


def test_project_scope_hides_other_projects() -> None:
    member = caller("member")
    assert member.project_scope("") == "p"
    assert member.project_scope("p") == "p"
    with pytest.raises(errors.NotFound):
        member.project_scope("q")
    assert caller("admin", cloud_admin=True).project_scope("q") == "q"
