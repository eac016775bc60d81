"""The secure stack's certificates: a local CA and one leaf per server, made by the launcher.

Kafka, Redis and the registry each get their own key and certificate (a leaked Redis key cannot
pose as the broker); only the broker's may also authenticate a client (it dials its own
controller listener with it, and its name maps to the Kafka super user). The CA is name-
constrained to ``localhost`` and ``127.0.0.1``: whatever it signs is good for loopback only.
Its key stays (owner-only), so leaves are renewed under the same CA, which clients already trust.

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
#: Each server's certificate: its common name and whether it may also authenticate a client.
LEAVES: dict[str, tuple[str, bool]] = {
    "broker": (SERVER_NAME, True),
    "redis": ("stream-sentinel-redis", False),
    "registry": ("stream-sentinel-registry", False),
}
#: A certificate expiring sooner than this is re-issued the next time the stack starts.
RENEW_WITHIN = dt.timedelta(days=30)
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
        .add_extension(_loopback_only(), critical=True)
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
    client_auth: bool = False,
) -> Issued:
    """A certificate for 127.0.0.1 and localhost, good for serving TLS, and with
    ``client_auth`` for presenting as a client too (the broker, to its own controller)."""
    key = key or new_key()
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH]
    if client_auth:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
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


def _loopback_only() -> x509.NameConstraints:
    permitted: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_network("127.0.0.1/32")),
    ]
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None)


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

    def cert(self, leaf: str) -> Path:
        """A server's certificate followed by the CA's: the chain a TLS server presents."""
        return self.directory / f"{leaf}.pem"

    def key(self, leaf: str) -> Path:
        return self.directory / f"{leaf}-key.pem"

    @property
    def keystore(self) -> Path:
        """The broker's key and chain in one file: Kafka's file-based PEM keystore."""
        return self.directory / "broker-keystore.pem"

    def all(self) -> tuple[Path, ...]:
        leaves = [path for leaf in LEAVES for path in (self.cert(leaf), self.key(leaf))]
        return (self.ca, self.ca_key, *leaves, self.keystore)


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


def write_ca(paths: CertPaths, ca: Issued) -> None:
    paths.directory.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.directory, 0o700)
    write_file(paths.ca, cert_pem(ca.cert), 0o644)
    write_file(paths.ca_key, key_pem(ca.key), PRIVATE_MODE)


def write_leaf(paths: CertPaths, leaf: str, issued: Issued, ca: x509.Certificate) -> None:
    """A server's chain (0644) and key (0600); the broker's also as Kafka's keystore."""
    chain = cert_pem(issued.cert) + cert_pem(ca)
    write_file(paths.cert(leaf), chain, 0o644)
    write_file(paths.key(leaf), key_pem(issued.key), PRIVATE_MODE)
    if leaf == "broker":
        write_file(paths.keystore, key_pem(issued.key) + chain, PRIVATE_MODE)


def _fresh(path: Path, now: dt.datetime) -> bool:
    return path.exists() and load_cert(path).not_valid_after_utc - now > RENEW_WITHIN


def _loopback_bound(ca: x509.Certificate) -> bool:
    """Whether ``ca`` carries the name constraints (a CA from before them is replaced)."""
    try:
        return ca.extensions.get_extension_for_class(x509.NameConstraints).value == _loopback_only()
    except x509.ExtensionNotFound:
        return False


def _ca(paths: CertPaths, now: dt.datetime) -> tuple[Issued, bool]:
    """The stack's CA: the one on disk while it is good for a while, else a new one."""
    if _fresh(paths.ca, now) and paths.ca_key.exists() and _loopback_bound(load_cert(paths.ca)):
        key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return Issued(key, load_cert(paths.ca)), False
    ca = build_ca(now)
    write_ca(paths, ca)
    return ca, True


def ensure_certs(paths: CertPaths, now: dt.datetime) -> list[str]:
    """Issue what is missing or expires within :data:`RENEW_WITHIN` (a new CA re-issues every
    leaf); the names issued now (``"ca"``, ``"broker"``, ...), [] when all are good.
    A running server keeps the certificate it started with until it is restarted."""
    ca, new_ca = _ca(paths, now)
    issued = ["ca"] if new_ca else []
    for leaf, (common_name, client_auth) in LEAVES.items():
        files = [paths.cert(leaf), paths.key(leaf), *([paths.keystore] if leaf == "broker" else [])]
        if new_ca or not all(f.exists() for f in files) or not _fresh(paths.cert(leaf), now):
            server = build_server(ca, now, common_name, key=None, client_auth=client_auth)
            write_leaf(paths, leaf, server, ca.cert)
            issued.append(leaf)
    return issued


def load_cert(path: Path) -> x509.Certificate:
    """The first certificate in a PEM file."""
    return x509.load_pem_x509_certificate(path.read_bytes())
