"""Password hashing with scrypt (standard library), parameters stored with each hash.

Contract:

* :func:`hash_password` makes ``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>`` with a fresh
  16-byte salt; the parameters travel with the hash, so raising the cost later
  only affects new hashes and old ones still verify.
* :func:`verify_password` compares in constant time and never raises for a
  malformed stored hash (it answers False).
* :data:`DUMMY_HASH` is verified against when the user does not exist, so an
  unknown user costs the same time as a wrong password and the answer is the same.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from cumulo import errors

#: log2 of scrypt's CPU/memory cost n: 2**14 with r=8 takes 16 MiB and ~50 ms here.
DEFAULT_LOG_N = 14
#: Lowest cost accepted from configuration (tests use it to stay fast).
MIN_LOG_N = 10
_R = 8
_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
#: Refuse absurd inputs before hashing them (scrypt would happily hash megabytes).
MAX_PASSWORD_LENGTH = 1024
MIN_PASSWORD_LENGTH = 12


def check_new_password(password: str, field: str = "password") -> str:
    """``password`` if it is acceptable as a new password, else INVALID_ARGUMENT."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise errors.InvalidArgument(
            f"a password needs {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            field=field,
            hint="use a longer passphrase",
        )
    return password


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    n = 1 << log_n
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        maxmem=2 * 128 * r * n + 1024 * 1024,
        dklen=_KEY_BYTES,
    )


def hash_password(password: str, log_n: int = DEFAULT_LOG_N) -> str:
    """A new salted scrypt hash of ``password`` at cost ``2**log_n``."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, log_n, _R, _P)
    return f"scrypt${log_n}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, log_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or not MIN_LOG_N <= int(log_n) <= 20:
            return False
        expected = _unb64(digest)
        actual = _scrypt(password[:MAX_PASSWORD_LENGTH], _unb64(salt), int(log_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.lru_cache(maxsize=8)
def dummy_hash(log_n: int = DEFAULT_LOG_N) -> str:
    """A hash of a random password at ``log_n``: verified for unknown users to equalise timing."""
    return hash_password(secrets.token_urlsafe(16), log_n)
