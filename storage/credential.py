"""The cluster's storage credential: a shared secret that proxies and replicators present.

Object servers accept requests only from holders of this secret (Swift trusts its
private network; Cumulo does not).  It is a random token in a file readable by
its owner only; every storage node and proxy of one cluster has the same file.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cumulo import errors
from cumulo.services.storage_nodes import CREDENTIAL_KEY as STORAGE_CREDENTIAL_KEY

log = logging.getLogger("cumulo.storage.credential")

#: Metadata key carrying the credential on every internal storage call (defined once,
#: beside the SDK's storage-node admin client that sends it too).
CREDENTIAL_KEY = STORAGE_CREDENTIAL_KEY
#: Shorter secrets are refused: they could be guessed.
MIN_LENGTH = 16


def load_credential(path: Path) -> str:
    """Return the credential stored in ``path``, refusing a missing, empty or short one."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise errors.NotFound(
            f"storage credential file {path} does not exist",
            hint="create it with `cumulo-object-server --init-credential` and copy it to "
            "every storage node and proxy of the cluster",
        ) from None
    if len(text) < MIN_LENGTH or any(c.isspace() or not c.isprintable() for c in text):
        raise errors.InvalidArgument(
            f"storage credential in {path} must be at least {MIN_LENGTH} printable characters "
            "without spaces",
            field="storage.credential_file",
        )
    if path.stat().st_mode & 0o077:
        log.warning("storage credential file %s is readable by others; chmod 600 it", path)
    return text


def create_credential(path: Path) -> str:
    """Write a new random credential to ``path`` (mode 0600) unless one exists; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_credential(path)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token
