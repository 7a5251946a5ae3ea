"""IdentityService: issuing, checking and revoking tokens, and the first-start bootstrap.

Contracts:

* :meth:`IdentityService.authenticate` turns a bearer token into a
  :class:`~controller.identity.caller.Caller` for one call.  Besides the
  signature and expiry (``controller.identity.tokens``) it checks the database
  every call: the token is not revoked, the user exists, is enabled and has not
  had its tokens revoked since, the project exists and is enabled, the
  application credential (if any) still exists and has not expired, and the
  roles are those the user holds *now* (intersected with the credential's).
  So revocations and role changes take effect on the next call, on every
  controller.
* The ``issue_*`` methods answer one message for every credential failure
  (unknown user, wrong password, disabled user), hash against a dummy for
  unknown users so timing does not tell either, and count failures per user
  name and per source address (``controller.identity.ratelimit``).
* :meth:`IdentityService.bootstrap` is idempotent and safe when several
  controllers start at once (it runs under a database lock).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from controller.db import Database
from controller.db.locks import write_lock
from controller.db.models_identity import (
    ApplicationCredential,
    Project,
    RevokedToken,
    RoleAssignment,
    User,
)
from controller.identity import passwords, tokens
from controller.identity.caller import ROLES, Caller, expand_roles
from controller.identity.keys import SigningKeys
from controller.identity.ratelimit import Limit, RateLimiter, limiter_key
from controller.identity.times import now, utc
from cumulo import errors
from cumulo.config import IdentityConfig

ADMIN_PROJECT = "admin"
ADMIN_USER = "admin"
ADMIN_PASSWORD_FILE = "admin-password"

_INVALID_HINT = "check the user name, password and project; repeated failures are slowed down"


def secret_digest(secret: str) -> str:
    """SHA-256 of an application credential secret (256 random bits need no slow hash)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


#: Compared against when the credential id is unknown, so both paths do the same work.
_DUMMY_SECRET_DIGEST = secret_digest(secrets.token_urlsafe(32))


def _from_ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    caller: Caller


@dataclass(frozen=True)
class BootstrapReport:
    admin_project_id: str
    admin_user_id: str
    #: Where a generated admin password was written (None when it came from config or
    #: the admin user existed already).
    password_file: Path | None


def _revoked(why: str) -> errors.Unauthenticated:
    return errors.Unauthenticated(
        f"the token is no longer valid ({why})",
        reason="TOKEN_REVOKED",
        hint="log in again (`cumulo login`)",
    )


def _bad_credentials(what: str = "user name or password") -> errors.Unauthenticated:
    return errors.Unauthenticated(
        f"invalid {what}", reason="INVALID_CREDENTIALS", hint=_INVALID_HINT
    )


