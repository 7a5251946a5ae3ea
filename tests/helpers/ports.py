"""Free TCP ports on loopback for tests that start real processes."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Environment for ``cumulo up`` in tests: storage nodes and the object proxy on
#: ports the kernel picks (the defaults are fixed ports another cloud may hold).
STORAGE_ON_FREE_PORTS = {
    "CUMULO_STORAGE_ALLINONE_LISTEN": "127.0.0.1:0,127.0.0.1:0,127.0.0.1:0",
    "CUMULO_STORAGE_PROXY_LISTEN": "127.0.0.1:0",
}
