"""OpenStack Swift all-in-one on loopback: the baseline of the object-store comparison.

Swift is installed into the venv only for benchmarks (``pip install swift==2.38.3``,
never a project dependency; ``make bench-objects`` does it).  :class:`SwiftAllInOne`
builds, in a fresh work directory:

* ``etc/swift.conf`` (hash prefix/suffix, one default storage policy) and account,
  container and object rings: ``replicas`` replicas over ``devices`` device
  directories, one zone each, all on one account/container/object server;
* one proxy (tempauth with user ``test:tester``, key ``testing``; memcached for its
  tokens) and one account, container and object server, each with ``workers``
  worker processes, ``mount_check = false``, and Swift's defaults otherwise (so the
  object server fsyncs every object before it answers, and the proxy acknowledges a
  PUT after a quorum of 2 of 3);
* memcached on a port of its own (started as our child, so we stop exactly it).

Every process is started directly from the venv's console scripts with its own conf
file (no ``swift-init``), in its own session, and :meth:`stop` (also on any error, on
exit and on SIGTERM via the context manager) terminates each process group it started.

    with SwiftAllInOne(Path("/tmp/swift-aio")) as swift:
        print(swift.auth_url)          # http://127.0.0.1:<port>/auth/v1.0

Run alone: ``python -m bench.swift_baseline.aio --hold 60`` starts it, prints the endpoints and
holds it for 60 s (or until Ctrl-C), then tears everything down.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

SWIFT_VERSION = "2.38.3"
USER = "test:tester"
KEY = "testing"

RING_SCRIPT = """
import sys
from swift.common.ring import RingBuilder
etc, part_power, replicas = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for kind, port in zip(("account", "container", "object"), map(int, sys.argv[4:7])):
    builder = RingBuilder(part_power, replicas, 1)
    for index, device in enumerate(sys.argv[7:]):
        builder.add_dev({"region": 1, "zone": index + 1, "ip": "127.0.0.1", "port": port,
                         "device": device, "weight": 100.0})
    builder.rebalance(seed=1)
    builder.save(f"{etc}/{kind}.builder")
    builder.get_ring().save(f"{etc}/{kind}.ring.gz")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def swift_installed(python: str = sys.executable) -> str | None:
    """Swift's version in ``python``'s environment, or None."""
    result = subprocess.run(
        [python, "-c", "import swift; print(swift.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def install_swift(python: str = sys.executable) -> str:
    """Install Swift (and memcached, which its tempauth needs) unless there; its version.

    liberasurecode is not needed from Debian: the pyeclib 1.8 wheel Swift pulls in
    bundles it (``pyeclib.libs/``).
    """
    if shutil.which("memcached") is None:
        if os.geteuid() != 0:
            raise SystemExit("Swift's tempauth needs memcached: apt-get install memcached")
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=sys.stderr)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "memcached"], check=True, stdout=sys.stderr
        )
    version = swift_installed(python)
    if version:
        return version
    subprocess.run(
        [python, "-m", "pip", "install", "-q", f"swift=={SWIFT_VERSION}"],
        check=True,
        stdout=sys.stderr,
    )
    return swift_installed(python) or "unknown"


