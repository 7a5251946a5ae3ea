"""Client-side authentication: how the SDK gets, sends and renews tokens.

:class:`Credentials` says how to obtain a token (password, password file,
application credential, or only renewing an existing token);
:class:`TokenManager` keeps the current token, renews it shortly before it
expires (and once more when the server says it expired), and reports each new
token to ``on_renew`` (the CLI saves it in the profile).  Thread-safe: one
renewal at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cumulo import errors
from cumulo.identity.v1 import identity_pb2 as pb

if TYPE_CHECKING:
    from cumulo.client import Client

#: Renew when less than this share of the token's life is left (capped at RENEW_AHEAD_MAX).
RENEW_FRACTION = 0.25
RENEW_AHEAD_MAX = timedelta(minutes=5)


@dataclass(frozen=True)
class Credentials:
    """How to authenticate. ``method``: "password", "password_file", "app_credential", "token"."""

    method: str
    user: str = ""
    password: str = ""
    password_file: str = ""
    project: str = ""
    project_id: str = ""
    app_credential_id: str = ""
    app_credential_secret: str = ""

    def request(self, current_token: str = "") -> pb.IssueTokenRequest:
        """The IssueToken request these credentials make."""
        if self.method in ("password", "password_file"):
            password = self.password
            if self.method == "password_file":
                try:
                    password = Path(self.password_file).expanduser().read_text().strip()
                except OSError as exc:
                    raise errors.Unauthenticated(
                        f"cannot read the password file {self.password_file}: {exc.strerror}",
                        hint="check the path, or log in again with `cumulo login`",
                    ) from None
            return pb.IssueTokenRequest(
                password=pb.PasswordMethod(
                    user_name=self.user,
                    password=password,
                    project_name=self.project,
                    project_id=self.project_id,
                )
            )
        if self.method == "app_credential":
            return pb.IssueTokenRequest(
                application_credential=pb.ApplicationCredentialMethod(
                    id=self.app_credential_id, secret=self.app_credential_secret
                )
            )
        if self.method == "token":
            if not current_token:
                raise errors.Unauthenticated("no token to renew", hint="log in with `cumulo login`")
            return pb.IssueTokenRequest(token=pb.TokenMethod(token=current_token))
        raise errors.InvalidArgument(f"unknown authentication method {self.method!r}")

    @property
    def reauthenticates(self) -> bool:
        """True when a new token can be had even after the current one expired."""
        return self.method != "token"


def _dt(stamp: object) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)  # type: ignore[attr-defined]


class TokenManager:
    """The current token of a :class:`~cumulo.client.Client`; see the module docstring."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        token: str = "",
        issued_at: datetime | None = None,
        expires_at: datetime | None = None,
        on_renew: Callable[[pb.IssueTokenResponse], None] | None = None,
    ) -> None:
        self.credentials = credentials
        self.token = token
        self.issued_at = issued_at
        self.expires_at = expires_at
        self.on_renew = on_renew
        self.info: pb.TokenInfo | None = None
        self._lock = threading.Lock()

    def _due(self, now: datetime) -> bool:
        if not self.token:
            return True
        if self.expires_at is None:
            return False
        life = self.expires_at - (self.issued_at or self.expires_at - timedelta(hours=1))
        ahead = min(life * RENEW_FRACTION, RENEW_AHEAD_MAX)
        return now >= self.expires_at - ahead

    def current(self, client: Client) -> str:
        """A token valid for a while yet, renewing it first if it is about to expire."""
        if self._due(datetime.now(UTC)):
            self.renew(client)
        return self.token

    def renew(self, client: Client, *, expired: str = "") -> None:
        """Get a new token (``expired``: the token the server refused, to skip double renewals)."""
        with self._lock:
            if expired and self.token != expired:
                return  # another thread renewed meanwhile
            if not expired and not self._due(datetime.now(UTC)):
                return
            self._store(client.identity.issue_token(self.credentials.request(self.token)))

    def adopt(self, response: pb.IssueTokenResponse) -> None:
        """Use a token the server handed out otherwise (e.g. after ChangePassword)."""
        with self._lock:
            self._store(response)

    def _store(self, response: pb.IssueTokenResponse) -> None:
        self.token = response.token
        self.info = response.info
        self.issued_at = _dt(response.info.issued_at)
        self.expires_at = _dt(response.info.expires_at)
        if self.on_renew is not None:
            self.on_renew(response)
