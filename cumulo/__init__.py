"""Cumulo's Python SDK.

``cumulo.connect()`` returns a :class:`cumulo.client.Client` for a Cumulo cloud;
``cumulo.errors`` holds the exceptions every service raises (and that the SDK
raises back from gRPC status codes).  The generated protobuf modules live in
``cumulo.<domain>.v1`` packages; the command-line tool is ``cumulo.cli``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from cumulo.client import Client, connect

__all__ = ["Client", "__version__", "connect"]
