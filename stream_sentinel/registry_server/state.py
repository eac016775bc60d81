"""The registry's state and the keyed log records it is rebuilt from.

Every change is a keyed record in the compacted ``_schemas`` topic, in Confluent's layout:

- ``{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}`` -> ``{"subject","version","id",
  "schema","deleted"}``; a tombstone (null value) is a hard delete;
- ``{"keytype":"CONFIG","subject":S|null,"magic":0}`` -> ``{"compatibilityLevel": L}``;
- ``{"keytype":"MODE","subject":null,"magic":0}`` -> ``{"mode": M}``;
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

log = logging.getLogger(__name__)

LogRecord = tuple[bytes, bytes | None]


@dataclass(slots=True)
class VersionEntry:
    """One version of a subject: which schema id it points at and whether it is soft-deleted."""

    subject: str
    version: int
    schema_id: int
    deleted: bool = False


@dataclass(slots=True)
class RegistryState:
    """Subjects, versions, schemas by id, configs and mode, as applied from the log."""

    schemas: dict[int, str] = field(default_factory=dict)
    subjects: dict[str, dict[int, VersionEntry]] = field(default_factory=dict)
    configs: dict[str | None, Level] = field(default_factory=dict)
    mode: str = "READWRITE"
    max_id: int = 0

    def apply(self, key: bytes, value: bytes | None) -> None:
        """Apply one log record; malformed or unknown records are skipped with a warning."""
        try:
            parsed_key = json.loads(key)
            parsed_value = None if value is None else json.loads(value)
            self._apply(parsed_key, parsed_value)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping malformed _schemas record %r: %s", key[:200], exc)

    def _apply(self, key: dict[str, Any], value: dict[str, Any] | None) -> None:
        kind = key.get("keytype")
        if kind == "SCHEMA":
            self._apply_schema(str(key["subject"]), int(key["version"]), value)
        elif kind == "CONFIG":
            self._apply_config(key.get("subject"), value)
        elif kind == "MODE" and key.get("subject") is None:
            self.mode = "READWRITE" if value is None else str(value["mode"])
        elif kind == "ID_WATERMARK" and value is not None:
            self.max_id = max(self.max_id, int(value["max_id"]))
        elif kind not in ("NOOP", "DELETE_SUBJECT", "MODE"):
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
        self.schemas[schema_id] = str(value["schema"])
        versions[version] = VersionEntry(subject, version, schema_id, bool(value.get("deleted")))
        self.max_id = max(self.max_id, schema_id)

    def _apply_config(self, subject: str | None, value: dict[str, Any] | None) -> None:
        if value is None:
            self.configs.pop(subject, None)
        else:
            self.configs[subject] = Level(value["compatibilityLevel"])

    def _forget_unused(self, schema_id: int) -> None:
        if not any(entry.schema_id == schema_id for entry in self.entries()):
            self.schemas.pop(schema_id, None)

    def entries(self) -> list[VersionEntry]:
        """Every version of every subject, soft-deleted ones included."""
        return [entry for versions in self.subjects.values() for entry in versions.values()]


def _encode(document: dict[str, Any]) -> bytes:
    # A fixed construction order and compact separators: equal keys are equal bytes (compaction).
    return json.dumps(document, separators=(",", ":")).encode()


def schema_record(entry: VersionEntry, text: str) -> LogRecord:
    key = {"keytype": "SCHEMA", "subject": entry.subject, "version": entry.version, "magic": 1}
    value = {
        "subject": entry.subject,
        "version": entry.version,
        "id": entry.schema_id,
        "schema": text,
        "deleted": entry.deleted,
    }
    return _encode(key), _encode(value)


def schema_tombstone(subject: str, version: int) -> LogRecord:
    key = {"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1}
    return _encode(key), None


def config_record(subject: str | None, level: Level | None) -> LogRecord:
    key = {"keytype": "CONFIG", "subject": subject, "magic": 0}
    return _encode(key), None if level is None else _encode({"compatibilityLevel": level.value})


def mode_record(mode: str) -> LogRecord:
    return _encode({"keytype": "MODE", "subject": None, "magic": 0}), _encode({"mode": mode})


def watermark_record(max_id: int) -> LogRecord:
    return _encode({"keytype": "ID_WATERMARK", "magic": 0}), _encode({"max_id": max_id})