@dataclass
class SwiftConfig:
    replicas: int = 3
    devices: int = 4
    workers: int = 2
    part_power: int = 10
    #: Seconds to wait for every server to answer.
    start_timeout: float = 60.0


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class SwiftAllInOne:
    """A Swift cluster on 127.0.0.1 under ``work_dir``; see the module docstring."""

    work_dir: Path
    config: SwiftConfig = field(default_factory=SwiftConfig)
    bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)
    ports: dict[str, int] = field(default_factory=dict)
    children: list[_Child] = field(default_factory=list)

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}/auth/v1.0"

    @property
    def etc(self) -> Path:
        return self.work_dir / "etc"

    def describe(self) -> dict[str, object]:
        return {
            "swift_version": swift_installed(str(self.bin_dir / "python")),
            "replicas": self.config.replicas,
            "devices": self.config.devices,
            "workers_per_server": self.config.workers,
            "part_power": self.config.part_power,
            "auth_url": self.auth_url,
            "ports": dict(self.ports),
            "work_dir": str(self.work_dir),
        }

    # -- set-up ------------------------------------------------------------------
    def start(self) -> SwiftAllInOne:
        try:
            self._write_config()
            self._build_rings()
            self._spawn(
                "memcached",
                [
                    shutil.which("memcached") or "memcached",
                    "-u",
                    "root",
                    "-l",
                    "127.0.0.1",
                    "-p",
                    str(self.ports["memcached"]),
                    "-U",
                    "0",
                ],
            )
            for server in ("account", "container", "object", "proxy"):
                self._spawn(
                    server,
                    [
                        str(self.bin_dir / f"swift-{server}-server"),
                        str(self.etc / f"{server}-server.conf"),
                    ],
                )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _write_config(self) -> None:
        self.etc.mkdir(parents=True, exist_ok=True)
        devices_root = self.work_dir / "srv"
        for index in range(self.config.devices):
            (devices_root / f"d{index + 1}").mkdir(parents=True, exist_ok=True)
        for name in ("memcached", "proxy", "account", "container", "object"):
            self.ports.setdefault(name, free_port())
        (self.etc / "swift.conf").write_text(
            textwrap.dedent("""\
            [swift-hash]
            swift_hash_path_prefix = cumulo-bench-prefix
            swift_hash_path_suffix = cumulo-bench-suffix

            [storage-policy:0]
            name = Policy-0
            default = yes
            """)
        )
        common = textwrap.dedent(f"""\
            [DEFAULT]
            bind_ip = 127.0.0.1
            workers = {self.config.workers}
            user = root
            swift_dir = {self.etc}
            devices = {devices_root}
            mount_check = false
            """)
        for server, egg in (
            ("account", "account"),
            ("container", "container"),
            ("object", "object"),
        ):
            (self.etc / f"{server}-server.conf").write_text(
                common
                + f"bind_port = {self.ports[server]}\n\n"
                + f"[pipeline:main]\npipeline = {server}-server\n\n"
                + f"[app:{server}-server]\nuse = egg:swift#{egg}\n"
            )
        filters = {
            "catch_errors": "",
            "gatekeeper": "",
            "healthcheck": "",
            "proxy-logging": "",
            "cache": f"memcache_servers = 127.0.0.1:{self.ports['memcached']}\n",
            "listing_formats": "",
            "tempauth": f"user_test_tester = {KEY} .admin\n",
            "copy": "",
            "dlo": "",
            "versioned_writes": "",
        }
        eggs = {"cache": "memcache", "proxy-logging": "proxy_logging"}
        proxy = (
            common.replace(f"devices = {devices_root}\nmount_check = false\n", "")
            + f"bind_port = {self.ports['proxy']}\n\n"
            + "[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck proxy-logging"
            + " cache listing_formats tempauth copy dlo versioned_writes proxy-logging"
            + " proxy-server\n\n"
            + "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n"
        )
        for name, extra in filters.items():
            proxy += f"[filter:{name}]\nuse = egg:swift#{eggs.get(name, name)}\n{extra}\n"
        (self.etc / "proxy-server.conf").write_text(proxy)

    def _build_rings(self) -> None:
        devices = [f"d{i + 1}" for i in range(self.config.devices)]
        subprocess.run(
            [
                str(self.bin_dir / "python"),
                "-c",
                RING_SCRIPT,
                str(self.etc),
                str(self.config.part_power),
                str(self.config.replicas),
                *(str(self.ports[k]) for k in ("account", "container", "object")),
                *devices,
            ],
            check=True,
            capture_output=True,
        )

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = self.work_dir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as handle:
            process = subprocess.Popen(
                argv,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() kills its workers too
            )
        self.children.append(_Child(name, process, log))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.start_timeout
        pending = {c.name: self.ports[c.name] for c in self.children}
        while pending:
            for child in self.children:
                if child.process.poll() is not None:
                    tail = child.log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"swift {child.name} exited:\n{tail}")
            for name, port in list(pending.items()):
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.5),
                ):
                    del pending[name]
            if time.monotonic() > deadline:
                raise RuntimeError(f"swift servers not answering: {sorted(pending)}")
            if pending:
                time.sleep(0.2)
        # The proxy answers once its workers run; tempauth answers once memcached does.
        while True:
            try:
                request = urllib.request.Request(
                    self.auth_url, headers={"X-Auth-User": USER, "X-Auth-Key": KEY}
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"swift proxy does not authenticate: {exc}") from exc
            time.sleep(0.3)

    # -- tear-down ---------------------------------------------------------------
    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM each process group we started, SIGKILL what is left after ``timeout``."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(max(0.1, deadline - time.monotonic()))
            # Workers may outlive their parent: the group id is the parent's pid.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            if child.process.poll() is None:
                child.process.wait(5)
        self.children.clear()

    def __enter__(self) -> SwiftAllInOne:
        self._previous = signal.signal(signal.SIGTERM, _raise_exit)
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        signal.signal(signal.SIGTERM, self._previous)


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", type=Path, help="default: a fresh temporary directory")
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to keep it running")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    install_swift()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="swift-aio-"))
    try:
        with SwiftAllInOne(work, SwiftConfig(workers=args.workers)) as swift:
            print(json.dumps(swift.describe(), indent=2), flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(args.hold)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
