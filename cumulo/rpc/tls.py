"""TLS for every Cumulo gRPC connection: the ``[tls]`` settings made into credentials.

One place turns :class:`cumulo.config.TlsConfig` into a :class:`Tls` value (the PEM
bytes, read and checked once at start), and opens servers' ports and clients'
channels with it, so every process is plaintext or TLS the same way:

* :data:`PLAINTEXT` (no files) keeps today's behaviour: ``add_insecure_port`` and
  ``insecure_channel``.  Every function that takes a ``tls`` defaults to it, so
  code and tests that never heard of TLS keep working.
* A server needs ``cert`` and ``key``; with ``client_auth`` it also demands a client
  certificate signed by ``ca`` (mutual TLS).
* A client needs ``ca`` (the cloud's CA, the only root it trusts: never the system
  store, so a public certificate cannot impersonate a node); it presents ``cert``
  and ``key`` when it has them, which is what mutual-TLS servers ask for.

Settings are passed down explicitly from each process's wiring; nothing here is
global.  Files are read once: a renewed certificate takes effect at restart.

An address may list several servers of one service, ``HOST:PORT,HOST:PORT,...``
(the object API of ``cumulo up`` is served by every storage node):
:func:`channel_target` makes that one channel that spreads calls round robin over
the servers that are up, which is gRPC's own client-side balancing, so a node that
goes down costs the calls in flight on it and no more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

from cumulo import errors
from cumulo.config import TlsConfig

ChannelOptions = Sequence[tuple[str, Any]]


@dataclass(frozen=True)
class Tls:
    """TLS material of one process (PEM bytes); empty everywhere means plaintext."""

    ca: bytes = b""
    cert: bytes = b""
    key: bytes = b""
    client_auth: bool = False
    #: Name to check in servers' certificates instead of the dialled host.
    server_name: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.ca or self.cert or self.key)

    def server_credentials(self) -> grpc.ServerCredentials | None:
        """Credentials for ``add_secure_port``; ``None`` means plaintext.

        Raises InvalidArgument when TLS is on but this process has no certificate
        to present (a client-only configuration used to start a server)."""
        if not self.enabled:
            return None
        if not (self.cert and self.key):
            raise errors.InvalidArgument(
                "TLS is on (tls.ca_file is set) but tls.cert_file and tls.key_file are "
                "empty: a server needs its certificate and key",
                field="tls.cert_file",
                hint="issue one with `cumulo tls issue`",
            )
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)],
            root_certificates=self.ca or None,
            require_client_auth=self.client_auth,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials | None:
        """Credentials for a channel; ``None`` means plaintext."""
        if not self.enabled:
            return None
        if not self.ca:
            raise errors.InvalidArgument(
                "TLS is on (tls.cert_file is set) but tls.ca_file is empty: a client "
                "needs the cloud's CA to verify servers",
                field="tls.ca_file",
                hint="set tls.ca_file to the CA bundle (`cumulo tls init` makes one)",
            )
        if self.cert and self.key:
            return grpc.ssl_channel_credentials(self.ca, self.key, self.cert)
        return grpc.ssl_channel_credentials(self.ca)

    def channel_options(self) -> list[tuple[str, Any]]:
        if self.enabled and self.server_name:
            return [("grpc.ssl_target_name_override", self.server_name)]
        return []


#: No TLS: today's plaintext behaviour (the default of every ``tls`` parameter).
PLAINTEXT = Tls()


def split_addresses(address: str) -> list[str]:
    """The servers of ``address`` (``HOST:PORT`` or a comma-separated list of them)."""
    return [part.strip() for part in address.split(",") if part.strip()]


def channel_target(address: str) -> tuple[str, list[tuple[str, Any]]]:
    """The gRPC target and extra channel options for ``address``.

    One server: the address itself.  Several (``HOST:PORT,HOST:PORT``, IP literals,
    IPv6 in brackets): an ``ipv4:``/``ipv6:`` target listing them all with the
    ``round_robin`` policy, and the first server as the authority (the name TLS
    checks unless ``tls.server_name`` overrides it)."""
    servers = split_addresses(address)
    if len(servers) <= 1:
        return (servers[0] if servers else address), []
    scheme = "ipv6" if servers[0].startswith("[") else "ipv4"
    if any(s.startswith("[") != (scheme == "ipv6") for s in servers):
        raise errors.InvalidArgument(
            f"the servers of {address!r} mix IPv4 and IPv6 addresses",
            field="endpoint",
            hint="list servers of one address family",
        )
    return f"{scheme}:{','.join(servers)}", [
        ("grpc.lb_policy_name", "round_robin"),
        ("grpc.default_authority", servers[0]),
    ]


def channel(address: str, tls: Tls = PLAINTEXT, options: ChannelOptions = ()) -> grpc.Channel:
    """A synchronous channel to ``address`` (one server or several), TLS when ``tls`` is on."""
    target, balancing = channel_target(address)
    credentials = tls.channel_credentials()
    merged = [*options, *balancing, *tls.channel_options()]
    if credentials is None:
        return grpc.insecure_channel(target, options=merged)
    return grpc.secure_channel(target, credentials, options=merged)


def aio_channel(address: str, tls: Tls = PLAINTEXT, options: ChannelOptions = ()) -> aio.Channel:
    """An asyncio channel to ``address`` (one server or several), TLS when ``tls`` is on."""
    target, balancing = channel_target(address)
    credentials = tls.channel_credentials()
    merged = [*options, *balancing, *tls.channel_options()]
    if credentials is None:
        return aio.insecure_channel(target, options=merged)
    return aio.secure_channel(target, credentials, options=merged)


def add_port(server: Any, address: str, tls: Tls = PLAINTEXT) -> int:
    """Bind ``address`` on ``server`` (sync or aio), TLS when ``tls`` is on; the port or 0."""
    credentials = tls.server_credentials()
    if credentials is None:
        return int(server.add_insecure_port(address))
    return int(server.add_secure_port(address, credentials))


def _read(key: str, path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise errors.InvalidArgument(
            f"{key}: cannot read {path}: {exc.strerror or exc}", field=key
        ) from None


def _certificates(key: str, path: str, data: bytes) -> list[Any]:
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise errors.InvalidArgument(
            f"{key}: {path} holds no PEM certificate", field=key, hint="expected BEGIN CERTIFICATE"
        )
    now = datetime.now(UTC)
    for certificate in certificates:
        if certificate.not_valid_after_utc < now:
            raise errors.InvalidArgument(
                f"{key}: the certificate in {path} expired on "
                f"{certificate.not_valid_after_utc:%Y-%m-%d}",
                field=key,
                hint="issue a new one with `cumulo tls issue`",
            )
    return certificates


def _check_key(cert_path: str, key_path: str, certificate: Any, data: bytes) -> None:
    from cryptography.hazmat.primitives import serialization

    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise errors.InvalidArgument(
            f"tls.key_file: {key_path} holds no unencrypted PEM private key",
            field="tls.key_file",
        ) from None
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(der, spki) != certificate.public_key().public_bytes(
        der, spki
    ):
        raise errors.InvalidArgument(
            f"tls.key_file: {key_path} is not the key of the certificate in {cert_path}",
            field="tls.key_file",
        )


def load_tls(config: TlsConfig) -> Tls:
    """Read and check the files ``config`` names; :data:`PLAINTEXT` when none is set.

    Raises InvalidArgument with a one-line message naming the key and the file:
    unreadable or non-PEM files, an expired certificate, a key that is not the
    certificate's, a certificate without its key (or the reverse), and
    ``client_auth`` without ``ca_file``.
    """
    if not (config.cert_file or config.key_file or config.ca_file):
        if config.client_auth:
            raise errors.InvalidArgument(
                "tls.client_auth needs tls.ca_file (and a certificate)", field="tls.ca_file"
            )
        return PLAINTEXT
    if bool(config.cert_file) != bool(config.key_file):
        missing = "tls.key_file" if config.cert_file else "tls.cert_file"
        raise errors.InvalidArgument(
            f"{missing} is empty: tls.cert_file and tls.key_file go together", field=missing
        )
    if config.client_auth and not config.ca_file:
        raise errors.InvalidArgument(
            "tls.client_auth needs tls.ca_file to verify client certificates",
            field="tls.ca_file",
        )
    ca = cert = key = b""
    if config.ca_file:
        ca = _read("tls.ca_file", config.ca_file)
        _certificates("tls.ca_file", config.ca_file, ca)
    if config.cert_file:
        cert = _read("tls.cert_file", config.cert_file)
        key = _read("tls.key_file", config.key_file)
        leaf = _certificates("tls.cert_file", config.cert_file, cert)[0]
        _check_key(config.cert_file, config.key_file, leaf, key)
    return Tls(
        ca=ca,
        cert=cert,
        key=key,
        client_auth=config.client_auth,
        server_name=config.server_name,
    )


def connection_hint(details: str, tls: Tls) -> str:
    """What to do about a failed connection whose gRPC ``details`` are given, or "".

    gRPC reports every handshake failure as UNAVAILABLE with OpenSSL's words in
    the details; this turns the common ones into advice (the SDK's error hint)."""
    if "CERTIFICATE_VERIFY_FAILED" in details:
        return (
            "the server's certificate is not signed by the CA this client trusts: use the "
            "cloud's ca.pem (CUMULO_TLS_CA_FILE, or ca_file=)"
        )
    if "WRONG_VERSION_NUMBER" in details:
        return "the server speaks plaintext, not TLS: unset CUMULO_TLS_CA_FILE for it"
    if "Hostname Verification" in details or "not in peer certificate" in details:
        return (
            "the server's certificate does not name the address dialled: issue one with "
            "that --ip/--dns, or set the name to check (CUMULO_TLS_SERVER_NAME)"
        )
    if "Socket closed" in details or "Connection reset" in details:
        if not tls.enabled:
            return (
                "the server closed the connection: if it uses TLS, give the cloud's CA "
                "(CUMULO_TLS_CA_FILE, or ca_file=)"
            )
        if not tls.cert:
            return (
                "the server closed the connection: if it requires a client certificate "
                "(mutual TLS), give one (CUMULO_TLS_CERT_FILE and CUMULO_TLS_KEY_FILE)"
            )
    return ""


def tls_mode(tls: Tls) -> str:
    """How a server started with ``tls`` serves, for its start-up log line."""
    if not tls.enabled:
        return "plaintext"
    return "mutual TLS" if tls.client_auth else "TLS"


def load_server_tls(config: TlsConfig) -> Tls:
    """:func:`load_tls` for a process that serves: also refuses TLS without a certificate,
    so a server fails at start rather than after opening its database or devices."""
    tls = load_tls(config)
    tls.server_credentials()
    return tls
