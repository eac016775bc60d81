"""The secure stack's certificates: a local CA and one server certificate, made by the launcher.

The functions building keys and certificates are pure (time is passed in); :func:`ensure_certs`
writes them as PEM under the state directory, private keys readable only by their owner. Kafka
reads PEM directly (``ssl.keystore.type=PEM``, a file holding the PKCS#8 key and the chain), so no
Java keystore is needed; librdkafka, redis-py and httpx read the same files.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "Stream-Sentinel local CA"
SERVER_NAME = "stream-sentinel-broker"
CA_DAYS = 825
SERVER_DAYS = 397  # the longest leaf lifetime browsers and most TLS stacks still accept
LOOPBACK_SANS = ("localhost", "127.0.0.1")
PRIVATE_MODE = 0o600
# A certificate is made usable from a few minutes ago, so a clock slightly behind still trusts it.
_BACKDATE = dt.timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Issued:
    """A private key and its certificate."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def new_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key: fast to make, and read by Java, OpenSSL and Python alike."""
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def build_ca(
    now: dt.datetime, days: int = CA_DAYS, key: ec.EllipticCurvePrivateKey | None = None
) -> Issued:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = key or new_key()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(CA_NAME))
        .issuer_name(_name(CA_NAME))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def build_server(
    ca: Issued,
    now: dt.datetime,
    common_name: str = SERVER_NAME,
    days: int = SERVER_DAYS,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> Issued:
    """A certificate for 127.0.0.1 and localhost, good for serving TLS and for presenting as a
    client (the broker dials its own controller listener with it)."""
    key = key or new_key()
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    ca_key_id = x509.SubjectKeyIdentifier.from_public_key(ca.key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + dt.timedelta(days=days), ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(key, cert)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8, unencrypted: the form Kafka's PEM keystore reads (the file itself is 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True, slots=True)
class CertPaths:
    """Where the certificates of one stack live (``<state dir>/certs``)."""

    directory: Path

    @property
    def ca(self) -> Path:
        """The CA certificate: what every client trusts (``ssl.ca.location``)."""
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server(self) -> Path:
        """The server certificate followed by the CA's: the chain a TLS server presents."""
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def keystore(self) -> Path:
        """Key and chain in one file: Kafka's file-based PEM keystore."""
        return self.directory / "server-keystore.pem"

    def all(self) -> tuple[Path, ...]:
        return (self.ca, self.ca_key, self.server, self.server_key, self.keystore)


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` created with ``mode`` (never briefly readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    os.chmod(partial, mode)  # the umask may have taken bits away; set exactly what was asked
    partial.replace(path)


def write_certs(paths: CertPaths, ca: Issued, server: Issued) -> None:
    """The five PEM files; the two holding private keys are mode 0600."""
    paths.directory.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.directory, 0o700)
    chain = cert_pem(server.cert) + cert_pem(ca.cert)
    write_file(paths.ca, cert_pem(ca.cert), 0o644)
    write_file(paths.ca_key, key_pem(ca.key), PRIVATE_MODE)
    write_file(paths.server, chain, 0o644)
    write_file(paths.server_key, key_pem(server.key), PRIVATE_MODE)
    write_file(paths.keystore, key_pem(server.key) + chain, PRIVATE_MODE)


def ensure_certs(paths: CertPaths, now: dt.datetime) -> bool:
    """Create the CA and server certificate unless all files exist; True when made now."""
    if all(path.exists() for path in paths.all()):
        return False
    ca = build_ca(now)
    write_certs(paths, ca, build_server(ca, now))
    return True


def load_cert(path: Path) -> x509.Certificate:
    """The first certificate in a PEM file."""
    return x509.load_pem_x509_certificate(path.read_bytes())
