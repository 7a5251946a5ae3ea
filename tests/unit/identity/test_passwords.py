"""scrypt password hashes: salted, self-describing, constant-time, dummy for unknown users."""

from __future__ import annotations

from controller.identity import passwords

LOG_N = passwords.MIN_LOG_N


def test_hash_verifies_and_is_salted() -> None:
    first = passwords.hash_password("correct horse battery", LOG_N)
    second = passwords.hash_password("correct horse battery", LOG_N)
    assert first != second  # a fresh salt each time
    assert first.startswith(f"scrypt${LOG_N}$8$1$")
    assert passwords.verify_password("correct horse battery", first)
    assert not passwords.verify_password("correct horse batterY", first)


def test_parameters_travel_with_the_hash() -> None:
    stronger = passwords.hash_password("pw-at-another-cost", LOG_N + 1)
    assert passwords.verify_password("pw-at-another-cost", stronger)


def test_malformed_or_weak_hashes_never_verify() -> None:
    for stored in (
        "",
        "plain",
        "scrypt$1$8$1$AAAA$AAAA",
        "md5$x",
        "scrypt$x$8$1$a$b",
        "scrypt$30$8$1$a$b",
    ):
        assert not passwords.verify_password("anything", stored)


def test_dummy_hash_matches_nothing_and_uses_the_same_cost() -> None:
    dummy = passwords.dummy_hash(LOG_N)
    assert dummy.split("$")[1] == str(LOG_N)
    assert not passwords.verify_password("", dummy)
    assert passwords.dummy_hash(LOG_N) is dummy  # computed once


def test_overlong_password_is_cut_before_hashing_not_an_error() -> None:
    stored = passwords.hash_password("x" * passwords.MAX_PASSWORD_LENGTH, LOG_N)
    assert passwords.verify_password("x" * (passwords.MAX_PASSWORD_LENGTH + 10_000), stored)
