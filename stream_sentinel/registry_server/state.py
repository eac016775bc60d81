"""The registry's state and the keyed log records it is rebuilt from.

Every change is a keyed record in the compacted ``_schemas`` topic, in Confluent's layout:

- ``{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}`` -> ``{"subject","version","id",
  "schema","deleted"}``; a tombstone (null value) is a hard delete;
- ``{"keytype":"CONFIG","subject":S|null,"magic":0}`` -> ``{"compatibilityLevel": L}``;
- ``{"keytype":"MODE","subject":S|null,"magic":0}`` -> ``{"mode": M}``; null value: removed;
- ``{"keytype":"NOOP","magic":0}`` -> ``{"leader": URL}`` (ours, in a key Confluent ignores): the
  leader announcing itself, so followers know where to forward writes;
- ``{"keytype":"ID_WATERMARK","magic":0}`` -> ``{"max_id": N}`` (ours): compaction may remove the
  last record that used the highest id after a hard delete, and ids are never reused.

Compaction keeps the latest value per key, which is exactly the state, so replaying the topic
from the start rebuilds it. :meth:`RegistryState.apply` is the only way state changes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.registry_server.compatibility import Level
from stream_sentinel.registry_server.references import Reference, stored_references

log = logging.getLogger(__name__)

LogRecord = tuple[bytes, bytes | None]


@dataclass(slots=True)
class VersionEntry:
    """One version of a subject: which schema id it points at and whether it is soft-deleted."""

    subject: str
    version: int
    schema_id: int
    deleted: bool = False
    references: tuple[Reference, ...] = ()


@dataclass(slots=True)
class RegistryState:
    """Subjects, versions, schemas by id, configs and modes, as applied from the log."""

    schemas: dict[int, str] = field(default_factory=dict)
    schema_references: dict[int, tuple[Reference, ...]] = field(default_factory=dict)
    subjects: dict[str, dict[int, VersionEntry]] = field(default_factory=dict)
    configs: dict[str | None, Level] = field(default_factory=dict)
    modes: dict[str | None, str] = field(default_factory=dict)
    max_id: int = 0
    leader: str | None = None

    @property
    def mode(self) -> str:
        """The global mode."""
        return self.modes.get(None, "READWRITE")

    def apply(self, key: bytes, value: bytes | None) -> None:
        """Apply one log record; malformed or unknown records are skipped with a warning."""
        try:
            parsed_key = json.loads(key)
            parsed_value = None if value is None else json.loads(value)
            self._apply(parsed_key, parsed_value)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("skipping malformed _schemas record %r: %s", key[:200], exc)

    def _apply(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        kind = key.get("keytype")
        if kind == "SCHEMA":
            self._apply_schema(str(key["subject"]), int(key["version"]), value)
        elif kind == "CONFIG":
            self._apply_config(key.get("subject"), value)
        elif kind == "MODE":
            self._apply_mode(key.get("subject"), value)
        elif kind == "ID_WATERMARK" and value is not None:
            self.max_id = max(self.max_id, int(value["max_id"]))
        elif kind == "NOOP":
            self.leader = None if value is None else value.get("leader")
        elif kind not in ("DELETE_SUBJECT", "CLEAR_SUBJECT"):
            log.warning("skipping _schemas record of unknown keytype %r", kind)

    def _apply_schema(self, subject: str, version: int, value: dict[str, Any] | None) -> None:
        versions = self.subjects.setdefault(subject, {})
        if value is None:
            removed = versions.pop(version, None)
            if not versions:
                del self.subjects[subject]
            if removed is not None:
                self._forget_unused(removed.schema_id)
            return
        schema_id = int(value["id"])
        references = stored_references(value.get("references"))
        self.schemas[schema_id] = str(value["schema"])
        self.schema_references[schema_id] = references
        deleted = bool(value.get("deleted"))
        versions[version] = VersionEntry(subject, version, schema_id, deleted, references)
        self.max_id = max(self.max_id, schema_id)

    def _apply_mode(self, subject: str | None, value: dict[str, Any] | None) -> None:
        if value is None:
            self.modes.pop(subject, None)
        else:
            self.modes[subject] = str(value["mode"])

    def _apply_config(self, subject: str | None, value: dict[str, Any] | None) -> None:
        if value is None:
            self.configs.pop(subject, None)
        else:
            self.configs[subject] = Level(value["compatibilityLevel"])

    def _forget_unused(self, schema_id: int) -> None:
        if not any(entry.schema_id == schema_id for entry in self.entries()):
            self.schemas.pop(schema_id, None)
            self.schema_references.pop(schema_id, None)

    def entries(self) -> list[VersionEntry]:
        """Every version of every subject, soft-deleted ones included."""
        return [entry for versions in self.subjects.values() for entry in versions.values()]


def _encode(document: dict[str, Any]) -> bytes:
    # A fixed construction order and compact separators: equal keys are equal bytes (compaction).
    return json.dumps(document, separators=(",", ":")).encode()


def schema_record(entry: VersionEntry, text: str) -> LogRecord:
    key = {"keytype": "SCHEMA", "subject": entry.subject, "version": entry.version, "magic": 1}
    value: dict[str, Any] = {
        "subject": entry.subject,
        "version": entry.version,
        "id": entry.schema_id,
        "schema": text,
        "deleted": entry.deleted,
    }
    if entry.references:
        value["references"] = [reference.as_json() for reference in entry.references]
    return _encode(key), _encode(value)


def schema_tombstone(subject: str, version: int) -> LogRecord:
    key = {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}
    return _encode(key), None


def config_record(subject: str | None, level: Level | None) -> LogRecord:
    key = {"keytype": "CONFIG", "subject": subject, "magic": 0}
    return _encode(key), None if level is None else _encode({"compatibilityLevel": level.value})


def mode_record(mode: str | None, subject: str | None = None) -> LogRecord:
    key = _encode({"keytype": "MODE", "subject": subject, "magic": 0})
    return key, None if mode is None else _encode({"mode": mode})


def leader_record(url: str) -> LogRecord:
    return _encode({"keytype": "NOOP", "magic": 0}), _encode({"leader": url})


def watermark_record(max_id: int) -> LogRecord:
    return _encode({"keytype": "ID_WATERMARK", "magic": 0}), _encode({"max_id": max_id})
