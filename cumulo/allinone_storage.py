"""The object store of ``cumulo up``: three storage nodes, a ring over them, one proxy.

Layout under the data directory::

    storage/credential          the cluster's storage credential (created by the first node)
    storage/node<N>/d1, d2      the devices of storage node N (N = 1..3; storage.allinone_*)
    storage/object.builder      the ring builder (3 replicas, part power 10, one zone per node)
    storage/object.ring         the ring file the proxy loads
    storage/nodes.json          the nodes' addresses the ring was built with

The ring is built once, by ``python -m storage.ring.bootstrap`` run just before the
proxy starts (when the nodes' ports are known, so ``127.0.0.1:0`` works for tests);
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
    """Specs of the storage nodes and the proxy, in start order (after the controller)."""
    from cumulo.allinone import ProcessSpec  # here: cumulo.allinone imports this module

    run = config.run_dir
    base = storage_dir(config)
    credential = str(config.storage_credential_file())
    common = ["--data-dir", str(config.data_dir), "--credential-file", credential]
    specs: list[ProcessSpec] = []
    addresses = node_addresses(config)
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
            )
        )
    count = len(addresses)
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
