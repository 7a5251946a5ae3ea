"""Signed, expiring tokens: format, signing and verification (no database here).

A token is ``cmo1.<key id>.<claims>.<signature>``: the claims are URL-safe
base64 JSON, the signature is HMAC-SHA256 over ``cmo1.<key id>.<claims>`` with
the signing key named by the key id.  Keys live in the database
(``signing_keys``) so every controller sharing it accepts every other's tokens.

Contract of :func:`verify`: it returns the claims only when the signature is
right under a known key and the token has not expired; otherwise it raises
:class:`cumulo.errors.Unauthenticated` with reason ``TOKEN_EXPIRED`` (the SDK
renews on that) or ``TOKEN_INVALID``.  Revocation is not checked here: the
identity service checks the claims against the database on every call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cumulo import errors

PREFIX = "cmo1"
#: Upper bound on what we bother to parse (a token is ~400 bytes).
MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class Claims:
    """What a token says. Times are Unix seconds with microseconds, so a password change
    refuses exactly the tokens issued before it and a token lives exactly its TTL."""

    token_id: str
    user_id: str
    project_id: str
    roles: tuple[str, ...]
    issued_at: float
    expires_at: float
    #: When the password or application credential was checked (renewals keep it).
    authenticated_at: float
    application_credential_id: str = ""
    #: RPCs (full method names) the token is limited to; empty means no limit beyond
    #: its roles (an application credential's list is read from the database).
    methods: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        body = {
            "tid": self.token_id,
            "uid": self.user_id,
            "pid": self.project_id,
            "roles": list(self.roles),
            "iat": self.issued_at,
            "exp": self.expires_at,
            "aat": self.authenticated_at,
        }
        if self.application_credential_id:
            body["acid"] = self.application_credential_id
        if self.methods:
            body["mth"] = list(self.methods)
        return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Claims:
        body = json.loads(raw)
        return cls(
            token_id=str(body["tid"]),
            user_id=str(body["uid"]),
            project_id=str(body["pid"]),
            roles=tuple(str(r) for r in body["roles"]),
            issued_at=float(body["iat"]),
            expires_at=float(body["exp"]),
            authenticated_at=float(body["aat"]),
            application_credential_id=str(body.get("acid", "")),
            methods=tuple(str(m) for m in body.get("mth", ())),
        )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, signed: str) -> bytes:
    return hmac.new(secret, signed.encode(), hashlib.sha256).digest()


def sign(claims: Claims, key_id: str, secret: bytes) -> str:
    """The token string for ``claims`` signed with key ``key_id``."""
    signed = f"{PREFIX}.{key_id}.{_b64(claims.to_json())}"
    return f"{signed}.{_b64(_signature(secret, signed))}"


def _invalid(why: str) -> errors.Unauthenticated:
    return errors.Unauthenticated(
        f"the token is not valid ({why})",
        reason="TOKEN_INVALID",
        hint="log in again (`cumulo login`) or issue a new token with IssueToken",
    )


def verify(
    token: str, key_lookup: Callable[[str], bytes | None], now: datetime | None = None
) -> Claims:
    """The claims of ``token`` if it is authentic and unexpired; see the module docstring."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise _invalid("too long")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise _invalid("not a Cumulo token")
    _, key_id, payload, signature = parts
    secret = key_lookup(key_id)
    if secret is None:
        raise _invalid("signed with an unknown key")
    # Compare the canonical text, not decoded bytes: base64's unused low bits would
    # otherwise let several spellings of one signature pass (a malleable token).
    expected = _b64(_signature(secret, f"{PREFIX}.{key_id}.{payload}"))
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise _invalid("bad signature")
    try:
        claims = Claims.from_json(_unb64(payload))
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise _invalid("malformed claims") from None
    current = (now or datetime.now(UTC)).timestamp()
    if current >= claims.expires_at:
        raise errors.Unauthenticated(
            "the token has expired",
            reason="TOKEN_EXPIRED",
            hint="renew it (the SDK and CLI do this by themselves) or log in again",
        )
    return claims


def peek_token_id(token: str) -> str:
    """The token id in ``token`` without checking anything ("" when unreadable); for logs."""
    try:
        return Claims.from_json(_unb64(token.split(".")[2])).token_id
    except (IndexError, binascii.Error, ValueError, KeyError, TypeError):
        return ""
