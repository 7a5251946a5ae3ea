"""The all-in-one supervisor behind ``cumulo up``: start, watch and stop local processes.

It starts each Cumulo process of a one-machine cloud as a child (the controller,
the node's agent, three storage nodes and the object proxy), waits until each reports
the port it serves on (an agent reports 0 once registered), records the
endpoints for other commands (:mod:`cumulo.local`), and stops every child
cleanly on SIGINT/SIGTERM (``cumulo down`` sends SIGTERM).  If a critical child
dies, the supervisor says which and where its log is, and stops the rest rather
than leave a half-working cloud; a non-critical one (the agent) is only
reported: the controller marks its node down, and ``cumulo-agent --data-dir
DIR`` brings it back with the same identity.

An argument ``{endpoint:NAME}`` is replaced by the address of the already
started process NAME.  A spec's ``before_start`` hook runs just before its process
starts, with the endpoints so far: the object proxy's builds the object ring once
the storage nodes' ports are known (see :mod:`cumulo.allinone_storage`).

Processes are started by module name (``python -m controller``), never imported,
so the SDK does not depend on the server packages.

TLS (``cumulo up --tls``, or a ``[tls]`` section): every child gets the cloud's
files through its ``CUMULO_TLS_*`` environment (:func:`tls_environment`), so all
of them serve and call with TLS; storage nodes also demand client certificates
(only the cloud's own processes may reach them), the controller and proxy do not
(their callers are users with tokens).  The run file records the files, so
``cumulo`` commands on this machine use them without flags.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from cumulo import errors
from cumulo.config import Config
from cumulo.local import LocalCloud, find_local_cloud, pid_alive, run_file, write_local_cloud

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


@dataclass
class ProcessSpec:
    """One process of the local cloud."""

    name: str  # also the endpoint key and the log file's stem
    argv: list[str]
    #: The child writes its bound port here once it serves (``--ready-file``).
    ready_file: Path | None = None
    #: Whether the cloud stops when this child dies.
    critical: bool = True
    #: Called with the endpoints started so far, right before this process starts.
    before_start: Callable[[dict[str, str]], None] | None = None
    #: Called with the endpoints started so far (this one's included) once it serves.
    after_start: Callable[[dict[str, str]], None] | None = None
    #: More servers the child runs: endpoint name -> the file it writes their port to
    #: (waited for after every process started).  A name several children publish is
    #: one endpoint listing all their servers, ``127.0.0.1:P1,127.0.0.1:P2`` (a
    #: client spreads its calls over them: cumulo.rpc.tls.channel_target).
    extra_endpoints: dict[str, Path] = field(default_factory=dict)
    #: Environment variables set for this child on top of the supervisor's own.
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Child:
    spec: ProcessSpec
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None
    #: Ports of the child's ``extra_endpoints``, by endpoint name.
    extra_ports: dict[str, int] = field(default_factory=dict)


def all_in_one_processes(config: Config) -> list[ProcessSpec]:
    """The processes of a one-machine cloud, in start order."""
    from cumulo.allinone_storage import storage_processes  # it builds ProcessSpecs too

    run = config.run_dir
    common = ["--data-dir", str(config.data_dir)]
    specs = [*_controller_and_agent(config, run, common), *storage_processes(config)]
    for spec in specs:
        spec.env.update(tls_environment(config, storage_node=spec.name.startswith("storage-")))
    return specs


def tls_environment(config: Config, *, storage_node: bool = False) -> dict[str, str]:
    """The ``CUMULO_TLS_*`` variables that give a child the cloud's TLS settings.

    Set even when TLS is off (to empty), so a variable in the supervisor's own
    environment cannot turn half the cloud to TLS.  ``storage_node`` turns on
    ``client_auth`` (mutual TLS) whenever TLS is on."""
    tls = config.tls
    client_auth = tls.client_auth or (storage_node and bool(tls.ca_file))
    return {
        "CUMULO_TLS_CA_FILE": tls.ca_file,
        "CUMULO_TLS_CERT_FILE": tls.cert_file,
        "CUMULO_TLS_KEY_FILE": tls.key_file,
        "CUMULO_TLS_SERVER_NAME": tls.server_name,
        "CUMULO_TLS_CLIENT_AUTH": "true" if client_auth else "false",
    }


def recorded_tls(config: Config) -> dict[str, str]:
    """What the run file records about TLS (absolute paths), or {} for plaintext."""
    tls = config.tls
    if not tls.ca_file:
        return {}
    files = {"ca_file": tls.ca_file, "cert_file": tls.cert_file, "key_file": tls.key_file}
    return {k: str(Path(v).expanduser().resolve()) for k, v in files.items() if v}


def _controller_and_agent(config: Config, run: Path, common: list[str]) -> list[ProcessSpec]:
    return [
        ProcessSpec(
            name="controller",
            argv=[
                sys.executable,
                "-m",
                "controller",
                *common,
                "--listen",
                config.controller.listen,
                "--ready-file",
                str(run / "controller.port"),
                "--local-agent-credential-file",
                str(config.agent_credential_file()),
            ],
            ready_file=run / "controller.port",
        ),
        ProcessSpec(
            name="agent",
            argv=[
                sys.executable,
                "-m",
                "agent",
                *common,
                "--controller",
                "{endpoint:controller}",
                "--ready-file",
                str(run / "agent.ready"),
                "--pid-file",
                str(run / "agent.pid"),
            ],
            ready_file=run / "agent.ready",
            critical=False,
        ),
    ]


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _last_error_line(path: Path) -> str:
    for line in reversed(_log_tail(path, 20).splitlines()):
        if "error" in line.lower():
            return line.strip()
    return ""


@dataclass
class Supervisor:
    config: Config
    specs: list[ProcessSpec]
    on_event: Callable[[str], None] = print
    children: list[Child] = field(default_factory=list)
    _stopping: bool = False

    def start(self) -> LocalCloud:
        """Start every process and wait until each serves; raise and clean up on failure."""
        existing = find_local_cloud(self.config.data_dir)
        if existing is not None:
            raise errors.AlreadyExists(
                f"a cloud is already running from {existing.data_dir} (pid {existing.pid})",
                hint="stop it with `cumulo down`, or use another --data-dir",
            )
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        self.config.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            for spec in self.specs:
                self._start_child(spec)
            for child in self.children:
                for name, path in child.spec.extra_endpoints.items():
                    child.extra_ports[name] = self._wait_ready(child, path, name)
        except BaseException:
            self.stop()
            raise
        endpoints = self._endpoints()
        cloud = LocalCloud(
            data_dir=self.config.data_dir,
            pid=os.getpid(),
            endpoints=endpoints,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            tls=recorded_tls(self.config),
        )
        write_local_cloud(cloud)
        return cloud

    def _endpoints(self) -> dict[str, str]:
        endpoints = {c.spec.name: f"127.0.0.1:{c.port}" for c in self.children if c.port}
        for child in self.children:
            for name, port in child.extra_ports.items():
                listed = endpoints.get(name)
                address = f"127.0.0.1:{port}"
                endpoints[name] = f"{listed},{address}" if listed else address
        return endpoints

    def _start_child(self, spec: ProcessSpec) -> None:
        for path in (spec.ready_file, *spec.extra_endpoints.values()):
            if path is not None:
                path.unlink(missing_ok=True)
        log_path = self.config.log_dir / f"{spec.name}.log"
        if spec.before_start is not None:
            spec.before_start(self._endpoints())
        argv = list(spec.argv)
        for child in self.children:
            placeholder = f"{{endpoint:{child.spec.name}}}"
            argv = [a.replace(placeholder, f"127.0.0.1:{child.port}") for a in argv]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **spec.env}
            )
        child = Child(spec, process, log_path)
        self.children.append(child)
        self.on_event(f"starting {spec.name} ...")
        if spec.ready_file is not None:
            child.port = self._wait_ready(child, spec.ready_file, spec.name)
        if spec.after_start is not None:
            spec.after_start(self._endpoints())

    def _wait_ready(self, child: Child, ready_file: Path, what: str) -> int:
        """The port ``child`` writes to ``ready_file``; raise if it dies or takes too long."""
        process, log_path = child.process, child.log_path
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                reason = _last_error_line(log_path) or f"exit code {process.returncode}"
                raise errors.Unavailable(
                    f"{child.spec.name} failed to start: {reason}",
                    hint=f"see {log_path}",
                )
            try:
                text = ready_file.read_text().strip()
            except OSError:
                text = ""
            if text.isdigit():
                return int(text)
            if time.monotonic() > deadline:
                if what != child.spec.name:
                    what = f"{what} of {child.spec.name}"
                raise errors.DeadlineExceeded(
                    f"{what} did not start within {STARTUP_TIMEOUT:.0f}s",
                    hint=f"see {log_path}",
                )
            time.sleep(0.05)

    def wait(self) -> int:
        """Block until a signal asks to stop or a child dies; return an exit code."""
        stop_requested = False

        def request_stop(_signum: int, _frame: FrameType | None) -> None:
            nonlocal stop_requested
            stop_requested = True

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        reported: set[int] = set()
        try:
            while not stop_requested:
                for child in self.children:
                    if child.process.poll() is None or child.process.pid in reported:
                        continue
                    if not child.spec.critical:
                        reported.add(child.process.pid)
                        self.on_event(
                            f"{child.spec.name} exited with code {child.process.returncode}; "
                            f"the cloud keeps running (log: {child.log_path})"
                        )
                        continue
                    self.on_event(
                        f"{child.spec.name} exited with code {child.process.returncode}; "
                        f"stopping the cloud (log: {child.log_path})"
                    )
                    return 1
                time.sleep(0.2)
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after a grace period), newest first."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        path = run_file(self.config.data_dir)
        try:
            if find_local_cloud(self.config.data_dir) is None or _recorded_pid(path) == os.getpid():
                path.unlink(missing_ok=True)
        except OSError:
            pass


def _recorded_pid(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def stop_local_cloud(data_dir: Path | None, timeout: float = 30.0) -> LocalCloud | None:
    """Ask the running local cloud's supervisor to stop and wait; ``None`` if none runs."""
    cloud = find_local_cloud(data_dir)
    if cloud is None:
        return None
    os.kill(cloud.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(cloud.pid):
        if time.monotonic() > deadline:
            raise errors.DeadlineExceeded(
                f"the cloud (pid {cloud.pid}) did not stop within {timeout:.0f}s",
                hint=f"kill it with `kill {cloud.pid}`",
            )
        time.sleep(0.1)
    return cloud