class IdentityService:
    """Tokens in and out; see the module docstring."""

    def __init__(self, database: Database, config: IdentityConfig) -> None:
        if not passwords.MIN_LOG_N <= config.password_hash_log_n <= 20:
            raise errors.InvalidArgument(
                f"identity.password_hash_log_n must be {passwords.MIN_LOG_N} to 20, "
                f"got {config.password_hash_log_n}",
                hint="14 is a sound default",
            )
        self._database = database
        self.config = config
        self.keys = SigningKeys(database)
        window = timedelta(seconds=config.failure_window_seconds)
        self.limiter = RateLimiter(
            {
                "user": Limit(config.max_failures_per_user, window),
                "appcred": Limit(config.max_failures_per_user, window),
                "source": Limit(config.max_failures_per_source, window),
            }
        )
        self.token_ttl = timedelta(seconds=config.token_ttl_seconds)
        self.max_session = timedelta(seconds=config.max_session_seconds)

    # -- bootstrap --------------------------------------------------------------------------

    def bootstrap(self, data_dir: Path) -> BootstrapReport:
        """Create the signing key, the admin project and the admin user if missing."""
        password_file: Path | None = None
        with self._database.session() as session:
            write_lock(session, "identity-bootstrap")
            self.keys.ensure(session)
            project = session.execute(
                select(Project).where(Project.is_admin_project.is_(True))
            ).scalar_one_or_none()
            stamp = now()
            if project is None:
                project = Project(
                    id=str(uuid.uuid4()),
                    name=ADMIN_PROJECT,
                    description="the cloud's administrators",
                    enabled=True,
                    is_admin_project=True,
                    created_at=stamp,
                    updated_at=stamp,
                )
                session.add(project)
            user = session.execute(select(User).where(User.name == ADMIN_USER)).scalar_one_or_none()
            if user is None:
                password = self.config.admin_password
                if not password:
                    password = secrets.token_urlsafe(18)
                    password_file = data_dir / "controller" / ADMIN_PASSWORD_FILE
                    _write_private(password_file, password + "\n")
                user = User(
                    id=str(uuid.uuid4()),
                    name=ADMIN_USER,
                    password_hash=passwords.hash_password(
                        password, self.config.password_hash_log_n
                    ),
                    enabled=True,
                    tokens_valid_after=stamp,
                    created_at=stamp,
                    updated_at=stamp,
                )
                session.add(user)
                session.flush()
                session.add(RoleAssignment(user_id=user.id, project_id=project.id, role="admin"))
            report = BootstrapReport(project.id, user.id, password_file)
        self.keys.reload()
        return report

    # -- issuing ----------------------------------------------------------------------------

    def _mint(
        self,
        user: User,
        project: Project,
        roles: frozenset[str],
        *,
        authenticated_at: datetime,
        credential: ApplicationCredential | None = None,
        allowed_methods: frozenset[str] = frozenset(),
    ) -> IssuedToken:
        issued = now()
        expires = min(issued + self.token_ttl, authenticated_at + self.max_session)
        if credential is not None and credential.expires_at is not None:
            expires = min(expires, utc(credential.expires_at))
        claims = tokens.Claims(
            token_id=str(uuid.uuid4()),
            user_id=user.id,
            project_id=project.id,
            roles=tuple(r for r in ROLES if r in roles),
            issued_at=issued.timestamp(),
            expires_at=expires.timestamp(),
            authenticated_at=authenticated_at.timestamp(),
            application_credential_id=credential.id if credential else "",
            # An application credential's limit is re-read from the database on every
            # call; any other limit (internal tokens) travels signed in the token.
            methods=tuple(sorted(allowed_methods)) if credential is None else (),
        )
        key_id, secret = self.keys.current()
        caller = self._make_caller(
            claims,
            user_name=user.name,
            project_name=project.name,
            is_admin_project=project.is_admin_project,
            roles=roles,
            allowed_methods=allowed_methods,
        )
        return IssuedToken(tokens.sign(claims, key_id, secret), caller)

    @staticmethod
    def _make_caller(
        claims: tokens.Claims,
        *,
        user_name: str,
        project_name: str,
        is_admin_project: bool,
        roles: frozenset[str],
        allowed_methods: frozenset[str],
    ) -> Caller:
        return Caller(
            user_id=claims.user_id,
            user_name=user_name,
            project_id=claims.project_id,
            project_name=project_name,
            roles=roles,
            token_id=claims.token_id,
            issued_at=_from_ts(claims.issued_at),
            expires_at=_from_ts(claims.expires_at),
            authenticated_at=_from_ts(claims.authenticated_at),
            is_cloud_admin=is_admin_project and "admin" in roles,
            application_credential_id=claims.application_credential_id,
            allowed_methods=allowed_methods,
        )

    @staticmethod
    def _held_roles(session: Session, user_id: str, project_id: str) -> frozenset[str]:
        held = session.execute(
            select(RoleAssignment.role).where(
                RoleAssignment.user_id == user_id, RoleAssignment.project_id == project_id
            )
        ).scalars()
        return expand_roles(frozenset(held))

    def _check_limits(self, keys: list[str]) -> None:
        with self._database.session() as session:
            self.limiter.check(session, keys, now())

    def _fail(self, keys: list[str], error: errors.CumuloError) -> errors.CumuloError:
        with self._database.session() as session:
            self.limiter.record_failure(session, keys, now())
        return error

    def issue_with_password(
        self, user_name: str, password: str, project_name: str, project_id: str, source: str
    ) -> IssuedToken:
        """A token for ``user_name`` on the named project; see the module docstring."""
        if not user_name or not password:
            raise errors.InvalidArgument(
                "user_name and password are required", field="password", hint=_INVALID_HINT
            )
        keys = [limiter_key("user", user_name), limiter_key("source", source)]
        self._check_limits(keys)
        with self._database.session() as session:
            user = session.execute(select(User).where(User.name == user_name)).scalar_one_or_none()
            stored = user.password_hash if user is not None else None
        # The slow hash runs outside any transaction; unknown users hash against a dummy.
        matches = passwords.verify_password(
            password, stored or passwords.dummy_hash(self.config.password_hash_log_n)
        )
        if user is None or stored is None or not matches or not user.enabled:
            raise self._fail(keys, _bad_credentials())
        with self._database.session() as session:
            user = session.get(User, user.id)
            if user is None or not user.enabled:
                raise _bad_credentials()
            project = self._scoped_project(session, user, project_name, project_id)
            roles = self._held_roles(session, user.id, project.id)
            return self._mint(user, project, roles, authenticated_at=now())

    def issue_internal(self, user_id: str, allowed_methods: frozenset[str]) -> IssuedToken:
        """A token the controller uses itself: ``user_id`` on the admin project, only
        for ``allowed_methods`` (e.g. sampling object usage from an object proxy).

        Raises Unauthenticated when that user is gone, disabled or no longer an
        admin of the admin project, like any other token issue would.
        """
        with self._database.session() as session:
            user = session.get(User, user_id)
            project = session.execute(
                select(Project).where(Project.is_admin_project.is_(True))
            ).scalar_one_or_none()
            if user is None or not user.enabled or project is None:
                raise _bad_credentials("internal user")
            roles = self._held_roles(session, user.id, project.id)
            if "admin" not in roles:
                raise _bad_credentials("internal user")
            return self._mint(
                user, project, roles, authenticated_at=now(), allowed_methods=allowed_methods
            )

    def _scoped_project(
        self, session: Session, user: User, project_name: str, project_id: str
    ) -> Project:
        """The project to scope to; the user's only project when none is named."""
        if project_id:
            project = session.get(Project, project_id)
        elif project_name:
            project = session.execute(
                select(Project).where(Project.name == project_name)
            ).scalar_one_or_none()
        else:
            names = sorted(
                session.execute(
                    select(Project.name)
                    .join(RoleAssignment, RoleAssignment.project_id == Project.id)
                    .where(RoleAssignment.user_id == user.id, Project.enabled.is_(True))
                    .distinct()
                ).scalars()
            )
            if len(names) != 1:
                raise errors.InvalidArgument(
                    "name the project to scope the token to",
                    field="password.project_name",
                    hint=f"your projects: {', '.join(names) or 'none (ask an admin for a role)'}",
                )
            project = session.execute(select(Project).where(Project.name == names[0])).scalar_one()
        wanted = project_id or project_name
        if (
            project is None
            or not project.enabled
            or not self._held_roles(session, user.id, project.id)
        ):
            # The password was right, so saying "no access" reveals nothing to a guesser.
            raise errors.Unauthenticated(
                f"you have no role on project {wanted!r}, or it does not exist or is disabled",
                reason="NO_PROJECT_ACCESS",
                hint="pick a project you have a role on, or ask an admin to grant one",
            )
        return project

    def issue_with_application_credential(
        self, credential_id: str, secret: str, source: str
    ) -> IssuedToken:
        if not credential_id or not secret:
            raise errors.InvalidArgument(
                "application credential id and secret are required",
                field="application_credential",
            )
        keys = [limiter_key("appcred", credential_id), limiter_key("source", source)]
        self._check_limits(keys)
        with self._database.session() as session:
            credential = session.get(ApplicationCredential, credential_id)
            expected = credential.secret_hash if credential else _DUMMY_SECRET_DIGEST
            matches = hmac.compare_digest(secret_digest(secret), expected)
            user = session.get(User, credential.user_id) if credential else None
            project = session.get(Project, credential.project_id) if credential else None
            usable = (
                credential is not None
                and matches
                and user is not None
                and user.enabled
                and project is not None
                and project.enabled
                and (credential.expires_at is None or utc(credential.expires_at) > now())
            )
            if usable:
                assert credential is not None and user is not None and project is not None
                roles = self._held_roles(session, user.id, project.id) & expand_roles(
                    frozenset(credential.roles.split())
                )
                if roles:
                    return self._mint(
                        user,
                        project,
                        roles,
                        authenticated_at=now(),
                        credential=credential,
                        allowed_methods=_methods_of(credential),
                    )
        raise self._fail(keys, _bad_credentials("application credential"))

    def renew(self, token: str) -> IssuedToken:
        """A fresh token for the same user, project and credential as ``token``."""
        caller = self.authenticate(token)
        if now() - caller.authenticated_at >= self.max_session:
            raise errors.Unauthenticated(
                "the session is too old to renew",
                reason="SESSION_EXPIRED",
                hint="log in again with your password or application credential",
            )
        with self._database.session() as session:
            user = session.get(User, caller.user_id)
            project = session.get(Project, caller.project_id)
            credential = (
                session.get(ApplicationCredential, caller.application_credential_id)
                if caller.application_credential_id
                else None
            )
            if user is None or project is None:
                raise _revoked("the user or project is gone")
            return self._mint(
                user,
                project,
                caller.roles,
                authenticated_at=caller.authenticated_at,
                credential=credential,
                allowed_methods=caller.allowed_methods,
            )

    def change_password(
        self, caller: Caller, current_password: str, new_password: str, source: str
    ) -> IssuedToken:
        """Set the caller's password after checking the current one; revoke its other tokens.

        Wrong current passwords count against the sign-in rate limit, so a stolen
        token cannot be used to guess the password faster than signing in could.
        """
        if caller.application_credential_id:
            raise errors.PermissionDenied(
                "an application credential cannot change its user's password",
                hint="log in with your password to change it",
            )
        passwords.check_new_password(new_password, "new_password")
        keys = [limiter_key("user", caller.user_name), limiter_key("source", source)]
        self._check_limits(keys)
        with self._database.session() as session:
            user = session.get(User, caller.user_id)
            stored = user.password_hash if user is not None else ""
        if not passwords.verify_password(current_password, stored):
            raise self._fail(
                keys,
                errors.InvalidArgument(
                    "the current password is wrong",
                    field="current_password",
                    reason="WRONG_PASSWORD",
                    hint="repeated failures are slowed down",
                ),
            )
        hashed = passwords.hash_password(new_password, self.config.password_hash_log_n)
        with self._database.session() as session:
            user = session.get(User, caller.user_id)
            project = session.get(Project, caller.project_id)
            if user is None or project is None:
                raise _revoked("the user or the project was deleted")
            stamp = now()
            user.password_hash = hashed
            # Every token issued until now, this one included, stops working.
            user.tokens_valid_after = stamp
            user.updated_at = stamp
            roles = self._held_roles(session, user.id, project.id)
            return self._mint(user, project, roles, authenticated_at=now())

    # -- checking ---------------------------------------------------------------------------

    def authenticate(self, token: str) -> Caller:
        """The caller ``token`` stands for right now; UNAUTHENTICATED if it stands for nobody.

        Runs on every call, so it reads with two or three Core queries on one
        connection rather than through ORM sessions.
        """
        claims = tokens.verify(token, self.keys.lookup)
        users, projects = User.__table__, Project.__table__
        revoked = RevokedToken.__table__
        with self._database.engine.connect() as connection:
            row = connection.execute(
                select(
                    users.c.name,
                    users.c.enabled,
                    users.c.tokens_valid_after,
                    projects.c.name.label("project_name"),
                    projects.c.enabled.label("project_enabled"),
                    projects.c.is_admin_project,
                    exists().where(revoked.c.token_id == claims.token_id).label("revoked"),
                )
                .select_from(users.join(projects, projects.c.id == claims.project_id))
                .where(users.c.id == claims.user_id)
            ).first()
            if row is None:
                raise _revoked("the user or the project was deleted")
            if row.revoked:
                raise _revoked("it was revoked")
            if not row.enabled:
                raise _revoked("the user is disabled")
            if claims.issued_at < utc(row.tokens_valid_after).timestamp():
                raise _revoked("the user's password changed or their tokens were revoked")
            if not row.project_enabled:
                raise _revoked("the project is disabled")
            held = connection.execute(
                select(RoleAssignment.role).where(
                    RoleAssignment.user_id == claims.user_id,
                    RoleAssignment.project_id == claims.project_id,
                )
            ).scalars()
            roles = expand_roles(frozenset(held))
            allowed = frozenset(claims.methods)
            if claims.application_credential_id:
                credentials = ApplicationCredential.__table__
                credential = connection.execute(
                    select(
                        credentials.c.roles,
                        credentials.c.allowed_methods,
                        credentials.c.expires_at,
                    ).where(credentials.c.id == claims.application_credential_id)
                ).first()
                if credential is None or (
                    credential.expires_at is not None and utc(credential.expires_at) <= now()
                ):
                    raise _revoked("its application credential was deleted or expired")
                roles &= expand_roles(frozenset(credential.roles.split()))
                # Tokens of a credential never carry methods of their own (_mint).
                allowed = frozenset(json.loads(credential.allowed_methods or "[]"))
        if not roles:
            raise _revoked("the user no longer has a role on the project")
        return self._make_caller(
            claims,
            user_name=row.name,
            project_name=row.project_name,
            is_admin_project=bool(row.is_admin_project),
            roles=roles,
            allowed_methods=allowed,
        )

    def revoke(self, caller: Caller, token: str) -> str:
        """Revoke ``token`` (any valid token its holder presents), or the caller's own."""
        if token:
            claims = tokens.verify(token, self.keys.lookup)
            token_id, expires = claims.token_id, _from_ts(claims.expires_at)
        else:
            token_id, expires = caller.token_id, caller.expires_at
        with self._database.session() as session:
            if session.get(RevokedToken, token_id) is None:
                session.add(RevokedToken(token_id=token_id, expires_at=expires, revoked_at=now()))
            # Rows of tokens that expired anyway are no longer needed.
            session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now()))
        return token_id


def _methods_of(credential: ApplicationCredential) -> frozenset[str]:
    return frozenset(json.loads(credential.allowed_methods or "[]"))


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (mode 0600 from creation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
