"""The Schemas page: subjects, versions and their text, a diff, compatibility and a test."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry.client import RegisteredSchema, SchemaRegistryClient


def pretty(schema: str) -> str:
    """The schema text indented (as registered when it is not JSON)."""
    try:
        return json.dumps(json.loads(schema), indent=2)
    except ValueError:
        return schema


def schema_diff(older: RegisteredSchema, newer: RegisteredSchema) -> list[str]:
    """A unified diff of two versions' pretty-printed texts.

    >>> a = RegisteredSchema("s", 1, 1, '{"type": "string"}')
    >>> b = RegisteredSchema("s", 2, 2, '{"type": "long"}')
    >>> schema_diff(a, b)[-3:-1]
    ['-  "type": "string"', '+  "type": "long"']
    """
    return list(
        difflib.unified_diff(
            pretty(older.schema).splitlines(),
            pretty(newer.schema).splitlines(),
            fromfile=f"{older.subject} v{older.version}",
            tofile=f"{newer.subject} v{newer.version}",
            lineterm="",
        )
    )


@dataclass(frozen=True, slots=True)
class SubjectSummary:
    subject: str
    versions: list[int]
    compatibility: str

    def as_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "versions": self.versions,
            "compatibility": self.compatibility,
        }


def subjects(registry: SchemaRegistryClient, prefix: str = "") -> list[SubjectSummary]:
    """Every live subject (under the topic prefix, when one is set) with its level in force."""
    return [
        SubjectSummary(name, registry.versions(name), registry.get_compatibility(name))
        for name in registry.subjects()
        if name.startswith(prefix)
    ]


def test_schema(
    registry: SchemaRegistryClient, subject: str, schema: str
) -> tuple[bool, list[str]]:
    """(compatible, the registry's messages) for ``schema`` against ``subject``'s level."""
    try:
        json.loads(schema)
    except ValueError as exc:
        return False, [f"not JSON: {exc}"]
    try:
        verdict = registry.check_compatibility(subject, schema)
    except RegistryError as exc:
        return False, [str(exc)]
    return verdict.is_compatible, list(verdict.messages)
