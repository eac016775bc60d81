"""The seven compatibility levels, decided by Apache Avro's own reader/writer checker.

BACKWARD: the new schema (as reader) reads data written with the old one. FORWARD: the old
schema reads data written with the new one. FULL: both. The plain levels compare with the latest
live version only; the ``_TRANSITIVE`` ones with every live version. Messages follow Confluent's
verbose format (``{errorType:..., description:...}``, ``{oldSchemaVersion: N}``, ...).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import avro.schema
from avro.compatibility import (
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
    SchemaIncompatibilityType,
)

from stream_sentinel.registry_server import errors


class Level(enum.StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @classmethod
    def parse(cls, value: object) -> Level:
        """A level from user input (any case); RegistryError 42203 otherwise."""
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        raise errors.invalid_compatibility(value)

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def without_transitivity(self) -> Level:
        """The same direction(s), against the latest version only."""
        return Level(self.value.removesuffix("_TRANSITIVE"))

    @property
    def backward(self) -> bool:
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        return self.value.startswith(("FORWARD", "FULL"))


DEFAULT_LEVEL = Level.BACKWARD


@dataclass(frozen=True, slots=True)
class PreviousVersion:
    """A live version of the subject, as the checker needs it."""

    version: int
    text: str
    avro: avro.schema.Schema


def check(
    level: Level, candidate: avro.schema.Schema, previous: Sequence[PreviousVersion]
) -> list[str]:
    """Messages explaining why ``candidate`` breaks ``level`` (empty: compatible).

    ``previous`` holds the subject's live versions, oldest first.
    """
    if level is Level.NONE or not previous:
        return []
    targets = list(reversed(previous)) if level.transitive else [previous[-1]]
    for old in targets:
        problems = check_pair(level, candidate, old.avro)
        if problems:
            return [
                *problems,
                f"{{oldSchemaVersion: {old.version}}}",
                f"{{oldSchema: '{old.text}'}}",
                f"{{compatibility: '{level.value}'}}",
            ]
    return []


def check_pair(level: Level, candidate: avro.schema.Schema, old: avro.schema.Schema) -> list[str]:
    """Problems between the candidate and one old version under ``level`` (transitivity aside)."""
    problems: list[str] = []
    if level.backward:
        problems += _describe(_compatibility(candidate, old), reader="new", writer="old")
    if level.forward:
        problems += _describe(_compatibility(old, candidate), reader="old", writer="new")
    return problems


def _compatibility(
    reader: avro.schema.Schema, writer: avro.schema.Schema
) -> SchemaCompatibilityResult:
    # A fresh checker each time: it memoizes on object identity.
    return ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)


def _describe(result: SchemaCompatibilityResult, reader: str, writer: str) -> list[str]:
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return []
    kinds = list(dict.fromkeys(result.incompatibilities))
    messages = sorted(result.messages)
    locations = sorted(result.locations)
    if len(result.incompatibilities) == 1:
        text = _DESCRIPTIONS[kinds[0]].format(
            info=messages[0] if messages else "",
            path=locations[0] if locations else "/",
            reader=reader,
            writer=writer,
        )
        return [_entry(kinds[0], text, messages[0] if messages else "")]
    text = (
        f"The {reader} schema cannot read data written with the {writer} schema: "
        f"{'; '.join(messages)} (at {', '.join(locations)})"
    )
    return [_entry(kind, text, "; ".join(messages)) for kind in kinds]


def _entry(kind: SchemaIncompatibilityType, description: str, info: str) -> str:
    return (
        f"{{errorType:'{kind.name.upper()}', description:'{description}', additionalInfo:'{info}'}}"
    )


_DESCRIPTIONS: dict[SchemaIncompatibilityType, str] = {
    SchemaIncompatibilityType.reader_field_missing_default_value: (
        "The field '{info}' at path '{path}' in the {reader} schema has no default value and is "
        "missing in the {writer} schema"
    ),
    SchemaIncompatibilityType.type_mismatch: (
        "The type (path '{path}') of a field in the {reader} schema does not match with the "
        "{writer} schema: {info}"
    ),
    SchemaIncompatibilityType.missing_enum_symbols: (
        "The {reader} schema is missing enum symbols '{info}' at path '{path}' in the {writer} "
        "schema"
    ),
    SchemaIncompatibilityType.missing_union_branch: (
        "The {reader} schema is missing a type inside a union field at path '{path}' in the "
        "{writer} schema: {info}"
    ),
    SchemaIncompatibilityType.name_mismatch: (
        "The name of the schema has changed (path '{path}'): {info}"
    ),
    SchemaIncompatibilityType.fixed_size_mismatch: (
        "The size of FIXED type field at path '{path}' in the {reader} schema does not match "
        "with the {writer} schema: {info}"
    ),
}
