"""cumulo.certs: the CA, node certificates, their names, usages and file modes."""

from __future__ import annotations

import ipaddress
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from cumulo import certs, errors


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ca_is_a_ca_and_its_key_is_private(tmp_path: Path) -> None:
    files = certs.create_ca(tmp_path / "pki", "Test CA")
    ca = _load(files.cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject == ca.issuer
    assert _mode(files.key) == 0o600
    assert _mode(tmp_path / "pki") == 0o700


def test_node_certificate_names_and_usages(tmp_path: Path) -> None:
    certs.create_ca(tmp_path)
    files = certs.issue(tmp_path, "node1", ips=["10.0.0.5", "::1"], dns=["node1.example"])
    node, ca = _load(files.cert), _load(certs.ca_files(tmp_path).cert)
    assert node.issuer == ca.subject
    node.verify_directly_issued_by(ca)
    names = node.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("::1"),
    ]
    assert names.get_values_for_type(x509.DNSName) == ["node1.example"]
    usages = node.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not node.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert _mode(files.key) == 0o600


def test_nothing_is_overwritten(tmp_path: Path) -> None:
    certs.create_ca(tmp_path)
    before = certs.ca_files(tmp_path).cert.read_bytes()
    with pytest.raises(errors.AlreadyExists):
        certs.create_ca(tmp_path)
    assert certs.ca_files(tmp_path).cert.read_bytes() == before
    certs.issue(tmp_path, "n", dns=["n.example"])
    with pytest.raises(errors.AlreadyExists):
        certs.issue(tmp_path, "n", dns=["n.example"])


@pytest.mark.parametrize(
    ("name", "ips", "dns"),
    [
        ("node1", [], []),  # no name for clients to check
        ("node1", ["10.0.0.300"], []),
        ("../evil", ["10.0.0.5"], []),
        ("ca", ["10.0.0.5"], []),  # would collide with the CA's files
    ],
)
def test_bad_requests_are_refused(
    tmp_path: Path, name: str, ips: list[str], dns: list[str]
) -> None:
    certs.create_ca(tmp_path)
    with pytest.raises(errors.InvalidArgument):
        certs.issue(tmp_path, name, ips=ips, dns=dns)


def test_issue_without_a_ca_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFound) as caught:
        certs.issue(tmp_path, "node1", ips=["10.0.0.5"])
    assert "cumulo tls init" in str(caught.value)


def test_loopback_files_are_made_once(tmp_path: Path) -> None:
    ca, node = certs.ensure_loopback(tmp_path)
    first = (ca.cert.read_bytes(), node.cert.read_bytes())
    assert certs.ensure_loopback(tmp_path) == (ca, node)
    assert (ca.cert.read_bytes(), node.cert.read_bytes()) == first
    names = _load(node.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert {str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1",
        "::1",
    }
    assert names.value.get_values_for_type(x509.DNSName) == ["localhost"]


def test_cli_init_then_issue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cumulo.cli.main import main

    pki = tmp_path / "pki"
    assert main(["tls", "init", "--dir", str(pki)]) == 0
    assert "Keep" in capsys.readouterr().out
    code = main(
        ["--json", "tls", "issue", "--dir", str(pki), "--name", "node1", "--ip", "10.0.0.5"]
    )
    assert code == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued == {
        "ca_file": str(pki / "ca.pem"),
        "cert_file": str(pki / "node1.pem"),
        "key_file": str(pki / "node1.key"),
    }
    assert main(["tls", "init", "--dir", str(pki)]) == 1
    assert "exists already" in capsys.readouterr().err
