"""The object store of ``cumulo up``: three storage nodes and a ring over them.

Where the object API runs is ``storage.allinone_proxy``:

* ``process``: one ``cumulo-object-proxy`` process, the ``object-proxy`` endpoint;
  the ring is built just before it starts.
* ``nodes``: every node also serves the object API (``--proxy-listen``,
  storage/object/node_proxy.py) and reaches its own replicas in-process; there is
  no proxy process, and the ``object-proxy`` endpoint lists the three nodes' API
  ports (clients spread their calls over them).  The ring is built once the last
  node serves; the nodes' APIs start when the ring file appears.

Layout under the data directory::

    storage/credential          the cluster's storage credential (created by the first node)
    storage/node<N>/d1, d2      the devices of storage node N (N = 1..3; storage.allinone_*)
    storage/object.builder      the ring builder (3 replicas, part power 10, one zone per node)
    storage/object.ring         the ring file the proxy loads
    storage/nodes.json          the nodes' addresses the ring was built with

The ring is built once, by ``python -m storage.ring.bootstrap``, when the nodes'
ports are known (so ``127.0.0.1:0`` works for tests);
later starts reuse it and start each node on the address recorded in
``nodes.json``, so the ring stays true.  The SDK must not import the server packages,
so the ring is built in a child process, like every other server piece.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cumulo import errors
from cumulo.config import Config
from cumulo.local import OBJECT_PROXY_ENDPOINT

if TYPE_CHECKING:
    from cumulo.allinone import ProcessSpec

PART_POWER = 10


def storage_dir(config: Config) -> Path:
    return config.data_dir / "storage"


def node_addresses(config: Config) -> list[str]:
    """The nodes' listen addresses: those the ring was built with, else the configured ones."""
    try:
        recorded = json.loads((storage_dir(config) / "nodes.json").read_text())
        return [str(a) for a in recorded["nodes"]]
    except (OSError, ValueError, KeyError):
        return list(config.storage.allinone_listen)


def api_listen(proxy_listen: str, n: int) -> str:
    """Where node ``n`` (1-based) serves the object API: ``storage.proxy_listen``'s
    port plus ``n - 1`` (7710, 7711, 7712 by default), or port 0 for port 0."""
    host, _, port = proxy_listen.rpartition(":")
    if not port.isdigit():
        raise errors.InvalidArgument(
            f"storage.proxy_listen {proxy_listen!r} is not HOST:PORT",
            field="storage.proxy_listen",
            hint="e.g. 127.0.0.1:7710",
        )
    return f"{host}:{int(port) + n - 1 if int(port) else 0}"


def _build_ring(config: Config, endpoints: dict[str, str], count: int) -> None:
    base = storage_dir(config)
    if (base / "object.ring").exists() and (base / "nodes.json").exists():
        return
    nodes = [endpoints[f"storage-node{n}"] for n in range(1, count + 1)]
    argv = [
        sys.executable,
        "-m",
        "storage.ring.bootstrap",
        "--builder",
        str(base / "object.builder"),
        "--ring",
        str(base / "object.ring"),
        "--part-power",
        str(PART_POWER),
        "--replicas",
        "3",
    ]
    for address in nodes:
        argv += ["--node", f"{address}/{','.join(config.storage.allinone_devices)}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise errors.Unavailable(
            f"building the object ring failed: {done.stderr.strip()[-500:]}",
            hint="see `python -m storage.ring.bootstrap --help`",
        )
    (base / "nodes.json").write_text(json.dumps({"nodes": nodes}, indent=2) + "\n")


def storage_processes(config: Config) -> list[ProcessSpec]:
    """Specs of the storage nodes, in start order (after the controller)."""
    from cumulo.allinone import ProcessSpec  # here: cumulo.allinone imports this module

    run = config.run_dir
    base = storage_dir(config)
    credential = str(config.storage_credential_file())
    common = ["--data-dir", str(config.data_dir), "--credential-file", credential]
    specs: list[ProcessSpec] = []
    addresses = node_addresses(config)
    if config.storage.allinone_proxy not in ("nodes", "process"):
        raise errors.InvalidArgument(
            f"storage.allinone_proxy is {config.storage.allinone_proxy!r}",
            field="storage.allinone_proxy",
            hint="use nodes (every storage node serves the object API) or process",
        )
    node_api = config.storage.allinone_proxy == "nodes"
    for n, listen in enumerate(addresses, start=1):
        argv = [
            sys.executable,
            "-m",
            "storage.object",
            *common,
            "--init-credential",
            "--create-devices",
            "--devices-root",
            str(base / f"node{n}"),
            "--listen",
            listen,
            "--ready-file",
            str(run / f"storage-node{n}.port"),
        ]
        if node_api:
            argv += [
                "--proxy-listen",
                api_listen(config.storage.proxy_listen, n),
                "--proxy-ready-file",
                str(run / f"storage-node{n}-api.port"),
                "--controller",
                "{endpoint:controller}",
                "--ring",
                str(base / "object.ring"),
            ]
        for device in config.storage.allinone_devices:
            argv += ["--device", device]
        # Not critical: a storage node may die and return (the proxy writes to handoffs
        # meanwhile); `python -m storage.object` with the same arguments brings it back.
        specs.append(
            ProcessSpec(
                name=f"storage-node{n}",
                argv=argv,
                ready_file=run / f"storage-node{n}.port",
                critical=False,
                extra_endpoints=(
                    {OBJECT_PROXY_ENDPOINT: run / f"storage-node{n}-api.port"} if node_api else {}
                ),
            )
        )
    count = len(addresses)
    if node_api:
        # The ring needs every node's port: build it once the last node serves.
        specs[-1].after_start = lambda endpoints: _build_ring(config, endpoints, count)
        return specs
    specs.append(
        ProcessSpec(
            name=OBJECT_PROXY_ENDPOINT,
            argv=[
                sys.executable,
                "-m",
                "storage.proxy",
                *common,
                "--ring",
                str(base / "object.ring"),
                "--controller",
                "{endpoint:controller}",
                "--listen",
                config.storage.proxy_listen,
                "--ready-file",
                str(run / "object-proxy.port"),
            ],
            ready_file=run / "object-proxy.port",
            before_start=lambda endpoints: _build_ring(config, endpoints, count),
        )
    )
    return specs
