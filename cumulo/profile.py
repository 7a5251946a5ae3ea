"""The CLI's login profile: ``$XDG_CONFIG_HOME/cumulo/profile.json`` (mode 0600).

It holds the endpoint, the current token with its expiry, and what is needed
to get the next token without asking the user again:

* ``{"method": "token"}`` - renew with the token itself (``IssueToken`` with a
  token) until the server's maximum session age; then ``cumulo login`` again.
  This is what a password login stores: the password itself is never written.
* ``{"method": "password_file", "user": ..., "project": ..., "path": ...}`` - re-read
  the password from that file (``cumulo login --password-file``; ``cumulo up``
  uses the admin password file of the local cloud).
* ``{"method": "app_credential", "id": ..., "secret": ...}`` - an application
  credential's secret is stored when the user logged in with one (that secret
  exists to be kept by programs; delete the credential to cut it off).
* ``{"method": "password", ...}`` - only with ``cumulo login --save-password``.

``$CUMULO_PROFILE`` names another file (tests and several clouds use it).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cumulo.local import config_home

PROFILE_FILE = "profile.json"


def profile_path() -> Path:
    if os.environ.get("CUMULO_PROFILE"):
        return Path(os.environ["CUMULO_PROFILE"]).expanduser()
    return config_home() / PROFILE_FILE


@dataclass
class Profile:
    """A saved login; see the module docstring for ``renewal``."""

    endpoint: str
    token: str = ""
    #: ISO 8601 UTC instants of the token.
    issued_at: str = ""
    expires_at: str = ""
    user_name: str = ""
    project_name: str = ""
    project_id: str = ""
    renewal: dict[str, Any] = field(default_factory=dict)


def load_profile(path: Path | None = None) -> Profile | None:
    """The saved profile, or ``None`` when there is none (or it is unreadable)."""
    path = path or profile_path()
    try:
        data = json.loads(path.read_text())
        return Profile(**{k: v for k, v in data.items() if k in Profile.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None


def save_profile(profile: Profile, path: Path | None = None) -> Path:
    """Write ``profile`` atomically, readable by the owner only."""
    path = path or profile_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(profile), handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def delete_profile(path: Path | None = None) -> bool:
    path = path or profile_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
