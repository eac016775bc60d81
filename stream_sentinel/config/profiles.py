"""The environment profiles and the values each applies under the environment."""

from __future__ import annotations

from typing import Any, Literal

Profile = Literal["development", "staging", "production", "test"]
PROFILES: tuple[Profile, ...] = ("development", "staging", "production", "test")

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
