"""The endpoints a process connects to: Kafka, Redis, the schema registry."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from stream_sentinel.config.credentials import read_credentials
from stream_sentinel.config.sources import SectionSettings


class KafkaSettings(SectionSettings):
    """Broker endpoint, security and client tuning (converted to librdkafka keys at the edge)."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_KAFKA_")

    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    client_id: str = "stream-sentinel"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    # The secure stack's credentials file (`infra up --secure` writes it): with a SASL username
    # and no password, the password is read from it, so none is ever in the environment.
    secrets_file: Path | None = None
    # Producer: acks=all and idempotence in every profile (transactions need both).
    acks: Literal["all", "1", "0"] = "all"
    enable_idempotence: bool = True
    linger_ms: float = 5.0
    compression: Literal["lz4", "zstd", "snappy", "gzip", "none"] = "lz4"
    batch_size: int = 16384
    # murmur2_random is the Java client's partitioner: a key lands where a Java producer puts it.
    partitioner: str = "murmur2_random"
    # Consumer.
    fetch_min_bytes: int = 1024
    fetch_wait_max_ms: int = 100
    max_batch: int = Field(1000, ge=1, le=100_000)
    session_timeout_ms: int = 45_000
    heartbeat_interval_ms: int = 3_000
    max_poll_interval_ms: int = 300_000
    transaction_timeout_ms: int = 60_000
    # A consumer that cannot reach the broker for this long ends (status 1) for its supervisor.
    outage_limit_s: float = Field(120.0, gt=0)
    # Low-latency profile: linger ~0-1 ms and a short fetch wait, for latency-sensitive deployments.
    low_latency: bool = False
    request_timeout_ms: int = 30_000

    def login_password(self) -> SecretStr | None:
        """The SASL password clients send: the configured one, else (with a username and a
        secrets file) the file's, read now, when a client is built: settings load without it,
        so `infra up --secure` can run before the file exists."""
        if self.sasl_password is not None or self.secrets_file is None or not self.sasl_username:
            return self.sasl_password
        return read_credentials(self.secrets_file).kafka_password(
            self.sasl_username, self.secrets_file
        )

    def as_principal(self, principal: str) -> KafkaSettings:
        """These settings for SASL user ``principal``, its password from the secrets file
        (unchanged when the connection carries no SASL or no secrets file is given: then the
        configured user and password stay)."""
        if not self.security_protocol.startswith("SASL") or self.secrets_file is None:
            return self
        values = self.model_dump() | {"sasl_username": principal, "sasl_password": None}
        return KafkaSettings.model_validate(values)


def shown_url(url: str) -> str:
    """``url`` fit for messages and logs: a password in it (``redis://:secret@host``) masked.

    >>> shown_url("redis://:hunter2@cache:6379/0")
    'redis://:***@cache:6379/0'
    >>> shown_url("http://127.0.0.1:8081")
    'http://127.0.0.1:8081'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))


class RedisSettings(SectionSettings):
    """State store endpoint and the server configuration `infra up` starts Redis with."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_REDIS_")

    url: str = "redis://127.0.0.1:6379"
    password: SecretStr | None = None
    # The secure stack's credentials file: with a user in the URL (``rediss://detector@...``)
    # and no password, the password is read from it.
    secrets_file: Path | None = None
    key_namespace: str = ""
    socket_timeout_s: float = 5.0
    retry_attempts: int = 20
    retry_backoff_s: float = 0.1
    retry_backoff_max_s: float = 2.0
    maxmemory: str = "512mb"
    # Only keys with a TTL (user profiles) may ever be evicted; control state carries no TTL.
    maxmemory_policy: Literal["volatile-lru", "volatile-lfu", "volatile-ttl", "noeviction"] = (
        "volatile-lru"
    )
    appendonly: bool = True
    appendfsync: Literal["always", "everysec", "no"] = "everysec"

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)

    def login_password(self) -> SecretStr | None:
        """The password clients send: the configured one, else (with a user in the URL and a
        secrets file) the file's, read when a client is built."""
        user = urlsplit(self.url).username
        if self.password is not None or self.secrets_file is None or not user:
            return self.password
        return read_credentials(self.secrets_file).redis_password(user, self.secrets_file)

    def as_user(self, user: str) -> RedisSettings:
        """These settings for ACL user ``user``, its password from the secrets file (unchanged
        without a secrets file: a plain Redis has no users)."""
        if self.secrets_file is None:
            return self
        parts = urlsplit(self.url)
        url = urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}"))
        return RedisSettings.model_validate(self.model_dump() | {"url": url, "password": None})


class RegistrySettings(SectionSettings):
    """Schema registry endpoint (ours from `infra up`, or Confluent's: only the URL changes)."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_REGISTRY_")

    url: str = "http://127.0.0.1:8081"
    username: str | None = None
    password: SecretStr | None = None
    # A CA to trust for https:// (else the system's).
    ssl_ca_location: str | None = None
    # The secure stack's credentials file: the username's password (a client), or every user's
    # (the registry server, which then requires basic auth from the users in ``roles``).
    secrets_file: Path | None = None
    # The registry server's users and their roles; empty: no authentication.
    roles: dict[str, Literal["reader", "writer", "admin"]] = {}
    timeout_s: float = 10.0
    # A registered schema is one record of `_schemas`: the request must fit Kafka's message limit
    # (registry_server/limits.py caps anything above 900 KiB).
    max_request_bytes: int = Field(900 * 1024, ge=1024, le=900 * 1024)
    # Logical topics that carry plain JSON (one UTF-8 object per message) instead of Avro.
    json_topics: list[str] = []

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)

    def login_password(self) -> SecretStr | None:
        """The basic-auth password clients send: the configured one, else (with a username
        and a secrets file) the file's, read when a client is built."""
        if self.password is not None or self.secrets_file is None or not self.username:
            return self.password
        return read_credentials(self.secrets_file).registry_password(
            self.username, self.secrets_file
        )

    def as_user(self, user: str) -> RegistrySettings:
        """These settings for registry ``user`` (unchanged without a secrets file)."""
        if self.secrets_file is None:
            return self
        values = self.model_dump() | {"username": user, "password": None}
        return RegistrySettings.model_validate(values)
