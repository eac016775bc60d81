"""Who may do what on the secure stack's Kafka: one principal per service, least privilege.

Pure data, built from the settings (topic prefix, group ids) the services themselves use: the
topics each reads and writes (``transport/topics.py``), its consumer groups and the prefixes of its
transactional ids. docs/security.md shows the table.

Every topic a service reads or writes it may also describe with its configs (the services
check their topics' layout at start). Nothing else is allowed: the broker runs with
``allow.everyone.if.no.acl.found=false``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from stream_sentinel.clients.kafka_acls import CLUSTER_NAME, AclGrant, Operation
from stream_sentinel.config import Settings
from stream_sentinel.learning.label_consumer import GROUP_ID as FEEDBACK_STORE_GROUP
from stream_sentinel.registry_server.service import election_topic, writer_id
from stream_sentinel.transport.topics import (
    DEAD_LETTER,
    DECISION_FEATURES,
    DRIFT_EVENTS,
    FRAUD_ALERTS,
    FRAUD_FEEDBACK,
    FRAUD_SCORES,
    LAYOUT,
    MODEL_EVENTS,
    SCHEMAS,
    TRANSACTIONS,
    USER_ACTIONS,
)

ADMIN = "admin"
SERVICES = (
    "generator",
    "detector",
    "alerts",
    "learner",
    "drift",
    "experiments",
    "console",
    "registry",
)
#: ``topic(*logical)``: the deployment's (prefixed) topic names.
TopicNames = Callable[..., list[str]]
#: Every SCRAM user the secure stack creates: the services and the admin.
PRINCIPALS = (*SERVICES, ADMIN)


def _topics(principal: str, names: Iterable[str], *operations: Operation) -> list[AclGrant]:
    everything = (*operations, "describe_configs")
    return [AclGrant(principal, "topic", name, op) for name in names for op in everything]


def _groups(principal: str, names: Iterable[str]) -> list[AclGrant]:
    return [AclGrant(principal, "group", name, "read") for name in names]


def _transactions(principal: str, prefixes: Iterable[str]) -> list[AclGrant]:
    return [AclGrant(principal, "transactional_id", p, "write", "prefixed") for p in prefixes]


def service_grants(settings: Settings) -> dict[str, list[AclGrant]]:
    """Each service principal's ACLs (the admin is a super user and needs none)."""
    prefix = settings.kafka.topic_prefix

    def topic(*logical: str) -> list[str]:
        return [prefix + name for name in logical]

    grants = {
        "generator": _topics("generator", topic(TRANSACTIONS, FRAUD_FEEDBACK), "write", "create"),
        "detector": _detector(settings, topic),
        "alerts": [
            *_topics("alerts", topic(FRAUD_ALERTS), "read"),
            *_topics("alerts", topic(USER_ACTIONS, FRAUD_FEEDBACK, DEAD_LETTER), "write"),
            *_groups("alerts", [settings.alerts.group_id]),
            *_transactions("alerts", [f"{prefix}{settings.alerts.group_id}-"]),
        ],
        "learner": [
            *_topics("learner", topic(DECISION_FEATURES, FRAUD_FEEDBACK), "read"),
            *_topics("learner", topic(MODEL_EVENTS), "read", "write", "create"),
            *_groups("learner", [settings.learning.group_id, FEEDBACK_STORE_GROUP]),
            *_transactions("learner", [f"{prefix}learn-", f"{prefix}feedback-store-"]),
        ],
        "drift": [
            *_topics("drift", topic(DECISION_FEATURES, FRAUD_FEEDBACK), "read"),
            *_topics("drift", topic(DRIFT_EVENTS), "write"),
            *_groups("drift", [prefix + settings.drift.group_id]),
            *_transactions("drift", [f"{prefix}drift-"]),
        ],
        "experiments": [
            *_topics("experiments", topic(DECISION_FEATURES, FRAUD_FEEDBACK), "read"),
            # The judge announces promotions; `topics create` made the topic (WRITE: DESCRIBE).
            *_topics("experiments", topic(MODEL_EVENTS), "write"),
            *_groups("experiments", [prefix + settings.experiments.group_id]),
            *_transactions("experiments", [f"{prefix}experiments-"]),
        ],
        "console": _console(topic),
        "registry": _registry(prefix + SCHEMAS),
    }
    return {principal: sorted(set(found)) for principal, found in grants.items()}


def _detector(settings: Settings, topic: TopicNames) -> list[AclGrant]:
    detector, prefix = settings.detector, settings.kafka.topic_prefix
    outputs = topic(FRAUD_SCORES, FRAUD_ALERTS, DECISION_FEATURES, DEAD_LETTER)
    return [
        *_topics("detector", topic(TRANSACTIONS, FRAUD_FEEDBACK, MODEL_EVENTS), "read"),
        *_topics("detector", outputs, "write"),
        *_groups("detector", [detector.group_id, detector.feedback_group_id]),
        *_transactions(
            "detector",
            [f"{prefix}{detector.group_id}-", f"{prefix}{detector.feedback_group_id}-"],
        ),
    ]


def _console(topic: TopicNames) -> list[AclGrant]:
    """Reads everything it shows; writes only what the case desk publishes."""
    return [
        *_topics("console", topic(*LAYOUT), "read"),
        *_topics("console", topic(USER_ACTIONS, FRAUD_FEEDBACK), "write"),
        AclGrant("console", "group", "*", "describe"),
        AclGrant("console", "cluster", CLUSTER_NAME, "describe_configs"),
    ]


def _registry(schemas: str) -> list[AclGrant]:
    own = [schemas, election_topic(schemas)]
    return [
        *_topics("registry", own, "read", "write", "create"),
        *_groups("registry", [f"{election_topic(schemas)}-group"]),
        AclGrant("registry", "transactional_id", writer_id(schemas), "write"),
    ]


def every_grant(settings: Settings) -> list[AclGrant]:
    """All service grants in one sorted list (what the launcher creates)."""
    return sorted(grant for grants in service_grants(settings).values() for grant in grants)
