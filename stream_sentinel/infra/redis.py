"""The local Redis: Debian's ``redis-server`` with the seed's production configuration.

AOF persistence is on, memory is capped (512mb unless overridden) and the eviction policy is
``volatile-*``: only keys that carry a TTL (user profiles) can ever be evicted, so control state
(blocks, watermarks, models, experiments), which never has a TTL, survives memory pressure.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from stream_sentinel.config import RedisSettings, Settings
from stream_sentinel.infra.endpoints import BIND_HOST, StackPorts
from stream_sentinel.infra.process import Launch
from stream_sentinel.infra.secure import StackSecurity
from stream_sentinel.infra.service import LocalService, child_env, find_program

INSTALL_REDIS = (
    "install Redis with `apt-get install -y redis-server` (as root or with sudo; `make setup-redis`"
    " does it), or set SENTINEL_INFRA_REDIS_SERVER to a redis-server binary"
)


def redis_password(redis: RedisSettings) -> str | None:
    """The password clients will send: SENTINEL_REDIS_PASSWORD, else the one in the URL."""
    secret = redis.login_password()
    if secret is not None and secret.get_secret_value():
        return secret.get_secret_value()
    password = urlsplit(redis.url).password
    return unquote(password) if password else None


def redis_config(redis: RedisSettings, port: int, data_dir: Path, log_file: Path) -> list[str]:
    """redis.conf lines. A file rather than flags, so a password never shows up in `ps`."""
    lines = [
        f"port {port}",
        f"bind {BIND_HOST}",
        "protected-mode yes",
        "daemonize no",
        f"dir {_quote(str(data_dir))}",
        f"logfile {_quote(str(log_file))}",
        f"appendonly {'yes' if redis.appendonly else 'no'}",
        f"appendfsync {redis.appendfsync}",
        f"maxmemory {redis.maxmemory}",
        f"maxmemory-policy {redis.maxmemory_policy}",
        # The config path in the process title lets the launcher recognise its own redis-server.
        'proc-title-template "{title} {listen-addr} {server-mode} {config-file}"',
    ]
    password = redis_password(redis)
    if password is not None:
        lines.append(f"requirepass {_quote(password)}")
    return lines


def _quote(value: str) -> str:
    """A double-quoted redis.conf argument (Redis unescapes backslashes and quotes in these)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_private(path: Path, text: str) -> None:
    """Readable by the owner only: the file may hold requirepass."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as config:
        config.write(text)
    path.chmod(0o600)


class RedisService(LocalService):
    """redis-server started from a generated redis.conf."""

    name = "redis"
    title = "Redis"

    def __init__(
        self,
        settings: Settings,
        ports: StackPorts,
        state_dir: Path,
        security: StackSecurity | None = None,
    ) -> None:
        self.security = security
        super().__init__(settings, ports, state_dir)

    @property
    def client_settings(self) -> RedisSettings:
        """How the launcher itself connects: as the admin user on the secure stack."""
        redis = self.settings.redis
        return redis if self.security is None else self.security.client_redis(redis, "admin")

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "redis.conf"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "redis.log"

    @property
    def port_roles(self) -> dict[str, int]:
        return {"Redis": self.ports.redis}

    @property
    def endpoint(self) -> str:
        scheme = "redis" if self.security is None else "rediss"
        return f"{scheme}://{BIND_HOST}:{self.ports.redis}"

    def require_installed(self) -> None:
        find_program(self.settings.infra.redis_server, INSTALL_REDIS)

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        lines = redis_config(self.settings.redis, self.ports.redis, self.data_dir, self.log_file)
        if self.security is not None:  # TLS instead of the plain port; ACL users, no requirepass
            plain = ("port ", "requirepass ")
            secure = self.security.redis_config(self.ports.redis)
            lines = [line for line in lines if not line.startswith(plain)] + secure
        _write_private(self.config_file, "\n".join(lines) + "\n")

    def launch(self) -> Launch:
        binary = find_program(self.settings.infra.redis_server, INSTALL_REDIS)
        return Launch(
            argv=[binary, str(self.config_file)],
            env=child_env(),
            cwd=self.home,
            console_log=self.console_log,
            marker=str(self.config_file),
        )

    def probe(self, timeout_s: float) -> bool:
        from stream_sentinel.state.redis import probe_redis

        redis = self.client_settings
        return probe_redis(redis.url, redis_password(redis), timeout_s)
