"""The start-up checks' address parsing and URL masking (pure; no services)."""

from __future__ import annotations

import pytest

from stream_sentinel.config import load_settings, shown_url
from stream_sentinel.errors import ServiceUnavailable
from stream_sentinel.ops.preflight import _host_port, _url_host_port, require_services


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9092", ("127.0.0.1", 9092)),
        ("broker-1.example.com:19092", ("broker-1.example.com", 19092)),
        ("SASL_SSL://broker:9093", ("broker", 9093)),
        ("[::1]:9092", ("::1", 9092)),
        ("::1", ("::1", 9092)),
        ("broker", ("broker", 9092)),
    ],
)
def test_bootstrap_addresses(address: str, expected: tuple[str, int]) -> None:
    assert _host_port(address, 9092) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379", ("127.0.0.1", 6379)),
        ("rediss://:secret@cache.example.com", ("cache.example.com", 6379)),
        ("https://registry.example.com", ("registry.example.com", 443)),
        ("http://127.0.0.1:8081", ("127.0.0.1", 8081)),
    ],
)
def test_service_urls(url: str, expected: tuple[str, int]) -> None:
    assert _url_host_port(url) == expected


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://app:s3cret@cache:6380", "redis://app:***@cache:6380"),
        ("https://user:pw@registry.example.com", "https://user:***@registry.example.com"),
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
        ("memory://demo", "memory://demo"),
    ],
)
def test_passwords_in_urls_are_masked_in_messages(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_a_dead_redis_url_with_a_password_is_reported_without_it() -> None:
    settings = load_settings("test", environ={"SENTINEL_REDIS_URL": "redis://:hunter2@127.0.0.1:1"})
    with pytest.raises(ServiceUnavailable) as caught:
        require_services(settings, kafka=False, registry=False)
    assert str(caught.value) == (
        "cannot reach Redis at redis://:***@127.0.0.1:1 (nothing listens there): start the local "
        "stack with `stream-sentinel infra up`, or set SENTINEL_REDIS_URL to a running one"
    )
