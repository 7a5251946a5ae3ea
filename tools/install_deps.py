"""Install the Debian packages Cumulo's build, tests and all-in-one cloud need.

Runs as part of ``make run`` / ``make test``.  As root it installs only what is
missing (``apt-get update`` once, then ``apt-get install``); as another user it
prints the missing packages and the command to install them, and carries on so
that a developer without root can still run what does not need them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PACKAGES = [
    "build-essential",
    "pkg-config",
    "libxxhash-dev",  # xxhash.h for the Cython checksum and ring hash
    "libvirt-dev",  # libvirt-python builds against it
    "libvirt-daemon-system",
    "libvirt-clients",
    "qemu-system-x86",
    "qemu-utils",
    "postgresql",
    "iproute2",
    "nftables",
    "dnsmasq-base",
]


def missing(packages: list[str]) -> list[str]:
    if not shutil.which("dpkg-query"):
        return []
    absent = []
    for name in packages:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True
        )
        if "install ok installed" not in result.stdout:
            absent.append(name)
    return absent


def main() -> int:
    absent = missing(PACKAGES)
    if not absent:
        return 0
    if os.geteuid() != 0:
        print(
            "cumulo: these Debian packages are missing: " + " ".join(absent) + "\n"
            "        install them with: sudo apt-get install -y " + " ".join(absent),
            file=sys.stderr,
        )
        return 0
    print("cumulo: installing " + " ".join(absent), flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *absent],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
