"""cumulo.rpc.tls: [tls] settings checked at start, with errors naming the key and file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cumulo import errors
from cumulo.config import TlsConfig, load_config
from cumulo.rpc.tls import PLAINTEXT, Tls, connection_hint, load_server_tls, load_tls, tls_mode
from tests.helpers.tls import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_empty_section_is_plaintext() -> None:
    assert load_tls(TlsConfig()) is PLAINTEXT
    assert PLAINTEXT.server_credentials() is None and PLAINTEXT.channel_credentials() is None
    assert tls_mode(PLAINTEXT) == "plaintext"


def test_full_section_loads_both_ends(pki: Pki) -> None:
    tls = pki.tls(client_auth=True)
    assert tls.enabled and tls.client_auth
    assert tls.server_credentials() is not None and tls.channel_credentials() is not None
    assert tls_mode(tls) == "mutual TLS"
    assert tls_mode(pki.tls()) == "TLS"


def test_client_only_section_cannot_serve(pki: Pki) -> None:
    tls = pki.tls(with_cert=False)
    assert tls.channel_credentials() is not None
    with pytest.raises(errors.InvalidArgument) as caught:
        load_server_tls(pki.config(with_cert=False))
    assert caught.value.field == "tls.cert_file"


def test_server_name_becomes_a_channel_option(pki: Pki) -> None:
    config = pki.config()
    config.server_name = "node1.example"
    assert load_tls(config).channel_options() == [
        ("grpc.ssl_target_name_override", "node1.example")
    ]


@pytest.mark.parametrize("key", ["ca_file", "cert_file", "key_file"])
def test_missing_file_is_one_line_naming_key_and_file(pki: Pki, tmp_path: Path, key: str) -> None:
    config = pki.config()
    missing = tmp_path / "nope.pem"
    setattr(config, key, str(missing))
    with pytest.raises(errors.InvalidArgument) as caught:
        load_tls(config)
    text = str(caught.value)
    assert f"tls.{key}" in text and str(missing) in text and "\n" not in text
    assert caught.value.field == f"tls.{key}"


def test_files_that_are_not_pem_are_refused(pki: Pki, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(errors.InvalidArgument, match=r"tls.ca_file: .*junk.pem holds no PEM"):
        load_tls(TlsConfig(ca_file=str(junk)))
    config = pki.config()
    config.key_file = str(junk)
    with pytest.raises(errors.InvalidArgument, match=r"tls\.key_file"):
        load_tls(config)


def test_key_of_another_certificate_is_refused(pki: Pki) -> None:
    config = pki.config()
    config.key_file = str(pki.stranger.key)
    with pytest.raises(errors.InvalidArgument, match="is not the key of the certificate"):
        load_tls(config)


def test_certificate_and_key_go_together(pki: Pki) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        load_tls(TlsConfig(cert_file=str(pki.node.cert), ca_file=str(pki.ca.cert)))
    assert caught.value.field == "tls.key_file"
    with pytest.raises(errors.InvalidArgument) as caught:
        load_tls(TlsConfig(key_file=str(pki.node.key), ca_file=str(pki.ca.cert)))
    assert caught.value.field == "tls.cert_file"


def test_client_auth_needs_a_ca(pki: Pki) -> None:
    for config in (
        TlsConfig(client_auth=True),
        TlsConfig(cert_file=str(pki.node.cert), key_file=str(pki.node.key), client_auth=True),
    ):
        with pytest.raises(errors.InvalidArgument) as caught:
            load_tls(config)
        assert caught.value.field == "tls.ca_file"


def test_expired_certificate_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    long_ago = datetime.now(UTC) - timedelta(days=30)
    old = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(long_ago)
        .not_valid_after(long_ago + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "old.pem"
    path.write_bytes(old.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(errors.InvalidArgument, match=r"tls.ca_file: the certificate .* expired"):
        load_tls(TlsConfig(ca_file=str(path)))


def test_section_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[tls]\nca_file = "/etc/cumulo/ca.pem"\nclient_auth = true\n')
    config = load_config(path, environ={"CUMULO_TLS_CERT_FILE": "/etc/cumulo/n.pem"})
    assert config.tls.ca_file == "/etc/cumulo/ca.pem" and config.tls.client_auth
    assert config.tls.cert_file == "/etc/cumulo/n.pem" and config.tls.key_file == ""


@pytest.mark.parametrize(
    ("details", "tls", "advice"),
    [
        ("Ssl handshake failed: CERTIFICATE_VERIFY_FAILED", PLAINTEXT, "not signed by the CA"),
        ("Tls handshake failed: WRONG_VERSION_NUMBER", PLAINTEXT, "speaks plaintext"),
        ("UNAUTHENTICATED: Hostname Verification Check failed.", PLAINTEXT, "does not name"),
        ("ipv4:127.0.0.1:1: Socket closed", PLAINTEXT, "CUMULO_TLS_CA_FILE"),
        ("ipv4:127.0.0.1:1: Socket closed", Tls(ca=b"x"), "client certificate"),
        ("Connection refused", PLAINTEXT, ""),
    ],
)
def test_connection_failures_get_advice(details: str, tls: Tls, advice: str) -> None:
    hint = connection_hint(details, tls)
    assert (advice in hint) if advice else hint == ""
