"""Typed settings with environment profiles.

Layers, lowest to highest priority: code defaults < the profile (``development``, ``staging``,
``production``, ``test``) < ``SENTINEL_*`` environment variables < explicit overrides (CLI flags).
This is the only module that reads the environment, and even here the environment is injectable:
``load_settings(environ={...})`` never looks at ``os.environ``.

Every section has its own prefix: ``SENTINEL_KAFKA_BOOTSTRAP``, ``SENTINEL_REDIS_URL``,
``SENTINEL_REGISTRY_URL``, ``SENTINEL_DETECTOR_MAX_BATCH``, ... Structured values (tables) are
given as JSON, e.g. ``SENTINEL_DETECTOR_RULES='{"high_amount_multiple": 8}'``.
"""

from __future__ import annotations

import contextvars
import enum
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from pydantic_settings.sources.utils import parse_env_vars

from stream_sentinel.domain import Action, Decision, RiskLevel
from stream_sentinel.errors import ConfigError

Profile = Literal["development", "staging", "production", "test"]
PROFILES: tuple[Profile, ...] = ("development", "staging", "production", "test")
Guarantee = Literal["exactly-once", "at-least-once"]

# The active profile and environment while a section is being built (see _SectionSettings).
_build_context: contextvars.ContextVar[tuple[Mapping[str, Any], Mapping[str, str]]] = (
    contextvars.ContextVar("_build_context")
)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' env source, reading an injected mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class _ProfileSource(PydanticBaseSettingsSource):
    """The active profile's values for one section, below the environment in priority."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = dict(values)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class _SectionSettings(BaseSettings):
    """Base of every section: explicit values > environment > profile > defaults."""

    model_config = SettingsConfigDict(extra="forbid", validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        profile_values, environ = _build_context.get(({}, os.environ))
        return (
            init_settings,
            _MappingEnvSource(settings_cls, environ),
            _ProfileSource(settings_cls, profile_values),
        )


class KafkaSettings(_SectionSettings):
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


def shown_url(url: str) -> str:
    """``url`` fit for messages and logs: a password in it (``redis://:secret@host``) masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))


class RedisSettings(_SectionSettings):
    """State store endpoint and the server configuration `infra up` starts Redis with."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_REDIS_")

    url: str = "redis://127.0.0.1:6379"
    password: SecretStr | None = None
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


class RegistrySettings(_SectionSettings):
    """Schema registry endpoint (ours from `infra up`, or Confluent's: only the URL changes)."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_REGISTRY_")

    url: str = "http://127.0.0.1:8081"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = 10.0
    # A registered schema is one record of `_schemas`: the request must fit Kafka's message limit
    # (registry_server/limits.py caps anything above 900 KiB).
    max_request_bytes: int = Field(900 * 1024, ge=1024, le=900 * 1024)
    # Logical topics that carry plain JSON (one UTF-8 object per message) instead of Avro.
    json_topics: list[str] = []

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)


class InfraSettings(_SectionSettings):
    """Where `infra up` keeps its data, logs and the Kafka jars. Ports come from the endpoints."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_INFRA_")

    state_dir: Path = Path(".sentinel")
    cache_dir: Path = Path.home() / ".cache" / "stream-sentinel"
    kafka_version: str = "4.1.1"
    kafka_heap: str = "1g"
    controller_port: int | None = None  # default: the Kafka client port + 1
    start_timeout_s: float = 90.0
    # A broker flushing its logs can take a while to stop; after this it gets SIGKILL.
    stop_timeout_s: float = 30.0
    # The programs the launcher runs, for machines where they are not on PATH under these names.
    java: str = "java"
    maven: str = "mvn"
    redis_server: str = "redis-server"


def _merged_with_default(model: type[BaseModel], name: str, value: Any) -> Any:
    """A table given in part (``{"CRITICAL": 500}``) keeps the defaults of the rows it omits."""
    default = model.model_fields[name].default
    if not isinstance(value, dict) or not isinstance(default, dict):
        return value
    risk_keyed = bool(default) and all(isinstance(k, RiskLevel) for k in default)
    given = {(RiskLevel(k) if risk_keyed else k): v for k, v in value.items()}
    return {**default, **given}


class RuleSettings(BaseModel):
    """Thresholds of the named rules; each rule that fires becomes a `reason`."""

    model_config = {"extra": "forbid"}

    high_amount_multiple: float = 5.0  # the seed's high_amount_vs_average: amount > 5 x mean
    high_amount_min_history: int = 3
    impossible_travel_kmh: float = 900.0
    impossible_travel_min_km: float = 300.0
    velocity_burst_20m: int = 6  # transactions (this one included) in the last two 10-min buckets
    velocity_burst_1h: int = 12
    new_device_high_amount_multiple: float = 3.0
    card_testing_count_1h: int = 4  # tiny amounts (<= 5.00, features.SMALL_AMOUNT) in an hour
    merchant_fraud_rate: float = 0.05
    merchant_fraud_min_labels: int = 3
    # The least risk level a transaction gets when the rule fires (model or not).
    # Noisy rules (high_amount_vs_average fires on ~1.5% of legitimate payments, merchant rate
    # on ~2.6%) only raise to LOW: their reasons are reported, the model weighs the signal.
    levels: dict[str, RiskLevel] = {
        "impossible_travel": RiskLevel.HIGH,
        "card_testing": RiskLevel.HIGH,
        "velocity_burst": RiskLevel.MEDIUM,
        "new_device_high_amount": RiskLevel.MEDIUM,
        "high_amount_vs_average": RiskLevel.LOW,
        "merchant_high_fraud_rate": RiskLevel.LOW,
    }

    @field_validator("levels", mode="before")
    @classmethod
    def _merge_tables(cls, value: Any) -> Any:
        return _merged_with_default(cls, "levels", value)


class DetectorSettings(_SectionSettings):
    """The detector's consumer group, guarantees, validation limits, rules and bands."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_DETECTOR_")

    group_id: str = "fraud-detection-group"
    feedback_group_id: str = "fraud-detection-feedback"
    guarantee: Guarantee = "exactly-once"
    max_batch: int = Field(1000, ge=1, le=100_000)
    # Under a backlog, batches grow up to this size (fewer commits per transaction).
    max_batch_burst: int = Field(8000, ge=1, le=100_000)
    poll_timeout_ms: int = 100
    alert_level: RiskLevel = RiskLevel.MEDIUM
    max_future_skew_s: float = 300.0
    max_payload_bytes: int = 64 * 1024
    # Untrusted Avro is walked within these bounds before it is decoded (schemas/bounds.py).
    max_decode_depth: int = Field(32, ge=2, le=200)
    max_decode_items: int = Field(10_000, ge=1, le=10_000_000)
    # Per input partition, at least this many recent transaction ids are remembered: a payment
    # re-sent with the same id within them is dead-lettered as `duplicate` (0: no check).
    dedup_window: int = Field(50_000, ge=0, le=10_000_000)
    # `detect` and `alerts run` end (status 1) when a loop makes no progress for this long.
    stall_limit_s: float = Field(600.0, ge=10.0)
    max_amount: float = 1_000_000.0
    profile_ttl_days: int = 35
    user_cache_size: int = 200_000
    # Write a batch's state to Redis while the next batch is handled (one write in flight).
    overlap_state_writes: bool = True
    model_dir: Path = Path("models")
    model_poll_s: float = 5.0
    rules: RuleSettings = RuleSettings()
    # Target alert rates that choose the score bands when a model is trained.
    band_rates: dict[RiskLevel, float] = {
        RiskLevel.CRITICAL: 0.001,
        RiskLevel.HIGH: 0.005,
        RiskLevel.MEDIUM: 0.02,
        RiskLevel.LOW: 0.10,
    }
    decisions: dict[RiskLevel, Decision] = {
        RiskLevel.CRITICAL: Decision.DECLINE,
        RiskLevel.HIGH: Decision.CHALLENGE,
        RiskLevel.MEDIUM: Decision.REVIEW,
        RiskLevel.LOW: Decision.APPROVE,
        RiskLevel.MINIMAL: Decision.APPROVE,
    }
    contributions_from: RiskLevel = RiskLevel.MEDIUM
    top_contributions: int = 5

    @field_validator("band_rates", "decisions", mode="before")
    @classmethod
    def _merge_tables(cls, value: Any, info: Any) -> Any:
        return _merged_with_default(cls, info.field_name, value)


class AlertSettings(_SectionSettings):
    """The alert processor's policy table, escalation, enforcement periods and SLA targets."""

    model_config = SettingsConfigDict(env_prefix="SENTINEL_ALERTS_")

    group_id: str = "alert-response-group"
    guarantee: Guarantee = "exactly-once"
    policy: dict[RiskLevel, list[Action]] = {
        RiskLevel.CRITICAL: [Action.BLOCK_USER, Action.OPEN_CASE, Action.INVESTIGATE],
        RiskLevel.HIGH: [Action.STEP_UP, Action.OPEN_CASE],
        RiskLevel.MEDIUM: [Action.OPEN_CASE, Action.WATCH],
        RiskLevel.LOW: [Action.MONITOR],
        RiskLevel.MINIMAL: [],
    }
    block_period_s: float = 24 * 3600.0
    step_up_period_s: float = 24 * 3600.0
    watch_period_s: float = 7 * 24 * 3600.0
    watch_alert_level: RiskLevel = RiskLevel.LOW
    escalation_count: int = 3
    escalation_window_s: float = 3600.0
    history_cap: int = 50
    sla_ms: dict[RiskLevel, int] = {
        RiskLevel.CRITICAL: 1_000,
        RiskLevel.HIGH: 5_000,
        RiskLevel.MEDIUM: 30_000,
        RiskLevel.LOW: 300_000,
        RiskLevel.MINIMAL: 300_000,
    }
    # The alert processor's consumer loop (alerts are few: small batches keep the SLA short).
    max_batch: int = Field(default=500, ge=1, le=100_000)
    poll_timeout_ms: int = 100
    # Expired control members are swept this often (between batches); reads check expiry anyway.
    sweep_interval_s: float = Field(default=5.0, gt=0)
    # Alert records (the idempotence markers, cases once closed) are kept this long after their
    # alert or resolution: longer than any record stays in fraud-alerts (7-day retention plus a
    # one-day segment), so a replay always finds them.
    record_retention_s: float = Field(default=9 * 24 * 3600.0, gt=0)

    @field_validator("policy", "sla_ms", mode="before")
    @classmethod
    def _merge_tables(cls, value: Any, info: Any) -> Any:
        return _merged_with_default(cls, info.field_name, value)

    @model_validator(mode="after")
    def _history_holds_the_escalation_window(self) -> AlertSettings:
        if self.escalation_count > self.history_cap:
            raise ValueError(
                f"escalation_count ({self.escalation_count}) cannot exceed history_cap "
                f"({self.history_cap}): the history would never hold enough alerts to escalate"
            )
        return self


_SECTIONS: dict[str, type[_SectionSettings]] = {
    "kafka": KafkaSettings,
    "redis": RedisSettings,
    "registry": RegistrySettings,
    "infra": InfraSettings,
    "detector": DetectorSettings,
    "alerts": AlertSettings,
}

#: Per-profile values, applied under the environment.
PROFILE_VALUES: dict[Profile, dict[str, dict[str, Any]]] = {
    "development": {},
    "staging": {"kafka": {"session_timeout_ms": 30_000}},
    "production": {"kafka": {"security_protocol": "SASL_SSL"}},
    # Short timeouts so failure tests (kill -9, rebalances) settle in seconds.
    "test": {
        "kafka": {
            "session_timeout_ms": 6_000,
            "heartbeat_interval_ms": 1_000,
            "transaction_timeout_ms": 10_000,
            "max_poll_interval_ms": 30_000,
            "request_timeout_ms": 10_000,
        },
        "redis": {"retry_attempts": 50},
    },
}


class Settings(BaseModel):
    """All settings of one process. Build it with :func:`load_settings`."""

    model_config = {"frozen": True}

    env: Profile = "development"
    kafka: KafkaSettings
    redis: RedisSettings
    registry: RegistrySettings
    infra: InfraSettings
    detector: DetectorSettings
    alerts: AlertSettings

    SECTIONS: ClassVar[dict[str, type[_SectionSettings]]] = _SECTIONS

    def with_overrides(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with section fields replaced and validated: ``kafka={"topic_prefix": "t-"}``."""
        updated: dict[str, Any] = {}
        for name, values in sections.items():
            current = getattr(self, name)
            updated[name] = current.model_validate(current.model_dump() | dict(values))
        return self.model_copy(update=updated)


def load_settings(
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build settings for ``profile`` (else ``SENTINEL_ENV``, else development) from ``environ``."""
    env = os.environ if environ is None else environ
    name = profile or env.get("SENTINEL_ENV") or "development"
    if name not in PROFILES:
        raise ConfigError(
            f"unknown environment profile {name!r}: use one of {', '.join(PROFILES)} "
            "(--env or SENTINEL_ENV)"
        )
    sections = {
        section: _build_section(
            cls, PROFILE_VALUES[name].get(section, {}), env, (overrides or {}).get(section, {})
        )
        for section, cls in _SECTIONS.items()
    }
    settings = Settings(env=name, **sections)  # type: ignore[arg-type]
    if name == "production":
        require_production_ready(settings)
    return settings


def _build_section(
    cls: type[_SectionSettings],
    profile_values: Mapping[str, Any],
    environ: Mapping[str, str],
    explicit: Mapping[str, Any],
) -> _SectionSettings:
    with _use_context(profile_values, environ):
        try:
            return cls(**explicit)
        except ValidationError as exc:
            raise ConfigError(_describe_validation_error(cls, exc, environ)) from None
        except SettingsError as exc:  # a table that is not even JSON
            raise ConfigError(_describe_settings_error(cls, exc, environ)) from None


@contextmanager
def _use_context(profile_values: Mapping[str, Any], environ: Mapping[str, str]) -> Iterator[None]:
    token = _build_context.set((profile_values, environ))
    try:
        yield
    finally:
        _build_context.reset(token)


def _describe_validation_error(
    cls: type[_SectionSettings], exc: ValidationError, environ: Mapping[str, str]
) -> str:
    problems = [_describe_problem(cls, error, environ) for error in exc.errors()]
    return "invalid settings: " + "; ".join(problems)


def _describe_problem(cls: type[_SectionSettings], error: Any, environ: Mapping[str, str]) -> str:
    """One rejected value: the field, the variable that holds it, what is wrong, how to fix it."""
    prefix = cls.model_config.get("env_prefix", "")
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:  # a check across fields (escalation_count vs history_cap)
        return f"{prefix}*: {message}"
    name = str(error["loc"][0])
    field = ".".join(str(part) for part in error["loc"])
    if name not in cls.model_fields:
        return f"{field}: {message} (no such setting)"
    variable = prefix + name.upper()
    given = _env_value(environ, variable)
    shown = f" (got {given[:60]!r})" if given is not None and "password" not in name else ""
    return f"{field} ({variable}): {message}{shown}; {_how_to_set(cls, name, f'set {variable} to')}"


def _describe_settings_error(
    cls: type[_SectionSettings], exc: SettingsError, environ: Mapping[str, str]
) -> str:
    prefix = cls.model_config.get("env_prefix", "")
    cause = exc.__cause__
    if isinstance(cause, json.JSONDecodeError):
        for name in cls.model_fields:
            variable = prefix + name.upper()
            if _env_value(environ, variable) == cause.doc:
                return (
                    f"{variable} is not valid JSON ({cause.msg} at character {cause.pos + 1}); "
                    + _how_to_set(cls, name, "set it to")
                )
    return f"invalid settings ({prefix}*): {exc} ({cause})"


def _env_value(environ: Mapping[str, str], variable: str) -> str | None:
    # pydantic-settings matches variable names case-insensitively
    return next((value for key, value in environ.items() if key.upper() == variable), None)


def _how_to_set(cls: type[BaseModel], name: str, verb: str) -> str:
    """How to write a good value of field ``name``, from its default (tables as JSON)."""
    default = _plain(cls.model_fields[name].default)
    if isinstance(default, dict):
        return f"{verb} a JSON object such as {json.dumps(dict(list(default.items())[:1]))}"
    if isinstance(default, list):
        return f"{verb} a JSON array such as {json.dumps(default[:1] or ['...'])}"
    if default is None:
        return f"{verb} a valid value, or unset it"
    shown = default if isinstance(default, str) else json.dumps(default)
    return f"{verb} a value such as {shown} (the default), or unset it"


def _plain(value: Any) -> Any:
    """``value`` as a user writes it in the environment (enums by name, paths as text)."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def require_production_ready(settings: Settings) -> None:
    """Refuse to run production without acks=all, idempotence and SASL_SSL credentials."""
    kafka = settings.kafka
    missing = []
    if kafka.security_protocol != "SASL_SSL":
        missing.append("SENTINEL_KAFKA_SECURITY_PROTOCOL=SASL_SSL")
    if not kafka.sasl_username:
        missing.append("SENTINEL_KAFKA_SASL_USERNAME")
    if kafka.sasl_password is None or not kafka.sasl_password.get_secret_value():
        missing.append("SENTINEL_KAFKA_SASL_PASSWORD")
    if kafka.acks != "all":
        missing.append("SENTINEL_KAFKA_ACKS=all")
    if not kafka.enable_idempotence:
        missing.append("SENTINEL_KAFKA_ENABLE_IDEMPOTENCE=true")
    if missing:
        raise ConfigError(
            "the production profile refuses to start without: "
            + ", ".join(missing)
            + ". Set them in the environment (secrets are never printed)."
        )


def topic_name(settings: Settings, base: str) -> str:
    """The real topic name for a logical one, with the configured prefix."""
    return settings.kafka.topic_prefix + base
