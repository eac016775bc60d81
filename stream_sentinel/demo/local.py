"""`demo --backend local`: the same scenario on a running `infra up` stack, kept to itself.

Each run gets a tag (``demo-<time>-<seed>``) that prefixes its topics, its Redis key namespace,
its consumer groups and transactional ids, so it never mixes with the deployment's own data, a
real detector running on the same cluster, or an earlier demo (whose transaction ids it would
repeat). At the end its topics and keys are deleted unless ``--keep`` asks to look at them.
"""

from __future__ import annotations

from stream_sentinel.clients.backends import Backends, RealClients
from stream_sentinel.config import Settings
from stream_sentinel.ops.preflight import require_services
from stream_sentinel.transport.topics import SCHEMAS, Topics
from stream_sentinel.wire.serde import Serde

ALTERNATIVE = "or run the demo on the default embedded backends"


def run_tag(seed: int, now_ms: int) -> str:
    return f"demo-{now_ms // 1000:x}-{seed}"


def tagged_settings(settings: Settings, tag: str) -> Settings:
    """The run's own topic prefix, key namespace and consumer groups."""
    namespace = f"{settings.redis.key_namespace}-{tag}" if settings.redis.key_namespace else tag
    detector = settings.detector
    return settings.with_overrides(
        kafka={"topic_prefix": f"{settings.kafka.topic_prefix}{tag}-"},
        redis={"key_namespace": namespace},
        detector={
            "group_id": f"{tag}-{detector.group_id}",
            "feedback_group_id": f"{tag}-{detector.feedback_group_id}",
        },
        alerts={"group_id": f"{tag}-{settings.alerts.group_id}"},
    )


def require_stack(settings: Settings) -> None:
    """Kafka, Redis and the schema registry must answer now; otherwise say how to start them."""
    require_services(settings, ALTERNATIVE)


def local_pipeline(settings: Settings) -> tuple[Backends, Serde]:
    """Kafka + Redis + the registry, with the run's topics created."""
    require_stack(settings)
    clients = RealClients(settings)
    backends = clients.backends()
    serde = Serde.from_settings(settings, clients.registry())
    create_topics(backends, Topics.from_settings(settings))
    return backends, serde


def create_topics(backends: Backends, topics: Topics) -> None:
    """The layout's data topics (the registry keeps its own ``_schemas``)."""
    wanted = [spec for spec in topics.specs() if spec.name != topics.name(SCHEMAS)]
    backends.broker.admin().create_topics(wanted)


def remove_run_data(backends: Backends, settings: Settings) -> int:
    """Delete the run's topics and every key under its namespace; returns the keys removed."""
    if not settings.redis.key_namespace or not settings.kafka.topic_prefix:
        raise ValueError("refusing to delete data outside a demo run's prefix and namespace")
    topics = Topics.from_settings(settings)
    names = [spec.name for spec in topics.specs() if spec.name != topics.name(SCHEMAS)]
    backends.broker.admin().delete_topics(names)
    return backends.state.clear()
