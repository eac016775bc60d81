"""The integration tier's one real stack: Kafka (KRaft) + Redis + the schema registry.

It is started once per session by the same launcher as `stream-sentinel infra up`, on free ports
(never the developer's 9092/6379/8081) with its data in a pytest tmp dir, and stopped at the end
of the session whatever happened. The logs stay in pytest's tmp dir for post-mortems.

Tests take ``settings``: the session stack's settings with a topic prefix and a Redis key namespace
of their own, so they share one stack without seeing each other's data. Tests that stop, purge or
break services start their own stack (see ``stacks.py``) and never touch this one.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator

import pytest

from stream_sentinel.config import Settings
from tests.integration.stacks import isolated_settings, running_stack, sigterm_as_interrupt


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at the session's running stack (profile "test", empty prefixes)."""
    settings = isolated_settings(tmp_path_factory.mktemp("session-stack"))
    with sigterm_as_interrupt(), running_stack(settings):
        yield settings
        # Kafka clients the tests left for the garbage collector go while the broker is up
        # (else librdkafka logs "Connection refused" from them once it has stopped).
        gc.collect()


@pytest.fixture
def settings(stack_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The session stack, with a topic prefix and key namespace unique to this test.

    The tag is derived from the test's id, so it is stable across runs: a failing test's topics
    and keys are easy to find in the logs.
    """
    tag = "t" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    return stack_settings.with_overrides(
        kafka={"topic_prefix": f"{tag}-"}, redis={"key_namespace": tag}
    )
