"""`infra up --secure`: what changes when the local stack is the secured one.

Kafka's client listener becomes ``SASL_SSL`` (SCRAM-SHA-512 over TLS), its KRaft controller
listener ``SSL`` with client certificates required (only the broker's own certificate, signed by
the stack's CA, may speak to the controller), and ``StandardAuthorizer`` refuses whatever no ACL
allows. The SCRAM users (one per service, and the admin) are bootstrapped when the storage is
formatted; the launcher then creates each service's ACLs as the admin. Redis serves TLS only, to
ACL users (one per service, ``redis_users.py``), its default user disabled. Certificates and
passwords live under ``<state dir>/security``, owner-only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from stream_sentinel.config import KafkaSettings, RedisSettings, RegistrySettings
from stream_sentinel.config.credentials import StackCredentials, read_credentials
from stream_sentinel.errors import ConfigError
from stream_sentinel.infra.acls import ADMIN, PRINCIPALS
from stream_sentinel.infra.certs import (
    PRIVATE_MODE,
    SERVER_NAME,
    CertPaths,
    ensure_certs,
    write_file,
)
from stream_sentinel.infra.redis_users import REDIS_USERS, acl_file
from stream_sentinel.infra.registry_users import REGISTRY_ROLES
from stream_sentinel.infra.secrets import ensure_credentials

SECURITY_DIR = "security"
SECRETS_FILE = "secrets.json"
SECURE_MARKER = "secure-mode"
MECHANISM = "SCRAM-SHA-512"
#: The broker's certificate names it ``CN=stream-sentinel-broker``; the mapping rule makes that
#: ``User:stream-sentinel-broker``, the super user the controller listener admits.
BROKER_PRINCIPAL = SERVER_NAME
PRINCIPAL_RULES = "RULE:^CN=([a-zA-Z0-9.-]+)$/$1/,DEFAULT"


@dataclass(frozen=True, slots=True)
class StackSecurity:
    """The secure stack's files under ``home`` and what they mean to each service."""

    home: Path

    @classmethod
    def of(cls, state_dir: Path, requested: bool) -> StackSecurity | None:
        """The security of the stack in ``state_dir``: secure once it was created so (the
        flag is needed only the first time), else plaintext (None). Never refuses: `down` and
        `status` must always work; :meth:`require_startable` is `up`'s check."""
        security = cls(state_dir / SECURITY_DIR)
        return security if requested or security.recorded else None

    @property
    def recorded(self) -> bool:
        """Whether this stack was created secure (its marker, or its secrets from before)."""
        return self.marker.exists() or self.secrets_file.exists()

    @property
    def marker(self) -> Path:
        """Written before Kafka's storage is formatted; outside ``home``, beside the data, so
        losing the security directory does not turn the stack plaintext."""
        return self.home.parent / "kafka" / SECURE_MARKER

    def mark(self) -> None:
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self.marker.write_text("created by `infra up --secure`\n")

    def require_startable(self, kafka_formatted: bool, brokers: int, registries: int) -> None:
        """Refuse to start what cannot be (or could only be started unsafely)."""
        state_dir = self.home.parent
        if not self.recorded and kafka_formatted:
            raise ConfigError(
                f"the stack in {state_dir} was created without --secure, and Kafka's users are"
                " made when its storage is first formatted: run `stream-sentinel infra down"
                " --purge` first (this deletes its data), then `infra up --secure`"
            )
        if self.marker.exists() and not self.secrets_file.exists() and kafka_formatted:
            raise ConfigError(
                f"the stack in {state_dir} was created with --secure but its secrets file"
                f" {self.secrets_file} is missing, so no service could log in: restore the file"
                " from a backup, or run `stream-sentinel infra down --purge` (this deletes its"
                " data), then `infra up --secure`"
            )
        if brokers != 1:
            raise ConfigError(
                f"--secure runs one Kafka node for now, not {brokers}: leave out --brokers"
            )
        if registries != 1:
            raise ConfigError(
                f"--secure runs one schema registry for now, not {registries}: leave out"
                " --registry-instances"
            )

    @property
    def certs(self) -> CertPaths:
        return CertPaths(self.home / "certs")

    @property
    def secrets_file(self) -> Path:
        return self.home / SECRETS_FILE

    @property
    def redis_acl_file(self) -> Path:
        return self.home / "redis-users.acl"

    def prepare(self, now: dt.datetime) -> StackCredentials:
        """Certificates and passwords: the existing ones, or new ones written now."""
        ensure_certs(self.certs, now)
        return ensure_credentials(self.secrets_file, PRINCIPALS, REDIS_USERS, REGISTRY_ROLES)

    def redis_config(self, port: int) -> list[str]:
        """redis.conf lines: TLS on ``port`` and no plain port, the users from the ACL file
        (written here, owner-only, passwords hashed)."""
        credentials = self.prepare(dt.datetime.now(dt.UTC))
        write_file(self.redis_acl_file, acl_file(credentials.redis).encode(), PRIVATE_MODE)
        return [
            "port 0",
            f"tls-port {port}",
            f'tls-cert-file "{self.certs.cert("redis")}"',
            f'tls-key-file "{self.certs.key("redis")}"',
            f'tls-ca-cert-file "{self.certs.ca}"',
            "tls-auth-clients no",  # clients log in as ACL users; the CA proves the server
            f'aclfile "{self.redis_acl_file}"',
        ]

    def client_redis(self, redis: RedisSettings, user: str) -> RedisSettings:
        """``redis`` as ACL ``user`` over TLS, trusting the stack's CA."""
        parts = urlsplit(redis.url)
        host = parts.netloc.rpartition("@")[2]
        url = f"rediss://{user}@{host}/0?ssl_ca_certs={quote(str(self.certs.ca))}"
        values = redis.model_dump() | {
            "url": url,
            "password": None,
            "secrets_file": self.secrets_file,
        }
        return RedisSettings.model_validate(values)

    def credentials(self) -> StackCredentials:
        return read_credentials(self.secrets_file)

    def client_kafka(self, kafka: KafkaSettings, principal: str) -> KafkaSettings:
        """``kafka`` as ``principal`` over SASL_SSL, trusting the stack's CA."""
        values = kafka.model_dump() | {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": MECHANISM,
            "sasl_username": principal,
            "sasl_password": None,
            "ssl_ca_location": str(self.certs.ca),
            "secrets_file": self.secrets_file,
        }
        return KafkaSettings.model_validate(values)

    def admin_kafka(self, kafka: KafkaSettings) -> KafkaSettings:
        return self.client_kafka(kafka, ADMIN)

    def client_registry(self, registry: RegistrySettings, user: str) -> RegistrySettings:
        """``registry`` as ``user`` over HTTPS, trusting the stack's CA."""
        host = urlsplit(registry.url).netloc.rpartition("@")[2]
        values = registry.model_dump() | {
            "url": f"https://{host}",
            "username": user,
            "password": None,
            "ssl_ca_location": str(self.certs.ca),
            "secrets_file": self.secrets_file,
        }
        return RegistrySettings.model_validate(values)

    def registry_server(self, registry: RegistrySettings) -> RegistrySettings:
        """The registry server's own section: its users and roles, their passwords' file."""
        values = registry.model_dump() | {
            "roles": dict(REGISTRY_ROLES),
            "secrets_file": self.secrets_file,
            "username": None,
            "password": None,
        }
        return RegistrySettings.model_validate(values)

    def scram_arguments(self) -> list[str]:
        """``kafka-storage format`` arguments creating every principal's SCRAM credential
        (secret: they go into an owner-only argument file, never onto a command line)."""
        kafka = self.credentials().kafka
        return [
            argument
            for name in PRINCIPALS
            for argument in (
                "--add-scram",
                f"{MECHANISM}=[name={name},password={kafka[name].get_secret_value()}]",
            )
        ]

    def kafka_properties(self, client: str, controller: str) -> dict[str, str]:
        """What the secure node's ``server.properties`` adds to or changes in the plain one.
        ``client`` and ``controller`` are the listeners' ``host:port``."""
        admin = self.credentials().kafka[ADMIN].get_secret_value()
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required"
            f' username="{ADMIN}" password="{admin}";'
        )
        listeners = f"SASL_SSL://{client},CONTROLLER://{controller}"
        return {
            "listeners": listeners,
            "advertised.listeners": listeners,
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "CONTROLLER:SSL,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.certs.keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.certs.ca),
            "listener.name.controller.ssl.client.auth": "required",
            "ssl.principal.mapping.rules": PRINCIPAL_RULES,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{ADMIN};User:{BROKER_PRINCIPAL}",
        }

    def describe(self) -> dict[str, str]:
        """For `infra status`: what is secured and where its files are (no secret)."""
        return {
            "kafka": f"SASL_SSL ({MECHANISM}) with ACLs; controller over mutual TLS",
            "redis": "TLS only, one ACL user per service, the default user off",
            "registry": "HTTPS, basic auth: readers, writers, admin",
            "ca": str(self.certs.ca),
            "secrets_file": str(self.secrets_file),
        }

    def client_environment(self, principal: str, redis_port: int, registry_port: int) -> list[str]:
        """The variables that make a command ``principal`` on this stack (no secret)."""
        return [
            "SENTINEL_KAFKA_SECURITY_PROTOCOL=SASL_SSL",
            f"SENTINEL_KAFKA_SASL_MECHANISM={MECHANISM}",
            f"SENTINEL_KAFKA_SASL_USERNAME={principal}",
            f"SENTINEL_KAFKA_SSL_CA_LOCATION={self.certs.ca}",
            f"SENTINEL_KAFKA_SECRETS_FILE={self.secrets_file}",
            f"SENTINEL_REDIS_URL=rediss://{principal}@127.0.0.1:{redis_port}/0"
            f"?ssl_ca_certs={quote(str(self.certs.ca))}",
            f"SENTINEL_REDIS_SECRETS_FILE={self.secrets_file}",
            f"SENTINEL_REGISTRY_URL=https://127.0.0.1:{registry_port}",
            f"SENTINEL_REGISTRY_USERNAME={principal}",
            f"SENTINEL_REGISTRY_SSL_CA_LOCATION={self.certs.ca}",
            f"SENTINEL_REGISTRY_SECRETS_FILE={self.secrets_file}",
        ]
