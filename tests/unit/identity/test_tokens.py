"""Token format: signing, expiry, tampering, unknown keys (no database)."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest

from controller.identity import tokens
from cumulo import errors

KEY_ID = "k1"
SECRET = b"s" * 32
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def claims(expires_in: int = 3600) -> tokens.Claims:
    return tokens.Claims(
        token_id="t-1",
        user_id="u-1",
        project_id="p-1",
        roles=("member", "reader"),
        issued_at=NOW.timestamp(),
        expires_at=NOW.timestamp() + expires_in,
        authenticated_at=NOW.timestamp(),
        application_credential_id="ac-1",
    )


def lookup(key_id: str) -> bytes | None:
    return SECRET if key_id == KEY_ID else None


def test_round_trip() -> None:
    token = tokens.sign(claims(), KEY_ID, SECRET)
    assert token.startswith("cmo1.k1.")
    assert tokens.verify(token, lookup, NOW) == claims()
    assert tokens.peek_token_id(token) == "t-1"


def test_expired_token_says_so() -> None:
    token = tokens.sign(claims(expires_in=60), KEY_ID, SECRET)
    tokens.verify(token, lookup, NOW + timedelta(seconds=59))
    with pytest.raises(errors.Unauthenticated) as caught:
        tokens.verify(token, lookup, NOW + timedelta(seconds=60))
    assert caught.value.reason == "TOKEN_EXPIRED"


def test_every_single_character_change_is_refused() -> None:
    token = tokens.sign(claims(), KEY_ID, SECRET)
    alphabet = string.ascii_letters + string.digits + "-_"
    for index, char in enumerate(token):
        if char == ".":
            continue
        replacement = (
            alphabet[(alphabet.index(char) + 1) % len(alphabet)] if char in alphabet else "A"
        )
        tampered = token[:index] + replacement + token[index + 1 :]
        with pytest.raises(errors.Unauthenticated):
            tokens.verify(tampered, lookup, NOW)


def test_forged_claims_with_another_key_are_refused() -> None:
    forged = tokens.sign(claims(expires_in=10**8), KEY_ID, b"attacker-secret")
    with pytest.raises(errors.Unauthenticated) as caught:
        tokens.verify(forged, lookup, NOW)
    assert caught.value.reason == "TOKEN_INVALID"


@pytest.mark.parametrize("bad", ["", "x", "cmo1.k1.a", "cmo2.k1.a.b", "cmo1.zz.a.b", "a" * 5000])
def test_garbage_is_invalid_not_a_crash(bad: str) -> None:
    with pytest.raises(errors.Unauthenticated) as caught:
        tokens.verify(bad, lookup, NOW)
    assert caught.value.reason == "TOKEN_INVALID"
    assert tokens.peek_token_id(bad) == ""


def test_signed_garbage_claims_are_invalid() -> None:
    signed = f"cmo1.{KEY_ID}.bm90LWpzb24"  # "not-json"
    import base64
    import hashlib
    import hmac

    mac = hmac.new(SECRET, signed.encode(), hashlib.sha256).digest()
    token = f"{signed}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    with pytest.raises(errors.Unauthenticated) as caught:
        tokens.verify(token, lookup, NOW)
    assert "malformed claims" in caught.value.message
