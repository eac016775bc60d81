"""The bundled Avro schemas: which file holds which record, version and topic.

Every schema is registered under ``<topic>-value`` (Confluent's TopicNameStrategy), the topic name
carrying the deployment's prefix. Files are read and parsed once per process and cached.

>>> latest_for_topic("transactions").version
2
>>> value_subject("fraud-scores", Topics("t1-"))
't1-fraud-scores-value'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, cast

from fastavro import parse_schema

from stream_sentinel.errors import SchemaError
from stream_sentinel.transport import topics as layout
from stream_sentinel.transport.topics import Topics

NAMESPACE = "io.streamsentinel"


@dataclass(frozen=True, slots=True)
class BundledSchema:
    """One .avsc file of the package: a record name, its version and the topic it travels on."""

    name: str
    version: int
    topic: str
    filename: str

    @property
    def full_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    @property
    def text(self) -> str:
        """The file's text, exactly as shipped (what `schemas register` sends)."""
        return _read(self.filename)

    @property
    def json(self) -> dict[str, Any]:
        """The schema as a JSON object (a fresh copy: callers may modify it)."""
        document: dict[str, Any] = json.loads(self.text)
        return document

    @property
    def parsed(self) -> dict[str, Any]:
        """fastavro's parsed form, cached (for writers and validators)."""
        return _parsed(self.filename)

    def subject(self, topics: Topics) -> str:
        """The registry subject this schema belongs to in one deployment."""
        return value_subject(self.topic, topics)


#: Registration order: Transaction v1 before v2, so v2 is checked against v1.
CATALOG: tuple[BundledSchema, ...] = (
    BundledSchema("Transaction", 1, layout.TRANSACTIONS, "transaction.v1.avsc"),
    BundledSchema("Transaction", 2, layout.TRANSACTIONS, "transaction.v2.avsc"),
    BundledSchema("FraudScore", 1, layout.FRAUD_SCORES, "fraud_score.avsc"),
    BundledSchema("FraudScore", 2, layout.FRAUD_SCORES, "fraud_score.v2.avsc"),
    BundledSchema("FraudAlert", 1, layout.FRAUD_ALERTS, "fraud_alert.avsc"),
    BundledSchema("UserAction", 1, layout.USER_ACTIONS, "user_action.avsc"),
    BundledSchema("Feedback", 1, layout.FRAUD_FEEDBACK, "feedback.avsc"),
    BundledSchema("DeadLetter", 1, layout.DEAD_LETTER, "dead_letter.avsc"),
    BundledSchema("DeadLetter", 2, layout.DEAD_LETTER, "dead_letter.v2.avsc"),
    BundledSchema("ModelEvent", 1, layout.MODEL_EVENTS, "model_event.avsc"),
    BundledSchema("ModelEvent", 2, layout.MODEL_EVENTS, "model_event.v2.avsc"),
    BundledSchema("DecisionFeatures", 1, layout.DECISION_FEATURES, "decision_features.avsc"),
    BundledSchema("DecisionFeatures", 2, layout.DECISION_FEATURES, "decision_features.v2.avsc"),
    BundledSchema("DriftEvent", 1, layout.DRIFT_EVENTS, "drift_event.avsc"),
)

#: Logical topics that carry records of a bundled schema.
DATA_TOPICS: tuple[str, ...] = tuple(dict.fromkeys(schema.topic for schema in CATALOG))


def value_subject(logical_topic: str, topics: Topics) -> str:
    """``<prefixed topic>-value``: the TopicNameStrategy subject of a topic's values."""
    return f"{topics.name(logical_topic)}-value"


def latest_for_topic(logical_topic: str) -> BundledSchema:
    """The newest bundled schema of a topic: what producers write."""
    candidates = [schema for schema in CATALOG if schema.topic == logical_topic]
    if not candidates:
        known = ", ".join(DATA_TOPICS)
        raise SchemaError(f"no bundled schema for topic {logical_topic!r}; known topics: {known}")
    return max(candidates, key=lambda schema: schema.version)


def find(name: str, version: int | None = None) -> BundledSchema:
    """A bundled schema by record name (``"Transaction"``) and version (default: the newest)."""
    candidates = [schema for schema in CATALOG if schema.name == name]
    if version is not None:
        candidates = [schema for schema in candidates if schema.version == version]
    if not candidates:
        raise SchemaError(f"no bundled schema {name!r} version {version}")
    return max(candidates, key=lambda schema: schema.version)


@cache
def _read(filename: str) -> str:
    try:
        return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaError(f"bundled schema file {filename} is missing from the package") from None


@cache
def _parsed(filename: str) -> dict[str, Any]:
    return cast(dict[str, Any], parse_schema(json.loads(_read(filename))))
