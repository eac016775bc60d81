"""Avro data contracts: the bundled .avsc files, their subjects, and a strict validator."""

from stream_sentinel.wire.schemas.catalog import (
    CATALOG,
    DATA_TOPICS,
    NAMESPACE,
    BundledSchema,
    find,
    latest_for_topic,
    value_subject,
)
from stream_sentinel.wire.schemas.validator import Problem, compile_validator

__all__ = [
    "CATALOG",
    "DATA_TOPICS",
    "NAMESPACE",
    "BundledSchema",
    "Problem",
    "compile_validator",
    "find",
    "latest_for_topic",
    "value_subject",
]
