"""Certificates for a Cumulo cloud: one CA, one certificate per node (``cumulo tls``).

Offline operator tooling, like ring building: it writes PEM files into a
directory and never talks to a server.  Layout of a directory::

    ca.pem, ca.key          the cloud's CA (``cumulo tls init``); ca.pem is the
                            ``tls.ca_file`` of every process and client
    <name>.pem, <name>.key  a node's certificate and key (``cumulo tls issue``):
                            its ``tls.cert_file`` and ``tls.key_file``

Keys are ECDSA P-256 (fast to make and to handshake with) and written mode 0600,
created with that mode so they are never readable by others, not even briefly.
A node certificate is good for both ends of a connection (serverAuth and
clientAuth), since a node serves and also calls other nodes under mutual TLS.
Existing files are never overwritten: a second ``init`` would orphan every
certificate the first CA signed.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cumulo import errors

CA_DAYS = 3650
NODE_DAYS = 825  # the longest lifetime common TLS clients accept for a leaf
#: What ``cumulo up --tls`` names the certificate of its loopback services.
LOOPBACK_NAME = "loopback"
LOOPBACK_IPS = ("127.0.0.1", "::1")
LOOPBACK_DNS = ("localhost",)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class CertFiles:
    """A certificate and its key on disk."""

    cert: Path
    key: Path


def ca_files(directory: Path) -> CertFiles:
    return CertFiles(directory / "ca.pem", directory / "ca.key")


def node_files(directory: Path, name: str) -> CertFiles:
    if not _NAME.match(name) or name == "ca":
        raise errors.InvalidArgument(
            f"certificate name {name!r} is not 1-64 letters, digits, '.', '_' or '-' "
            "(and not 'ca')",
            field="name",
        )
    return CertFiles(directory / f"{name}.pem", directory / f"{name}.key")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the first byte (O_EXCL: never overwrite)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _refuse_existing(files: CertFiles) -> None:
    for path in (files.cert, files.key):
        if path.exists():
            raise errors.AlreadyExists(
                f"{path} exists already",
                hint="pick another name or directory; files are never overwritten",
            )


def create_ca(directory: Path, common_name: str = "Cumulo CA", days: int = CA_DAYS) -> CertFiles:
    """Create a CA in ``directory`` (made if missing); AlreadyExists if one is there."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = ca_files(directory)
    _refuse_existing(files)
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    # Key first: a CA certificate without its key would make `issue` fail later.
    _write_new(files.key, _key_pem(key), 0o600)
    _write_new(files.cert, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return files


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    files = ca_files(directory)
    try:
        certificate = x509.load_pem_x509_certificate(files.cert.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    except OSError as exc:
        raise errors.NotFound(
            f"no CA in {directory}: cannot read {exc.filename}",
            hint=f"create one with `cumulo tls init --dir {directory}`",
        ) from None
    except ValueError as exc:
        raise errors.InvalidArgument(f"the CA in {directory} is not valid PEM: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise errors.InvalidArgument(f"the CA key in {directory} is not an ECDSA key")
    return certificate, key


def issue(
    directory: Path,
    name: str,
    *,
    ips: Sequence[str] = (),
    dns: Sequence[str] = (),
    days: int = NODE_DAYS,
) -> CertFiles:
    """Issue ``<name>.pem``/``<name>.key`` signed by the CA in ``directory``.

    The certificate names the node by every ``ips`` and ``dns`` entry (subject
    alternative names: what clients check against the address they dial); at least
    one is required.  AlreadyExists if the files exist; InvalidArgument for a bad IP.
    """
    files = node_files(directory, name)
    if not ips and not dns:
        raise errors.InvalidArgument(
            "a certificate needs at least one --ip or --dns name",
            field="ip",
            hint="the addresses clients dial this node by, e.g. --ip 10.0.0.5",
        )
    alt_names: list[x509.GeneralName] = []
    for address in ips:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            raise errors.InvalidArgument(f"{address!r} is not an IP address", field="ip") from None
    alt_names += [x509.DNSName(host) for host in dns]
    _refuse_existing(files)
    ca_certificate, ca_key = _load_ca(directory)
    key = _new_key()
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), ca_certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_new(files.key, _key_pem(key), 0o600)
    _write_new(files.cert, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return files


def ensure_loopback(directory: Path) -> tuple[CertFiles, CertFiles]:
    """The CA and loopback certificate of ``cumulo up --tls``, created on first use.

    Returns ``(ca, loopback)``.  Later calls reuse the files, so clients that
    trusted the CA once keep trusting the cloud across restarts."""
    ca = ca_files(directory)
    if not ca.cert.exists():
        create_ca(directory, "Cumulo local CA")
    loopback = node_files(directory, LOOPBACK_NAME)
    if not loopback.cert.exists():
        issue(directory, LOOPBACK_NAME, ips=LOOPBACK_IPS, dns=LOOPBACK_DNS)
    return ca, loopback
