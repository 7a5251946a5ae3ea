"""Token signing keys, kept in the database and cached in each controller.

Every controller signs with the newest key and accepts any key still in the
``signing_keys`` table, so controllers sharing one database accept each
other's tokens, and a key added by one is picked up by the others the first
time they meet a token signed with it.
"""

from __future__ import annotations

import secrets
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from controller.db import Database
from controller.db.models_identity import SigningKey
from controller.identity.times import now

#: Unknown key ids cause at most one reload per this many seconds (garbage tokens are cheap).
_RELOAD_INTERVAL = 1.0


class SigningKeys:
    """The key set: :meth:`current` to sign, :meth:`lookup` to verify."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._keys: dict[str, bytes] = {}
        self._current: tuple[str, bytes] | None = None
        self._loaded_at = 0.0

    def ensure(self, session: Session) -> None:
        """Create the first key if the table is empty (call under the bootstrap lock)."""
        if session.execute(select(SigningKey.id).limit(1)).first() is None:
            session.add(
                SigningKey(
                    id=secrets.token_hex(8), secret=secrets.token_bytes(32), created_at=now()
                )
            )

    def reload(self) -> None:
        with self._database.session() as session:
            rows = session.execute(
                select(SigningKey.id, SigningKey.secret).order_by(SigningKey.created_at)
            ).all()
        with self._lock:
            self._keys = {row.id: bytes(row.secret) for row in rows}
            self._current = (rows[-1].id, bytes(rows[-1].secret)) if rows else None
            self._loaded_at = time.monotonic()

    def current(self) -> tuple[str, bytes]:
        """``(key id, secret)`` of the newest key."""
        if self._current is None:
            self.reload()
        if self._current is None:
            raise RuntimeError("no token signing key: the identity bootstrap has not run")
        return self._current

    def lookup(self, key_id: str) -> bytes | None:
        """The secret of ``key_id``, reloading from the database once if it is unknown."""
        secret = self._keys.get(key_id)
        if secret is None and time.monotonic() - self._loaded_at > _RELOAD_INTERVAL:
            self.reload()
            secret = self._keys.get(key_id)
        return secret
