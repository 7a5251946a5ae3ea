"""Identity helpers for tests: a known admin password, fast hashing, clients per role."""

from __future__ import annotations

from typing import Any

from cumulo.client import Client

ADMIN_PASSWORD = "admin-password-for-tests"
USER_PASSWORD = "user-password-for-tests"
#: The lowest scrypt cost the controller accepts: keeps the suite fast.
TEST_LOG_N = 10


def configure_identity(config: Any) -> None:
    """Make ``config`` (a cumulo.config.Config) bootstrap a known admin with cheap hashing."""
    config.identity.admin_password = ADMIN_PASSWORD
    config.identity.password_hash_log_n = TEST_LOG_N


def admin_client(address: str, timeout: float = 10) -> Client:
    return Client(address, timeout=timeout, user="admin", password=ADMIN_PASSWORD, project="admin")


def admin_token(address: str) -> str:
    with Client(address, timeout=10) as client:
        return client.identity.login("admin", ADMIN_PASSWORD, "admin").token


def make_user(admin: Client, name: str, project_id: str, role: str) -> str:
    """Create user ``name`` with ``role`` on ``project_id``; return its id."""
    user = admin.identity.create_user(name, USER_PASSWORD)
    admin.identity.grant_role(user.meta.id, role, project_id)
    return user.meta.id


def user_client(address: str, name: str, project: str, timeout: float = 10) -> Client:
    return Client(address, timeout=timeout, user=name, password=USER_PASSWORD, project=project)
