"""The secure stack's local CA and server certificate (no process is started here)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from stream_sentinel.infra.certs import (
    CA_NAME,
    SERVER_NAME,
    CertPaths,
    build_ca,
    build_server,
    ensure_certs,
    load_cert,
)

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def _common_name(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


def test_the_ca_is_self_signed_may_sign_leaves_only_and_is_valid_from_five_minutes_ago() -> None:
    ca = build_ca(NOW, days=30)
    assert _common_name(ca.cert) == CA_NAME
    assert ca.cert.issuer == ca.cert.subject
    constraints = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (constraints.ca, constraints.path_length) == (True, 0)
    assert ca.cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert ca.cert.not_valid_after_utc == NOW + dt.timedelta(days=30)
    ca.cert.verify_directly_issued_by(ca.cert)


def test_the_server_certificate_names_loopback_and_chains_to_the_ca() -> None:
    ca = build_ca(NOW)
    server = build_server(ca, NOW, days=10)
    sans = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert _common_name(server.cert) == SERVER_NAME
    usages = server.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert server.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert server.cert.not_valid_after_utc == NOW + dt.timedelta(days=10)
    server.cert.verify_directly_issued_by(ca.cert)


def test_a_server_certificate_never_outlives_its_ca() -> None:
    ca = build_ca(NOW, days=3)
    assert build_server(ca, NOW, days=397).cert.not_valid_after_utc == NOW + dt.timedelta(days=3)


def test_a_certificate_from_another_ca_does_not_verify() -> None:
    server = build_server(build_ca(NOW), NOW)
    other = build_ca(NOW)
    with pytest.raises(InvalidSignature):
        server.cert.verify_directly_issued_by(other.cert)


def test_written_keys_are_owner_only_and_the_files_hold_what_they_say(tmp_path: Path) -> None:
    paths = CertPaths(tmp_path / "certs")
    assert ensure_certs(paths, NOW) is True
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in paths.all()}
    assert modes == {
        "ca.pem": 0o644,
        "ca-key.pem": 0o600,
        "server.pem": 0o644,
        "server-key.pem": 0o600,
        "server-keystore.pem": 0o600,
    }
    assert stat.S_IMODE(paths.directory.stat().st_mode) == 0o700
    ca, server = load_cert(paths.ca), load_cert(paths.server)
    server.verify_directly_issued_by(ca)
    chain = x509.load_pem_x509_certificates(paths.server.read_bytes())
    assert chain == [server, ca]
    key = serialization.load_pem_private_key(paths.server_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key() == server.public_key()
    keystore = paths.keystore.read_bytes()
    assert keystore.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, as Kafka reads it
    assert keystore.count(b"-----BEGIN CERTIFICATE-----") == 2


def test_existing_certificates_are_kept(tmp_path: Path) -> None:
    paths = CertPaths(tmp_path / "certs")
    ensure_certs(paths, NOW)
    before = paths.ca.read_bytes()
    assert ensure_certs(paths, NOW) is False
    assert paths.ca.read_bytes() == before
