"""Certificates for TLS tests: a cloud CA with a loopback node certificate, and a stranger CA."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cumulo import certs
from cumulo.config import TlsConfig
from cumulo.rpc.tls import Tls, load_tls


@dataclass(frozen=True)
class Pki:
    ca: certs.CertFiles
    node: certs.CertFiles
    #: A CA that signed nothing of the cloud's (a client trusting it must fail).
    stranger: certs.CertFiles

    def config(self, *, client_auth: bool = False, with_cert: bool = True) -> TlsConfig:
        """A ``[tls]`` section: the node certificate (unless not ``with_cert``) and the CA."""
        return TlsConfig(
            ca_file=str(self.ca.cert),
            cert_file=str(self.node.cert) if with_cert else "",
            key_file=str(self.node.key) if with_cert else "",
            client_auth=client_auth,
        )

    def tls(self, *, client_auth: bool = False, with_cert: bool = True) -> Tls:
        return load_tls(self.config(client_auth=client_auth, with_cert=with_cert))


def make_pki(root: Path) -> Pki:
    ca, node = certs.ensure_loopback(root / "cloud")
    stranger = certs.create_ca(root / "stranger", "Someone else")
    return Pki(ca, node, stranger)
