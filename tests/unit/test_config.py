from __future__ import annotations

import pytest

from stream_sentinel.config import load_settings
from stream_sentinel.domain import RiskLevel
from stream_sentinel.errors import ConfigError


def test_development_defaults_match_the_seed_tuning() -> None:
    s = load_settings(environ={})
    assert s.env == "development"
    assert s.kafka.bootstrap == "127.0.0.1:9092"
    assert (s.kafka.acks, s.kafka.enable_idempotence) == ("all", True)
    assert (s.kafka.linger_ms, s.kafka.compression, s.kafka.batch_size) == (5.0, "lz4", 16384)
    assert s.kafka.partitioner == "murmur2_random"
    assert (s.kafka.fetch_min_bytes, s.kafka.max_batch) == (1024, 1000)
    assert s.redis.url == "redis://127.0.0.1:6379"
    assert (s.redis.maxmemory, s.redis.maxmemory_policy) == ("512mb", "volatile-lru")
    assert s.registry.url == "http://127.0.0.1:8081"
    assert (s.kafka.topic_prefix, s.redis.key_namespace) == ("", "")


def test_profile_comes_from_sentinel_env_and_main_endpoints_from_their_variables() -> None:
    s = load_settings(
        environ={
            "SENTINEL_ENV": "test",
            "SENTINEL_KAFKA_BOOTSTRAP": "10.0.0.5:19092",
            "SENTINEL_REDIS_URL": "redis://10.0.0.6:6380/0",
            "SENTINEL_REGISTRY_URL": "http://10.0.0.7:18081",
        }
    )
    assert s.env == "test"
    assert s.kafka.bootstrap == "10.0.0.5:19092"
    assert s.redis.url == "redis://10.0.0.6:6380/0"
    assert s.registry.url == "http://10.0.0.7:18081"
    # the test profile shortens timeouts so failure tests settle quickly
    assert s.kafka.session_timeout_ms == 6_000
    assert s.kafka.transaction_timeout_ms == 10_000


def test_environment_beats_profile_and_explicit_overrides_beat_environment() -> None:
    env = {"SENTINEL_KAFKA_SESSION_TIMEOUT_MS": "7000", "SENTINEL_KAFKA_TOPIC_PREFIX": "env-"}
    s = load_settings("test", environ=env, overrides={"kafka": {"topic_prefix": "cli-"}})
    assert s.kafka.session_timeout_ms == 7000
    assert s.kafka.topic_prefix == "cli-"


def test_structured_values_are_json_and_risk_levels_accept_names() -> None:
    s = load_settings(
        environ={
            "SENTINEL_DETECTOR_RULES": '{"high_amount_multiple": 8}',
            "SENTINEL_DETECTOR_ALERT_LEVEL": "high",
            "SENTINEL_DETECTOR_BAND_RATES": '{"CRITICAL": 0.002, "HIGH": 0.01}',
        }
    )
    assert s.detector.rules.high_amount_multiple == 8.0
    assert s.detector.rules.velocity_burst_20m == 6  # untouched fields keep their defaults
    assert s.detector.alert_level is RiskLevel.HIGH
    # a table given in part keeps the defaults of the rows it leaves out
    assert s.detector.band_rates == {
        RiskLevel.CRITICAL: 0.002,
        RiskLevel.HIGH: 0.01,
        RiskLevel.MEDIUM: 0.02,
        RiskLevel.LOW: 0.10,
    }


def test_one_sla_target_overridden_keeps_the_others() -> None:
    s = load_settings(environ={"SENTINEL_ALERTS_SLA_MS": '{"CRITICAL": 500}'})
    assert s.alerts.sla_ms[RiskLevel.CRITICAL] == 500
    assert s.alerts.sla_ms[RiskLevel.HIGH] == 5_000
    s = load_settings(environ={"SENTINEL_DETECTOR_RULES": '{"levels": {"velocity_burst": "HIGH"}}'})
    assert s.detector.rules.levels["velocity_burst"] is RiskLevel.HIGH
    assert s.detector.rules.levels["impossible_travel"] is RiskLevel.HIGH
    assert s.detector.rules.levels["high_amount_vs_average"] is RiskLevel.LOW


def test_production_refuses_to_start_without_sasl_credentials_and_names_them() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings("production", environ={})
    message = str(err.value)
    assert "SENTINEL_KAFKA_SASL_USERNAME" in message
    assert "SENTINEL_KAFKA_SASL_PASSWORD" in message


def test_production_with_credentials_uses_sasl_ssl_and_never_shows_the_secret() -> None:
    s = load_settings(
        "production",
        environ={"SENTINEL_KAFKA_SASL_USERNAME": "svc", "SENTINEL_KAFKA_SASL_PASSWORD": "hunter2"},
    )
    assert s.kafka.security_protocol == "SASL_SSL"
    assert s.kafka.sasl_password is not None
    assert s.kafka.sasl_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_production_refuses_a_weakened_producer() -> None:
    env = {
        "SENTINEL_KAFKA_SASL_USERNAME": "svc",
        "SENTINEL_KAFKA_SASL_PASSWORD": "pw",
        "SENTINEL_KAFKA_ACKS": "1",
    }
    with pytest.raises(ConfigError, match="SENTINEL_KAFKA_ACKS=all"):
        load_settings("production", environ=env)


def test_bad_values_name_the_variable_to_fix() -> None:
    with pytest.raises(ConfigError, match=r"max_batch \(SENTINEL_KAFKA_MAX_BATCH\)"):
        load_settings(environ={"SENTINEL_KAFKA_MAX_BATCH": "0"})
    with pytest.raises(ConfigError, match="unknown environment profile 'prod'"):
        load_settings(environ={"SENTINEL_ENV": "prod"})


def test_with_overrides_revalidates() -> None:
    s = load_settings(environ={})
    t = s.with_overrides(kafka={"topic_prefix": "t1-"}, redis={"key_namespace": "ns1"})
    assert (t.kafka.topic_prefix, t.redis.key_namespace) == ("t1-", "ns1")
    assert s.kafka.topic_prefix == ""
