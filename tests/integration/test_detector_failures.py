"""Services dying under the detector: Redis killed -9 and the broker restarted, mid-stream.

These tests break services, so they run on a stack of their own (never the session's).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream_sentinel.config import Settings
from stream_sentinel.infra.stack import Stack
from tests.integration.detector_support import (
    applied_offsets,
    assert_exactly_once,
    create_topics,
    detect,
    finish,
    produce,
    registry_answers,
    transactions,
    wait_until,
)
from tests.integration.stacks import isolated_settings, running_stack


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Settings]]:
    settings = isolated_settings(tmp_path_factory.mktemp("failure-stack"))
    with running_stack(settings) as stack:
        yield stack, settings


def scoped(settings: Settings, tag: str) -> Settings:
    return settings.with_overrides(kafka={"topic_prefix": f"{tag}-"}, redis={"key_namespace": tag})


def test_redis_killed_and_restarted_mid_stream_loses_and_doubles_nothing(
    own_stack: tuple[Stack, Settings], tmp_path: Path
) -> None:
    stack, base = own_stack
    settings = scoped(base, "redis-kill")
    create_topics(settings)
    sent = transactions(40_000, users=3000, seed=5)
    produce(settings, sent[:20_000])
    detector = detect(settings, "--until-idle", "4")
    wait_until(lambda: applied_offsets(settings) > 5000, what="the detector to make progress")
    pid = stack.redis.process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # no shutdown: AOF (everysec) may miss the last second
    produce(settings, sent[20_000:])  # traffic keeps coming while Redis is down
    time.sleep(2)
    stack.up()  # Redis comes back and replays its AOF
    finish(detector, timeout_s=240)
    assert_exactly_once(settings, sent)


def test_broker_restarted_mid_stream_loses_and_doubles_nothing(
    own_stack: tuple[Stack, Settings], tmp_path: Path
) -> None:
    stack, base = own_stack
    # The test profile's 10 s transaction timeout is shorter than a broker restart on a busy
    # machine; an open transaction older than it is aborted by the restarted coordinator, which
    # fences the detector (it exits 1 and a restart resumes exactly once). This test is about a
    # restart within the timeout, so it runs with the production default, 60 s.
    settings = scoped(base, "broker-restart").with_overrides(
        kafka={"transaction_timeout_ms": 60_000}
    )
    create_topics(settings)
    sent = transactions(30_000, users=3000, seed=6)
    produce(settings, sent[:20_000])
    detector = detect(settings, "--until-idle", "6")
    wait_until(lambda: applied_offsets(settings) > 5000, what="the detector to make progress")
    stack.kafka.process.stop(base.infra.stop_timeout_s)
    time.sleep(3)
    stack.up()
    # the test's own producer needs the registry, which answers again once it has reconnected
    wait_until(lambda: registry_answers(settings, sent[0]), what="the registry after the restart")
    produce(settings, sent[20_000:])
    finish(detector, timeout_s=240)
    assert_exactly_once(settings, sent)
