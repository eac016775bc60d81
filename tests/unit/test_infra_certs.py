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
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from stream_sentinel.infra.certs import (
    CA_NAME,
    LEAVES,
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
    server = build_server(ca, NOW, days=10, client_auth=True)
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
    assert ensure_certs(paths, NOW) == ["ca", "broker", "redis", "registry"]
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in paths.all()}
    assert modes == {
        "ca.pem": 0o644,
        "ca-key.pem": 0o600,
        "broker.pem": 0o644,
        "broker-key.pem": 0o600,
        "redis.pem": 0o644,
        "redis-key.pem": 0o600,
        "registry.pem": 0o644,
        "registry-key.pem": 0o600,
        "broker-keystore.pem": 0o600,
    }
    assert stat.S_IMODE(paths.directory.stat().st_mode) == 0o700
    ca = load_cert(paths.ca)
    for leaf in LEAVES:
        server = load_cert(paths.cert(leaf))
        server.verify_directly_issued_by(ca)
        assert x509.load_pem_x509_certificates(paths.cert(leaf).read_bytes()) == [server, ca]
        key = serialization.load_pem_private_key(paths.key(leaf).read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.public_key() == server.public_key()
    keystore = paths.keystore.read_bytes()
    assert keystore.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, as Kafka reads it
    assert keystore.count(b"-----BEGIN CERTIFICATE-----") == 2
    assert keystore.endswith(paths.cert("broker").read_bytes())


def test_each_server_has_its_own_key_and_only_the_broker_s_authenticates_a_client(
    tmp_path: Path,
) -> None:
    paths = CertPaths(tmp_path / "certs")
    ensure_certs(paths, NOW)
    certs = {leaf: load_cert(paths.cert(leaf)) for leaf in LEAVES}
    assert {leaf: _common_name(cert) for leaf, cert in certs.items()} == {
        "broker": "stream-sentinel-broker",
        "redis": "stream-sentinel-redis",
        "registry": "stream-sentinel-registry",
    }
    assert len({cert.public_key().public_bytes(*_DER) for cert in certs.values()}) == 3
    usages = {
        leaf: list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        for leaf, cert in certs.items()
    }
    assert usages == {
        "broker": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        "redis": [ExtendedKeyUsageOID.SERVER_AUTH],
        "registry": [ExtendedKeyUsageOID.SERVER_AUTH],
    }


_DER = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_key_usages_let_the_ca_sign_only_and_the_leaves_only_sign_and_agree_keys() -> None:
    ca = build_ca(NOW)
    ca_usage = ca.cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ca_usage.critical is True
    assert (ca_usage.value.key_cert_sign, ca_usage.value.crl_sign) == (True, True)
    assert (ca_usage.value.digital_signature, ca_usage.value.key_agreement) == (False, False)
    leaf = build_server(ca, NOW).cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert leaf.critical is True
    assert (leaf.value.digital_signature, leaf.value.key_agreement) == (True, True)
    assert (leaf.value.key_cert_sign, leaf.value.crl_sign, leaf.value.key_encipherment) == (
        False,
        False,
        False,
    )


def test_the_ca_may_only_sign_for_loopback_names() -> None:
    ca = build_ca(NOW)
    constraints = ca.cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical is True
    assert constraints.value.permitted_subtrees == [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
    ]
    assert constraints.value.excluded_subtrees is None


def test_existing_certificates_are_kept(tmp_path: Path) -> None:
    paths = CertPaths(tmp_path / "certs")
    ensure_certs(paths, NOW)
    before = [path.read_bytes() for path in paths.all()]
    assert ensure_certs(paths, NOW + dt.timedelta(days=300)) == []
    assert [path.read_bytes() for path in paths.all()] == before


def test_a_leaf_expiring_within_30_days_is_re_issued_under_the_same_ca(tmp_path: Path) -> None:
    paths = CertPaths(tmp_path / "certs")
    ensure_certs(paths, NOW)  # leaves good for 397 days, the CA for 825
    ca = paths.ca.read_bytes()
    later = NOW + dt.timedelta(days=397 - 29)
    assert ensure_certs(paths, later) == ["broker", "redis", "registry"]
    assert paths.ca.read_bytes() == ca
    renewed = load_cert(paths.cert("broker"))
    assert renewed.not_valid_after_utc == later + dt.timedelta(days=397)
    renewed.verify_directly_issued_by(load_cert(paths.ca))


def test_an_expired_ca_is_replaced_with_every_leaf(tmp_path: Path) -> None:
    paths = CertPaths(tmp_path / "certs")
    long_ago = NOW - dt.timedelta(days=900)
    assert ensure_certs(paths, long_ago) == ["ca", "broker", "redis", "registry"]
    assert load_cert(paths.ca).not_valid_after_utc < NOW
    assert ensure_certs(paths, NOW) == ["ca", "broker", "redis", "registry"]
    assert load_cert(paths.ca).not_valid_after_utc == NOW + dt.timedelta(days=825)
    assert load_cert(paths.cert("redis")).not_valid_after_utc == NOW + dt.timedelta(days=397)


def test_a_missing_leaf_is_issued_alone(tmp_path: Path) -> None:
    paths = CertPaths(tmp_path / "certs")
    ensure_certs(paths, NOW)
    paths.key("redis").unlink()
    assert ensure_certs(paths, NOW) == ["redis"]


def test_a_tls_verifier_accepts_each_server_for_loopback_and_only_the_broker_as_a_client(
    tmp_path: Path,
) -> None:
    paths = CertPaths(tmp_path / "certs")
    ensure_certs(paths, NOW)
    policy = PolicyBuilder().store(Store([load_cert(paths.ca)])).time(NOW)
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    for leaf in LEAVES:
        chain = policy.build_server_verifier(loopback).verify(load_cert(paths.cert(leaf)), [])
        assert [_common_name(cert) for cert in chain] == [LEAVES[leaf][0], CA_NAME]
    client = policy.build_client_verifier()
    assert client.verify(load_cert(paths.cert("broker")), []).subjects == [
        x509.DNSName("localhost"),
        loopback,
    ]
    for leaf in ("redis", "registry"):
        with pytest.raises(VerificationError, match="required EKU not found"):
            client.verify(load_cert(paths.cert(leaf)), [])
