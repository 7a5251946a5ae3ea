"""Finding the all-in-one cloud that ``cumulo up`` started on this machine.

``cumulo up`` writes ``<data_dir>/run/cloud.json`` (supervisor pid and every
endpoint) and remembers ``<data_dir>`` in ``~/.config/cumulo/current-cloud``, so
later commands on the same machine find the cloud without flags.  Resolution
order for an endpoint: an explicit value, ``$CUMULO_ENDPOINT``, the run file of
``$CUMULO_DATA_DIR`` or the remembered data directory or the default one, and
finally the default port on loopback.  A cloud started with ``cumulo up --tls``
also records its CA (and the loopback certificate, for servers that ask for a
client certificate), which the SDK uses for that cloud's endpoints only.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cumulo.config import CONTROLLER_PORT, default_data_dir

RUN_FILE = "cloud.json"


def config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cumulo"


def pointer_file() -> Path:
    return config_home() / "current-cloud"


@dataclass
class LocalCloud:
    """What ``cumulo up`` recorded about the cloud it runs."""

    data_dir: Path
    pid: int
    endpoints: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    #: TLS files of the cloud (``ca_file``, ``cert_file``, ``key_file``); empty: plaintext.
    tls: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "data_dir": str(self.data_dir),
                "pid": self.pid,
                "endpoints": self.endpoints,
                "started_at": self.started_at,
                "tls": self.tls,
            },
            indent=2,
        )


#: The endpoint key of the all-in-one object proxy in the run file.
OBJECT_PROXY_ENDPOINT = "object-proxy"


def run_file(data_dir: Path) -> Path:
    return data_dir / "run" / RUN_FILE


def write_local_cloud(cloud: LocalCloud) -> None:
    """Record ``cloud`` atomically and remember its data directory."""
    path = run_file(cloud.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(cloud.to_json())
    tmp.replace(path)
    pointer = pointer_file()
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(f"{cloud.data_dir}\n")


def candidate_data_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("CUMULO_DATA_DIR"):
        dirs.append(Path(os.environ["CUMULO_DATA_DIR"]).expanduser())
    else:
        with contextlib.suppress(OSError):
            dirs.append(Path(pointer_file().read_text().strip()))
        dirs.append(default_data_dir())
    return dirs


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_local_cloud(data_dir: Path | None = None) -> LocalCloud | None:
    """The running local cloud (its supervisor alive), or ``None``."""
    for directory in [data_dir] if data_dir else candidate_data_dirs():
        try:
            data = json.loads(run_file(directory).read_text())
        except (OSError, ValueError):
            continue
        cloud = LocalCloud(
            data_dir=Path(data["data_dir"]),
            pid=int(data["pid"]),
            endpoints=dict(data.get("endpoints", {})),
            started_at=str(data.get("started_at", "")),
            tls={str(k): str(v) for k, v in dict(data.get("tls") or {}).items()},
        )
        if pid_alive(cloud.pid):
            return cloud
    return None


def resolve_endpoint(explicit: str | None = None, service: str = "controller") -> str:
    """The address to call ``service`` at; see the module docstring for the order."""
    if explicit:
        return explicit
    if os.environ.get("CUMULO_ENDPOINT") and service == "controller":
        return os.environ["CUMULO_ENDPOINT"]
    cloud = find_local_cloud()
    if cloud and service in cloud.endpoints:
        return cloud.endpoints[service]
    return f"127.0.0.1:{CONTROLLER_PORT}"
