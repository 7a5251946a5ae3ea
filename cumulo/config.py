"""Cumulo's configuration: one typed tree, read from a TOML file plus environment overrides.

Precedence (later wins): the defaults below, the TOML file, then environment
variables ``CUMULO_<SECTION>_<KEY>`` (for example ``CUMULO_CONTROLLER_LISTEN``) and
``CUMULO_DATA_DIR`` for the top-level data directory.  Every key is documented in
``docs/configuration.md``; unknown keys and badly typed values are refused with a
message naming the key, so a typo never silently falls back to a default.

The configuration is passed to the code that needs it, never read from a global.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cumulo import errors

#: Default ports of the all-in-one cloud on loopback.
CONTROLLER_PORT = 7700
OBJECT_SERVER_PORT = 7720
OBJECT_PROXY_PORT = 7710


def default_data_dir() -> Path:
    """``$CUMULO_DATA_DIR``, else ``$XDG_DATA_HOME/cumulo``, else ``~/.local/share/cumulo``."""
    if os.environ.get("CUMULO_DATA_DIR"):
        return Path(os.environ["CUMULO_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cumulo"


@dataclass
class LoggingConfig:
    #: Python logging level name for every Cumulo process.
    level: str = "INFO"


@dataclass
class ControllerConfig:
    #: Address the controller's gRPC API listens on (``HOST:PORT``; port 0 picks one).
    listen: str = f"127.0.0.1:{CONTROLLER_PORT}"
    #: SQLAlchemy URL; empty means SQLite at ``<data_dir>/controller/controller.db``.
    #: For PostgreSQL: ``postgresql+psycopg://user:password@host:5432/dbname``.
    database_url: str = ""
    #: Refuse to start when a compiled extension did not load (production setting).
    require_native: bool = False
    #: Seconds without a heartbeat after which a node is marked down.
    heartbeat_timeout: float = 10.0
    #: Seconds between liveness checks (marking silent nodes down).
    liveness_check_interval: float = 1.0
    #: Seconds between batched writes of heartbeat times and acks to the database;
    #: capped at a third of ``heartbeat_timeout``.  One statement per flush keeps
    #: a thousand heartbeats a second cheap.
    last_seen_flush_interval: float = 2.0
    #: Seconds between ProgressNotify messages to an idle agent; also how often
    #: this controller polls the database for desired-state changes made by
    #: other controllers.
    progress_notify_interval: float = 5.0
    #: Seconds an agent has, after opening its stream, to send Register.
    register_timeout: float = 10.0
    #: When set (``cumulo up`` does), the controller enrolls the local node once
    #: and writes its credential here (mode 0600) for the all-in-one agent.
    local_agent_credential_file: str = ""
    #: Object proxy ``HOST:PORT`` to sample every project's object usage from; empty
    #: means the local cloud's proxy (``cumulo up``) when it runs.
    object_usage_proxy: str = ""
    #: Seconds between samples of each project's object usage (``object_bytes`` and
    #: ``object_count`` usage records, and quota ``in_use``); 0 turns sampling off.
    object_usage_interval: float = 300.0


@dataclass
class AgentConfig:
    #: Controller ``HOST:PORT``; empty means the local cloud's controller (its run
    #: file under the data directory), else ``controller.listen``.
    controller: str = ""
    #: The node's name; empty means the host name.
    node_name: str = ""
    #: File holding the node credential ``<node_id>.<secret>`` (``cumulo node enroll``
    #: prints one); empty means ``<data_dir>/agent/credential``.
    credential_file: str = ""
    #: Where the agent keeps its state (node id, last applied revision); empty means
    #: ``<data_dir>/agent``.
    state_dir: str = ""
    #: Seconds between heartbeats; keep it well under ``controller.heartbeat_timeout``.
    heartbeat_interval: float = 2.0
    #: Shortest reconnect delay in seconds (jittered exponential backoff starts here).
    backoff_min: float = 0.5
    #: Longest reconnect delay in seconds (the backoff stops growing here).
    backoff_max: float = 30.0
    #: Drivers that apply desired state, by name (see ``agent/drivers``).
    drivers: list[str] = field(default_factory=lambda: ["noop"])
    #: libvirt URI used to detect the hypervisor.
    hypervisor_uri: str = "qemu:///system"
    #: Seconds between re-applying the current desired state to repair drift.
    resync_interval: float = 60.0


@dataclass
class IdentityConfig:
    """``[identity]``: the bootstrap admin, tokens, password hashing, sign-in rate limits."""

    #: Password of the ``admin`` user created on first start.  Empty: a random one is
    #: generated and written to ``<data_dir>/controller/admin-password`` (mode 0600).
    #: Only used when the admin user does not exist yet; later changes go through the API.
    admin_password: str = ""
    #: Lifetime of a token in seconds.  The SDK and CLI renew tokens before they expire.
    token_ttl_seconds: int = 3600
    #: How long a token can be renewed from the password or credential check that
    #: started the session, in seconds; then the user must authenticate again.
    max_session_seconds: int = 7 * 24 * 3600
    #: scrypt cost for new password hashes, as log2(n) (14: 16 MiB, tens of ms).
    #: 10 is the lowest accepted; use it only to speed up tests.
    password_hash_log_n: int = 14
    #: Failed sign-ins allowed per user name (and per application credential) per window.
    max_failures_per_user: int = 5
    #: Failed sign-ins allowed per source address per window.
    max_failures_per_source: int = 20
    #: The sliding window of the two limits above, in seconds.
    failure_window_seconds: int = 300


@dataclass
class QuotaConfig:
    """``[quota]``: default limits of every project (-1 means unlimited).

    Cloud admins change a project's limits with ``cumulo quota set``.
    """

    #: Servers (instances) per project.
    instances: int = 10
    #: Virtual CPUs over all of a project's servers.
    cores: int = 20
    #: Memory in MiB over all of a project's servers.
    ram_mb: int = 50 * 1024
    #: Block volumes per project.
    volumes: int = 10
    #: Block storage in GiB over all of a project's volumes and snapshots.
    gigabytes: int = 1000
    #: Tenant networks per project.
    networks: int = 10
    #: Network ports per project.
    ports: int = 50
    #: Floating IPs per project.
    floating_ips: int = 5
    #: Bytes stored in the object store per project (100 GiB).
    object_bytes: int = 100 * 1024**3
    #: Objects stored in the object store per project.
    object_count: int = 1_000_000
    #: Application credentials per user.
    application_credentials: int = 20

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass
class StorageConfig:
    #: Directory whose subdirectories are this node's devices (one per disk, e.g.
    #: ``/srv/node/d1``); empty means ``<data_dir>/storage/devices``.
    devices_root: str = ""
    #: Device names (subdirectories of ``devices_root``) to serve; empty means all of them.
    devices: list[str] = field(default_factory=list)
    #: Address a standalone object server (``cumulo-object-server``) listens on.
    object_server_listen: str = f"127.0.0.1:{OBJECT_SERVER_PORT}"
    #: All-in-one: one local storage node per address, its devices under
    #: ``<data_dir>/storage/node<N>`` (used by ``cumulo up`` once the proxy lands).
    allinone_listen: list[str] = field(
        default_factory=lambda: [f"127.0.0.1:{OBJECT_SERVER_PORT + n}" for n in (1, 2, 3)]
    )
    #: All-in-one: where ``cumulo up`` serves the object API: ``nodes`` (every storage
    #: node serves it and reaches its own replicas in-process; the ``object-proxy``
    #: endpoint lists the nodes) or ``process`` (one ``cumulo-object-proxy`` process).
    #: docs/object-store.md compares the two.
    allinone_proxy: str = "nodes"
    #: All-in-one: the device directories of each storage node (the ring places 3
    #: replicas over all of them, as far apart as the nodes allow).
    allinone_devices: list[str] = field(default_factory=lambda: ["d1", "d2"])
    #: Bytes per stored chunk; each chunk carries its own XXH3 checksum (4 KiB-8 MiB).
    chunk_size: int = 1 << 20
    #: File holding the cluster's storage credential; empty means
    #: ``<data_dir>/storage/credential``.
    credential_file: str = ""
    #: Threads doing blocking disk I/O, per device.
    threads_per_device: int = 16
    #: Small writes (up to 1 MiB) and deletes arriving together share their syncs:
    #: ``syncfs`` of the device, renames, ``syncfs`` (docs/object-server.md).  Turn
    #: off when a device shares its file system with unrelated busy writers.
    group_commit: bool = True
    #: Write the aligned bulk of objects over 256 KiB with ``O_DIRECT``, past the
    #: page cache (still fsynced before acknowledging); file systems without direct
    #: I/O fall back to buffered writes by themselves (docs/object-server.md).
    direct_io: bool = True
    #: Read small objects (up to 64 KiB) installed lately on the event loop when all
    #: their bytes are in the page cache (``RWF_NOWAIT``), saving two thread
    #: switches per GET; off for file systems where ``open`` may wait on the network.
    inline_reads: bool = True
    #: Address the object proxy (``cumulo-object-proxy``) listens on.  ``cumulo up``
    #: has no proxy process: its storage node N serves the object API on this port
    #: plus N - 1 (port 0: a free port each).
    proxy_listen: str = f"127.0.0.1:{OBJECT_PROXY_PORT}"
    #: ``HOST:PORT`` on which each object server also serves the public object API
    #: (``cumulo.object.v1``, a proxy inside the node that reaches its own replicas
    #: in-process); empty: none.  ``cumulo up`` sets ``127.0.0.1:0`` for its nodes.
    node_proxy_listen: str = ""
    #: Ring file the proxy and the object servers' replicators load; empty means
    #: ``<data_dir>/storage/object.ring``.  An object server starts without it and
    #: replicates once it exists.
    ring_file: str = ""
    #: Controller ``HOST:PORT`` the proxy validates tokens with (IdentityService/GetCaller);
    #: empty means ``controller.listen``.
    proxy_controller: str = ""
    #: Seconds the proxy trusts a validated token before asking the controller again
    #: (a revoked token keeps working for at most this long on a proxy that saw it; a
    #: token in use is re-validated in the background before its entry expires).
    token_cache_ttl: float = 5.0
    #: Seconds the proxy caches a container's record (existence, shard count) and a
    #: project's object quota and usage; entries in use are refreshed in the background
    #: before they expire, none is served past this age.
    container_cache_ttl: float = 5.0
    #: Shards of a new container's object index (1-256; fixed for the container's life).
    index_shards: int = 8
    #: Seconds before a storage node that does not answer counts as failed.
    node_timeout: float = 10.0
    #: Uploads larger than this (or of unknown size past 1 MiB) are stored as segments of
    #: this size plus a manifest (large objects).
    segment_size: int = 256 << 20
    #: Run the object replicator in each object server (one background task per device).
    replication_enabled: bool = True
    #: Seconds between the end of one replication pass over a device and the next.
    replication_interval: float = 30.0
    #: Partitions of one device replicated at once.
    replication_concurrency: int = 4
    #: Seconds a tombstone is kept before the replicator removes it (7 days).  A node
    #: that was down longer than this must have its devices wiped before it returns,
    #: or deleted objects it holds may come back.
    reclaim_age: float = 7 * 24 * 3600.0
    #: This object server's IP address in the ring; empty means its listen host (which
    #: must then not be a wildcard such as 0.0.0.0).
    ring_ip: str = ""
    #: Run the object auditor in each object server (one background task per device).
    audit_enabled: bool = True
    #: Seconds between the end of one audit pass over a device and the next.
    audit_interval: float = 3600.0
    #: Bytes per second the auditor reads per device (0 means no limit).
    audit_bytes_per_second: int = 10 << 20
    #: Files per second the auditor checks per device (0 means no limit).
    audit_files_per_second: float = 20.0
    #: Run the segment reaper in each object server: it deletes large-object segments
    #: no manifest references (uploads whose proxy died, replaced objects whose old
    #: segments a dead proxy never deleted); docs/object-store.md, "Orphaned segments".
    segment_reap_enabled: bool = True
    #: Seconds between the end of one segment-reaper pass and the next.  A pass
    #: reads the footer of every object in the partitions the node judges, so it
    #: runs daily: orphans are rare (a proxy dying mid-upload) and not urgent.
    segment_reap_interval: float = 86400.0
    #: Objects per second a background reaper pass reads, per node (0 means no
    #: limit; a pass asked for with ``cumulo storage reap`` is not limited).
    segment_reap_files_per_second: float = 200.0
    #: Seconds after its upload began (the version in its name) before an unreferenced
    #: segment may be reaped; proxies refuse to finish an upload older than half of
    #: this (DEADLINE_EXCEEDED, reason UPLOAD_TOO_SLOW).  Must be the same on every
    #: proxy and storage node.
    segment_reap_age: float = 24 * 3600.0


@dataclass
class TlsConfig:
    """``[tls]``: TLS on every gRPC connection of the process (docs/tls.md).

    All empty means plaintext (the loopback default).  Once any file is set, TLS
    is on: servers need ``cert_file`` and ``key_file``, clients need ``ca_file``.
    """

    #: PEM certificate this process presents: as a server, and as a client when a
    #: server asks for one (mutual TLS).  Empty with ``key_file``: plaintext serving.
    cert_file: str = ""
    #: PEM private key of ``cert_file`` (keep it mode 0600).
    key_file: str = ""
    #: PEM bundle of the CA that signs the cloud's certificates: clients verify
    #: servers with it, servers verify client certificates with it when
    #: ``client_auth``.  Empty: this process connects in plaintext.
    ca_file: str = ""
    #: Servers of this process demand a client certificate signed by ``ca_file``
    #: (mutual TLS).  Set it on object servers; the controller and the proxy serve
    #: users, who authenticate with tokens and hold no certificate.
    client_auth: bool = False
    #: Name checked against the server's certificate instead of the host of the
    #: address dialled (for certificates without the IP or name used to connect).
    server_name: str = ""


@dataclass
class Config:
    #: Where every process keeps its data, logs and run files: ``$XDG_DATA_HOME/cumulo``
    #: (``~/.local/share/cumulo``) unless set.
    data_dir: Path = field(default_factory=default_data_dir)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    quota: QuotaConfig = field(default_factory=QuotaConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def database_url(self) -> str:
        """The controller's database URL, with the SQLite default filled in."""
        if self.controller.database_url:
            return self.controller.database_url
        return f"sqlite:///{self.data_dir / 'controller' / 'controller.db'}"

    def agent_state_dir(self) -> Path:
        """The agent's state directory, with the default filled in."""
        return (
            Path(self.agent.state_dir).expanduser()
            if self.agent.state_dir
            else (self.data_dir / "agent")
        )

    def agent_credential_file(self) -> Path:
        """The agent's credential file, with the default filled in."""
        if self.agent.credential_file:
            return Path(self.agent.credential_file).expanduser()
        return self.data_dir / "agent" / "credential"

    def storage_devices_root(self) -> Path:
        """This node's devices root, with the default under ``data_dir`` filled in."""
        if self.storage.devices_root:
            return Path(self.storage.devices_root).expanduser()
        return self.data_dir / "storage" / "devices"

    def storage_credential_file(self) -> Path:
        """The storage credential file, with the default under ``data_dir`` filled in."""
        if self.storage.credential_file:
            return Path(self.storage.credential_file).expanduser()
        return self.data_dir / "storage" / "credential"

    def storage_ring_file(self) -> Path:
        """The proxy's ring file, with the default under ``data_dir`` filled in."""
        if self.storage.ring_file:
            return Path(self.storage.ring_file).expanduser()
        return self.data_dir / "storage" / "object.ring"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"


