"""A measurement's own corner of the stack: topics, Redis keys, consumer groups, schema subjects.

Every measurement runs in a fresh workspace named ``bench-<mode>-<random>``: that string is the
topic prefix, the Redis key namespace and the start of every consumer group and transactional
id, so a benchmark never reads, writes or rebalances anything of anyone else's (a developer's
detector in ``fraud-detection-group`` included). :meth:`Workspace.cleanup` deletes the topics,
the keys and the registry subjects again; the empty consumer groups expire on their own.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.transport.base import TopicSpec
from stream_sentinel.transport.topics import Topics

log = logging.getLogger(__name__)
PASSTHROUGH = "bench-passthrough"  # the ceiling's output topic
OUTPUT_PARTITIONS = 12


def require_stack(settings: Settings) -> None:
    """Fail at once, saying what to do, when Kafka, Redis or the registry does not answer."""
    from stream_sentinel.ops.preflight import require_services

    require_services(
        settings, "or let the benchmark start a private one with `bench ... --own-stack`"
    )


@dataclass
class Workspace:
    """Settings confined to one measurement, and what it created, to delete afterwards."""

    tag: str
    settings: Settings
    namespaces: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, base: Settings, mode: str, **detector: Any) -> Workspace:
        tag = f"bench-{mode}-{secrets.token_hex(3)}"
        settings = base.with_overrides(
            kafka={"topic_prefix": f"{tag}-"},
            redis={"key_namespace": tag},
            detector={
                "group_id": f"{tag}-detector",
                "feedback_group_id": f"{tag}-feedback",
                **detector,
            },
        )
        workspace = cls(tag, settings, [tag])
        workspace.create_topics()
        return workspace

    @property
    def topics(self) -> Topics:
        return Topics.from_settings(self.settings)

    @property
    def passthrough_topic(self) -> str:
        return self.topics.name(PASSTHROUGH)

    def create_topics(self) -> None:
        specs = self.topics.specs()
        specs.append(
            TopicSpec(self.passthrough_topic, OUTPUT_PARTITIONS, {"compression.type": "lz4"})
        )
        admin = RealClients(self.settings).admin()
        try:
            admin.create_topics(specs)
        finally:
            admin.close()

    def variant(self, name: str, **detector: Any) -> Settings:
        """The workspace's settings with a key namespace and consumer group of their own."""
        namespace = f"{self.tag}-{name}"
        self.namespaces.append(namespace)
        return self.settings.with_overrides(
            redis={"key_namespace": namespace},
            detector={
                "group_id": namespace,
                "feedback_group_id": f"{namespace}-feedback",
                **detector,
            },
        )

    def cleanup(self) -> None:
        """Delete the topics, keys and subjects; a failure is logged, never raised."""
        for step in (self._delete_topics, self._delete_keys, self._delete_subjects):
            try:
                step()
            except Exception as exc:  # cleanup must not hide the measurement's own outcome
                log.warning("bench cleanup of %s: %s failed: %s", self.tag, step.__name__, exc)

    def _delete_topics(self) -> None:
        admin = RealClients(self.settings).admin()
        try:
            prefix = self.topics.prefix
            names = [name for name in admin.describe_topics(None) if name.startswith(prefix)]
            if names:
                admin.delete_topics(names)
        finally:
            admin.close()

    def _delete_keys(self) -> None:
        for namespace in self.namespaces:
            settings = self.settings.with_overrides(redis={"key_namespace": namespace})
            store = RealClients(settings).state()
            try:
                store.clear()
            finally:
                store.close()

    def _delete_subjects(self) -> None:
        registry = RealClients(self.settings).registry()
        try:
            for subject in registry.subjects():
                if subject.startswith(self.topics.prefix):
                    registry.delete_subject(subject)
                    registry.delete_subject(subject, permanent=True)
        finally:
            registry.close()
