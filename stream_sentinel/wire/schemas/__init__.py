"""Avro data contracts: the bundled .avsc files, their subjects, their field plans, and a strict
validator."""

from stream_sentinel.wire.schemas.catalog import (
    CATALOG,
    DATA_TOPICS,
    NAMESPACE,
    BundledSchema,
    find,
    latest_for_topic,
    value_subject,
)
from stream_sentinel.wire.schemas.plan import (
    NO_DEFAULT,
    AvroType,
    Field,
    RecordPlan,
    UnplannedSchema,
    bundled_plan,
    compile_plan,
)
from stream_sentinel.wire.schemas.validator import Problem, compile_validator

__all__ = [
    "CATALOG",
    "DATA_TOPICS",
    "NAMESPACE",
    "NO_DEFAULT",
    "AvroType",
    "BundledSchema",
    "Field",
    "Problem",
    "RecordPlan",
    "UnplannedSchema",
    "bundled_plan",
    "compile_plan",
    "compile_validator",
    "find",
    "latest_for_topic",
    "value_subject",
]