def _coerce(value: Any, kind: Any, key: str) -> Any:
    """Convert a TOML or environment value to the field's type, or explain why not."""
    if kind is Path:
        if not isinstance(value, str | Path):
            raise errors.InvalidArgument(f"config key {key} must be a path, got {value!r}")
        return Path(value).expanduser()
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        ):
            return value.lower() in ("1", "true", "yes", "on")
        raise errors.InvalidArgument(f"config key {key} must be true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise errors.InvalidArgument(f"config key {key} must be an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise errors.InvalidArgument(
                f"config key {key} must be an integer, got {value!r}"
            ) from None
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise errors.InvalidArgument(
                f"config key {key} must be a number, got {value!r}"
            ) from None
    if kind is str:
        if not isinstance(value, str):
            raise errors.InvalidArgument(f"config key {key} must be a string, got {value!r}")
        return value
    if isinstance(kind, types.GenericAlias) and kind.__origin__ is list:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if not isinstance(value, list):
            raise errors.InvalidArgument(f"config key {key} must be a list, got {value!r}")
        return [_coerce(item, kind.__args__[0], key) for item in value]
    raise TypeError(f"unsupported config type {kind!r} for {key}")


def _apply(target: Any, values: dict[str, Any], prefix: str) -> None:
    fields = {f.name for f in dataclasses.fields(target)}
    hints = typing.get_type_hints(type(target))
    for name, value in values.items():
        key = f"{prefix}{name}"
        if name not in fields:
            raise errors.InvalidArgument(
                f"unknown config key {key!r}", hint="see docs/configuration.md for every key"
            )
        current = getattr(target, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise errors.InvalidArgument(f"config key {key} must be a table [{key}]")
            _apply(current, value, f"{key}.")
        else:
            setattr(target, name, _coerce(value, hints[name], key))


def _env_overrides(config: Config, environ: typing.Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if environ.get("CUMULO_DATA_DIR"):
        overrides["data_dir"] = environ["CUMULO_DATA_DIR"]
    for section in dataclasses.fields(config):
        current = getattr(config, section.name)
        if not dataclasses.is_dataclass(current):
            continue
        for item in dataclasses.fields(current):
            env_name = f"CUMULO_{section.name}_{item.name}".upper()
            if env_name in environ:
                overrides.setdefault(section.name, {})[item.name] = environ[env_name]
    return overrides


def load_config(
    path: Path | None = None,
    *,
    environ: typing.Mapping[str, str] | None = None,
    data_dir: Path | None = None,
) -> Config:
    """Build the configuration from defaults, ``path`` (if given) and the environment.

    ``path`` defaults to ``$CUMULO_CONFIG`` when set.  ``data_dir``, when given (the
    ``--data-dir`` flag), wins over everything else.
    """
    environ = os.environ if environ is None else environ
    config = Config()
    if path is None and environ.get("CUMULO_CONFIG"):
        path = Path(environ["CUMULO_CONFIG"])
    if path is not None:
        try:
            with open(path, "rb") as handle:
                _apply(config, tomllib.load(handle), "")
        except FileNotFoundError:
            raise errors.NotFound(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise errors.InvalidArgument(f"config file {path} is not valid TOML: {exc}") from None
    _apply(config, _env_overrides(config, environ), "")
    if data_dir is not None:
        config.data_dir = data_dir.expanduser()
    config.data_dir = config.data_dir.resolve()
    return config
