"""Start libvirtd and virtlogd for the agent's hypervisor detection and the libvirt tests.

``make test`` runs this as root on a Debian machine without an init system:
when ``qemu:///system`` does not answer it starts ``virtlogd -d`` (domains fail
to start without it) and ``libvirtd -d``, then waits until libvirt answers.
Without root or without the daemons installed it says so and exits 0: the
agent then reports the hypervisor unavailable, and tests that need it use
``test:///default``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

URI = "qemu:///system"


def libvirt_answers() -> str:
    """Empty when ``URI`` answers, else why not."""
    try:
        import libvirt
    except ImportError as exc:
        return f"libvirt-python is not installed ({exc})"
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    try:
        libvirt.open(URI).close()
    except libvirt.libvirtError as exc:
        return str(exc.get_error_message())
    return ""


def main() -> int:
    if not libvirt_answers():
        print(f"libvirt already answers at {URI}")
        return 0
    if os.geteuid() != 0:
        print("cumulo: not root; not starting libvirtd (the agent reports it unavailable)")
        return 0
    for daemon in ("virtlogd", "libvirtd"):
        path = shutil.which(daemon) or f"/usr/sbin/{daemon}"
        if not os.path.exists(path):
            print(f"cumulo: {daemon} is not installed; the hypervisor will be reported unavailable")
            return 0
        # -d daemonizes; a second instance exits at once because of the pid file lock.
        subprocess.run([path, "-d"], check=False)
    reason = ""
    for _ in range(100):
        reason = libvirt_answers()
        if not reason:
            print(f"libvirt answers at {URI}")
            return 0
        time.sleep(0.1)
    print(f"cumulo: libvirtd started but {URI} does not answer: {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
