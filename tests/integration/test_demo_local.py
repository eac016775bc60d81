"""`stream-sentinel demo --backend local` on the session's real stack (Kafka, Redis, registry).

The same scenario as the embedded demo, under a topic prefix, key namespace and consumer groups
of its own; afterwards its topics and keys are gone.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from stream_sentinel.config import Settings
from stream_sentinel.demo.local import tagged_settings
from stream_sentinel.demo.options import DemoOptions
from stream_sentinel.demo.run import run_demo
from stream_sentinel.state.base import Namespace
from stream_sentinel.state.redis import RedisStateStore
from stream_sentinel.transport.kafka import KafkaBroker

pytestmark = pytest.mark.integration


def _topics_with_prefix(settings: Settings, prefix: str) -> list[str]:
    admin = KafkaBroker(settings.kafka).admin()
    try:
        return [name for name in admin.describe_topics() if name.startswith(prefix)]
    finally:
        admin.close()


def test_the_demo_runs_on_the_real_stack_and_cleans_up(settings: Settings, tmp_path: Path) -> None:
    settings = settings.with_overrides(infra={"cache_dir": tmp_path})
    out = io.StringIO()
    options = DemoOptions(duration_s=8, rate=1000, users=2000, seed=4, backend="local")
    summary = run_demo(options, settings, Console(file=out, width=160))
    text = out.getvalue()

    assert summary.info.backend == "local" and summary.info.tag
    assert summary.info.guarantee == "exactly-once"
    assert summary.transactions > 4_000  # about 8 s at 1,000/s
    assert summary.decided == summary.transactions and summary.undecided == 0
    assert summary.dead_letters == 0
    assert sum(summary.alerts.values()) > 0
    assert summary.enforcement.actions.get("OPEN_CASE", 0) > 0
    assert summary.labelled.transactions > 0 and summary.labelled.fraud > 0
    assert 0 < summary.total.caught <= summary.total.injected
    assert summary.latency.count == summary.decided and summary.latency.p50 > 0
    assert f"Kafka {settings.kafka.bootstrap}" in text and "removed the run's topics" in text
    assert "stream-sentinel demo --backend local" not in text  # already on the real stack

    run = tagged_settings(settings, summary.info.tag)
    deadline = time.monotonic() + 20
    while _topics_with_prefix(settings, run.kafka.topic_prefix) and time.monotonic() < deadline:
        time.sleep(0.5)  # topic deletion completes asynchronously on the broker
    assert _topics_with_prefix(settings, run.kafka.topic_prefix) == []
    store = RedisStateStore(run.redis)
    try:
        assert [store.key_count(ns) for ns in Namespace] == [0] * len(Namespace)
    finally:
        store.close()
