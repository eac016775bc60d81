"""The secure stack's files and configuration (no process is started here)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from stream_sentinel.config import load_settings
from stream_sentinel.config.credentials import StackCredentials, read_credentials
from stream_sentinel.errors import ConfigError
from stream_sentinel.infra.acls import PRINCIPALS
from stream_sentinel.infra.endpoints import StackPorts
from stream_sentinel.infra.kafka import java_argfile
from stream_sentinel.infra.redis_users import REDIS_USERS
from stream_sentinel.infra.registry import RegistryService
from stream_sentinel.infra.secrets import ensure_credentials, new_credentials, write_credentials
from stream_sentinel.infra.secure import StackSecurity
from stream_sentinel.infra.stack import Stack

pytestmark = pytest.mark.unit
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
PORTS = StackPorts(kafka=19092, controller=19093, redis=16379, registry=18081)


def _numbered() -> StackCredentials:
    counter = iter(range(100))
    return new_credentials(PRINCIPALS, lambda: f"pw-{next(counter)}")


def _security(tmp_path: Path) -> StackSecurity:
    security = StackSecurity(tmp_path / "security")
    write_credentials(security.secrets_file, _numbered())
    return security


def test_credentials_are_one_random_password_per_principal_in_an_owner_only_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "security" / "secrets.json"
    made = ensure_credentials(path, PRINCIPALS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    passwords = {name: secret.get_secret_value() for name, secret in made.kafka.items()}
    assert sorted(passwords) == sorted(PRINCIPALS)
    assert len(set(passwords.values())) == len(PRINCIPALS)
    assert all(len(p) == 32 for p in passwords.values())
    assert ensure_credentials(path, PRINCIPALS) == made  # kept, not made anew
    assert passwords["admin"] not in repr(made)


def test_a_missing_or_foreign_credentials_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"`stream-sentinel infra up --secure` writes it"):
        read_credentials(tmp_path / "none.json")
    (tmp_path / "other.json").write_text('{"users": []}')
    with pytest.raises(ConfigError, match="is not one `infra up --secure` wrote"):
        read_credentials(tmp_path / "other.json")


def test_a_sasl_user_s_password_comes_from_the_secrets_file(tmp_path: Path) -> None:
    security = _security(tmp_path)
    settings = load_settings(
        "test",
        environ={
            "SENTINEL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "SENTINEL_KAFKA_SASL_USERNAME": "alerts",
            "SENTINEL_KAFKA_SECRETS_FILE": str(security.secrets_file),
        },
    )
    assert settings.kafka.login_password() == SecretStr("pw-2")
    detector = settings.kafka.as_principal("detector")
    assert (detector.sasl_username, detector.login_password()) == ("detector", SecretStr("pw-1"))
    with pytest.raises(ConfigError, match="holds no Kafka password for 'nobody'"):
        settings.kafka.as_principal("nobody").login_password()


def test_the_secure_node_listens_sasl_ssl_with_a_mutual_tls_controller(tmp_path: Path) -> None:
    security = _security(tmp_path)
    properties = security.kafka_properties("127.0.0.1:19092", "127.0.0.1:19093")
    certs = tmp_path / "security" / "certs"
    jaas = properties.pop("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config")
    assert jaas == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required"
        ' username="admin" password="pw-8";'
    )
    assert properties == {
        "listeners": "SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
        "advertised.listeners": "SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
        "inter.broker.listener.name": "SASL_SSL",
        "listener.security.protocol.map": "CONTROLLER:SSL,SASL_SSL:SASL_SSL",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certs / "broker-keystore.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certs / "ca.pem"),
        "listener.name.controller.ssl.client.auth": "required",
        "ssl.principal.mapping.rules": "RULE:^CN=([a-zA-Z0-9.-]+)$/$1/,DEFAULT",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": "User:admin;User:stream-sentinel-broker",
    }


def test_every_principal_is_bootstrapped_at_format_time(tmp_path: Path) -> None:
    arguments = _security(tmp_path).scram_arguments()
    assert arguments[:4] == [
        "--add-scram",
        "SCRAM-SHA-512=[name=generator,password=pw-0]",
        "--add-scram",
        "SCRAM-SHA-512=[name=detector,password=pw-1]",
    ]
    assert len(arguments) == 2 * len(PRINCIPALS)


def test_the_format_arguments_file_quotes_each_argument() -> None:
    text = java_argfile(["kafka.tools.StorageTool", "--config", "/a b/server.properties"])
    assert text == '"kafka.tools.StorageTool"\n"--config"\n"/a b/server.properties"\n'


def test_the_stack_stays_as_it_was_created(tmp_path: Path) -> None:
    secure = StackSecurity(tmp_path / "security")
    assert StackSecurity.of(tmp_path, False) is None
    assert StackSecurity.of(tmp_path, True) == secure
    with pytest.raises(ConfigError, match="was created without --secure"):
        secure.require_startable(kafka_formatted=True, brokers=1, registries=1)
    _security(tmp_path)
    assert StackSecurity.of(tmp_path, False) == secure
    secure.require_startable(kafka_formatted=True, brokers=1, registries=1)
    with pytest.raises(ConfigError, match="--secure runs one Kafka node for now, not 3"):
        secure.require_startable(kafka_formatted=True, brokers=3, registries=1)
    with pytest.raises(ConfigError, match="--secure runs one schema registry for now, not 2"):
        secure.require_startable(kafka_formatted=True, brokers=1, registries=2)


def test_a_secure_stack_whose_secrets_were_lost_stays_secure_and_refuses_to_start(
    tmp_path: Path,
) -> None:
    security = _security(tmp_path)
    security.mark()  # what `up --secure` does before formatting
    security.secrets_file.unlink()
    assert StackSecurity.of(tmp_path, False) == security  # never silently plaintext
    with pytest.raises(ConfigError) as refused:
        security.require_startable(kafka_formatted=True, brokers=1, registries=1)
    assert str(refused.value) == (
        f"the stack in {tmp_path} was created with --secure but its secrets file"
        f" {security.secrets_file} is missing, so no service could log in: restore the file"
        " from a backup, or run `stream-sentinel infra down --purge` (this deletes its"
        " data), then `infra up --secure`"
    )


def test_down_and_status_build_any_stack_and_only_up_refuses(tmp_path: Path) -> None:
    environ = {
        "SENTINEL_INFRA_STATE_DIR": str(tmp_path),
        "SENTINEL_INFRA_REGISTRY_INSTANCES": "2",
        "SENTINEL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    }
    _security(tmp_path)
    stack = Stack(load_settings("test", environ=environ))
    assert stack.security == StackSecurity(tmp_path / "security")
    assert [report.state for report in stack.down().services] == ["not running"] * 4
    with pytest.raises(ConfigError, match="--secure runs one schema registry for now, not 2"):
        stack.up()


def test_the_registry_gets_its_principal_but_no_password_in_its_environment(
    tmp_path: Path,
) -> None:
    security = _security(tmp_path)
    settings = load_settings("test")
    env = RegistryService(settings, PORTS, tmp_path, 1, security).launch().env
    assert env["SENTINEL_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["SENTINEL_KAFKA_SASL_USERNAME"] == "registry"
    assert env["SENTINEL_KAFKA_SECRETS_FILE"] == str(security.secrets_file)
    assert env["SENTINEL_KAFKA_SSL_CA_LOCATION"] == str(security.certs.ca)
    assert "SENTINEL_KAFKA_SASL_PASSWORD" not in env
    secrets = json.loads(security.secrets_file.read_text())["kafka"].values()
    assert not any(secret in json.dumps(env) for secret in secrets)


def test_status_describes_the_security_without_a_secret(tmp_path: Path) -> None:
    security = _security(tmp_path)
    assert security.describe() == {
        "kafka": "SASL_SSL (SCRAM-SHA-512) with ACLs; controller over mutual TLS",
        "redis": "TLS only, one ACL user per service, the default user off",
        "registry": "HTTPS, basic auth: readers, writers, admin",
        "ca": str(tmp_path / "security" / "certs" / "ca.pem"),
        "secrets_file": str(tmp_path / "security" / "secrets.json"),
    }


def test_redis_serves_tls_only_to_acl_users_whose_passwords_are_hashed(tmp_path: Path) -> None:
    security = StackSecurity(tmp_path / "security")
    write_credentials(
        security.secrets_file,
        new_credentials(PRINCIPALS, lambda: "k", redis_users=REDIS_USERS),
    )
    certs = tmp_path / "security" / "certs"
    assert security.redis_config(16379) == [
        "port 0",
        "tls-port 16379",
        f'tls-cert-file "{certs / "redis.pem"}"',
        f'tls-key-file "{certs / "redis-key.pem"}"',
        f'tls-ca-cert-file "{certs / "ca.pem"}"',
        "tls-auth-clients no",
        f'aclfile "{tmp_path / "security" / "redis-users.acl"}"',
    ]
    acl = security.redis_acl_file
    assert stat.S_IMODE(acl.stat().st_mode) == 0o600
    passwords = {n: s.get_secret_value() for n, s in security.credentials().redis.items()}
    text = acl.read_text()
    assert not any(password in text for password in passwords.values())
    digest = hashlib.sha256(passwords["detector"].encode()).hexdigest()
    assert text.splitlines()[:2] == [
        "user default off",
        f"user detector on #{digest} ~* &* +@all -@dangerous +info",
    ]
    assert text.splitlines()[-1].endswith(" ~* &* +@all")  # the admin
    assert sorted(passwords) == sorted(REDIS_USERS)


def test_a_redis_user_logs_in_over_tls_with_the_password_from_the_secrets_file(
    tmp_path: Path,
) -> None:
    security = _security(tmp_path)
    write_credentials(
        security.secrets_file,
        new_credentials(PRINCIPALS, lambda: "k", redis_users=REDIS_USERS).model_copy(
            update={"redis": {"admin": SecretStr("a-pw"), "detector": SecretStr("d-pw")}}
        ),
    )
    redis = security.client_redis(load_settings("test").redis, "admin")
    ca = str(security.certs.ca)  # quoted, but a tmp path has nothing to quote
    assert redis.url == f"rediss://admin@127.0.0.1:6379/0?ssl_ca_certs={ca}"
    assert redis.login_password() == SecretStr("a-pw")
    detector = redis.as_user("detector")
    assert detector.url == f"rediss://detector@127.0.0.1:6379/0?ssl_ca_certs={ca}"
    assert detector.login_password() == SecretStr("d-pw")
    with pytest.raises(ConfigError, match="holds no Redis password for 'nobody'"):
        redis.as_user("nobody").login_password()


def test_redis_users_are_added_to_an_older_secrets_file_and_kafka_s_are_kept(
    tmp_path: Path,
) -> None:
    security = _security(tmp_path)  # Kafka passwords only
    before = security.credentials().kafka
    after = ensure_credentials(security.secrets_file, PRINCIPALS, REDIS_USERS)
    assert after.kafka == before
    assert sorted(after.redis) == sorted(REDIS_USERS)
    assert security.credentials() == after


def test_only_the_console_may_read_the_slow_log_and_key_sizes() -> None:
    rules = {name: rules.split() for name, rules in REDIS_USERS.items()}
    assert rules["console"] == [
        *["~*", "&*", "+@all", "-@dangerous", "+info", "+slowlog|get", "+memory|usage"],
    ]
    others = [name for name in REDIS_USERS if name not in ("console", "admin")]
    assert others == ["detector", "alerts", "learner", "drift", "experiments"]
    assert all(rules[name] == ["~*", "&*", "+@all", "-@dangerous", "+info"] for name in others)


def test_settings_load_before_the_secrets_file_exists_and_read_it_when_a_client_logs_in(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "security" / "secrets.json"  # as after `infra down --purge`
    environ = {
        "SENTINEL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SENTINEL_KAFKA_SASL_USERNAME": "detector",
        "SENTINEL_KAFKA_SECRETS_FILE": str(missing),
        "SENTINEL_REDIS_URL": "rediss://detector@127.0.0.1:6379/0",
        "SENTINEL_REDIS_SECRETS_FILE": str(missing),
        "SENTINEL_REGISTRY_USERNAME": "detector",
        "SENTINEL_REGISTRY_SECRETS_FILE": str(missing),
    }
    settings = load_settings("test", environ=environ)
    for section in (settings.kafka, settings.redis, settings.registry):
        with pytest.raises(ConfigError, match="infra up --secure"):
            section.login_password()
    _security(tmp_path)  # `infra up --secure` writes it
    assert settings.kafka.login_password() == SecretStr("pw-1")


def test_a_configured_sasl_password_is_kept_when_no_secrets_file_is_given() -> None:
    environ = {
        "SENTINEL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SENTINEL_KAFKA_SASL_USERNAME": "svc-fraud",
        "SENTINEL_KAFKA_SASL_PASSWORD": "from-the-vault",
    }
    kafka = load_settings("test", environ=environ).kafka.as_principal("detector")
    assert (kafka.sasl_username, kafka.login_password()) == (
        "svc-fraud",
        SecretStr("from-the-vault"),
    )
