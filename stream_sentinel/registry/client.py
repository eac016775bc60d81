"""What Stream-Sentinel needs from a schema registry, as a small protocol and value types.

Two implementations: :class:`~stream_sentinel.registry.http.HttpRegistryClient` (ours over HTTP,
or Confluent's: only the URL changes) and
:class:`~stream_sentinel.registry_server.local_client.LocalRegistryClient` (in-process,
embedded mode and unit tests). Failures raise :class:`~stream_sentinel.errors.RegistryError`
with Confluent's ``error_code`` (40401 subject not found, 409 incompatible, ...), or
:class:`~stream_sentinel.errors.ServiceUnavailable` when the registry cannot be reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

#: ``version`` argument meaning the newest live version.
LATEST = "latest"


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    """A schema as registered under a subject."""

    subject: str
    version: int
    schema_id: int
    schema: str
    schema_type: str = "AVRO"


@dataclass(frozen=True, slots=True)
class CompatibilityVerdict:
    """The answer of a compatibility check, with the registry's explanation when incompatible."""

    is_compatible: bool
    messages: tuple[str, ...] = field(default_factory=tuple)


class SchemaRegistryClient(Protocol):
    """The registry operations the serde, the CLI and the dashboard use."""

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject`` (idempotent); returns its global id."""

    def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        """The version of ``subject`` holding ``schema`` (40401 / 40403 when absent)."""

    def schema_by_id(self, schema_id: int) -> str:
        """The schema text of a global id (40403 when unknown). Cached: ids are immutable."""

    def get_version(self, subject: str, version: int | str = LATEST) -> RegisteredSchema:
        """One version of a subject, or the latest."""

    def subjects(self) -> list[str]:
        """Live subjects, sorted."""

    def versions(self, subject: str) -> list[int]:
        """Live versions of a subject, ascending."""

    def check_compatibility(
        self, subject: str, schema: str, version: int | str | None = None
    ) -> CompatibilityVerdict:
        """Would ``schema`` be accepted? ``version=None`` checks per the subject's level."""

    def get_compatibility(self, subject: str | None = None) -> str:
        """The level in force for ``subject`` (its own, else the global one)."""

    def set_compatibility(self, level: str, subject: str | None = None) -> str:
        """Set the global level, or a subject's; returns the level set."""

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """Soft-delete a subject (or hard-delete an already soft-deleted one)."""

    def close(self) -> None: ...
