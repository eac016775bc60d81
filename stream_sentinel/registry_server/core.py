"""The registry's rules: subjects, versions, global ids, deletes, compatibility and configs.

Every change is decided here, written to the log, acknowledged, and only then applied to the
in-memory state, so a failed write changes nothing and a restart (replaying the log) yields the
same state. Requests are serialized by one lock; reads are dictionary lookups.

>>> core = RegistryCore(MemoryLog())
>>> core.register("payments-value", '"string"').schema_id
1
>>> core.register("refunds-value", '"string"').schema_id  # same schema, other subject: same id
1
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry.client import CompatibilityVerdict, RegisteredSchema
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.avro_schema import ParsedSchema, parse_schema, parse_stored
from stream_sentinel.registry_server.compatibility import (
    DEFAULT_LEVEL,
    Level,
    PreviousVersion,
    check,
)
from stream_sentinel.registry_server.limits import require_storable
from stream_sentinel.registry_server.state import (
    LogRecord,
    RegistryState,
    VersionEntry,
    config_record,
    mode_record,
    schema_record,
    schema_tombstone,
    watermark_record,
)
from stream_sentinel.registry_server.store import MemoryLog, SchemaLog
from stream_sentinel.registry_server.subjects import require_valid_subject

MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT")
MAX_VERSION = 2**31 - 1
F = TypeVar("F", bound=Callable[..., Any])


def parse_version(spec: object) -> int | None:
    """A version number from a path segment; None means latest. RegistryError 42202 otherwise."""
    text = str(spec).strip()
    if text.lower() == "latest" or text == "-1":
        return None
    try:
        number = int(text)
    except ValueError:
        raise errors.invalid_version(spec) from None
    if not 1 <= number <= MAX_VERSION:
        raise errors.invalid_version(spec)
    return number


def _locked(method: F) -> F:
    @wraps(method)
    def run(self: RegistryCore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return run  # type: ignore[return-value]


class RegistryCore:
    """Confluent Schema Registry semantics over a :class:`SchemaLog`."""

    def __init__(self, log: SchemaLog) -> None:
        self._log = log
        self._lock = threading.RLock()
        self._state = RegistryState()
        self._identities: dict[str, str] = {}  # schema text -> identity (texts never change)
        self.reload()

    @_locked
    def reload(self) -> None:
        """Rebuild the state by replaying the whole log."""
        state = RegistryState()
        for key, value in self._log.read_all():
            state.apply(key, value)
        self._state = state

    # -- reads ------------------------------------------------------------------------------

    @_locked
    def subjects(self, deleted: bool = False, prefix: str = "") -> list[str]:
        return sorted(
            subject
            for subject, versions in self._state.subjects.items()
            if subject.startswith(prefix) and (deleted or _live(versions.values()))
        )

    @_locked
    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        return [entry.version for entry in self._entries(subject, deleted)]

    @_locked
    def get_version(
        self, subject: str, version: object = "latest", deleted: bool = False
    ) -> RegisteredSchema:
        entry = self._find_version(subject, parse_version(version), deleted)
        return self._registered(entry)

    @_locked
    def schema_by_id(self, schema_id: int) -> str:
        text = self._state.schemas.get(schema_id)
        if text is None:
            raise errors.schema_not_found(schema_id)
        return text

    @_locked
    def id_versions(self, schema_id: int, deleted: bool = False) -> list[tuple[str, int]]:
        self.schema_by_id(schema_id)
        return sorted(
            (entry.subject, entry.version)
            for entry in self._state.entries()
            if entry.schema_id == schema_id and (deleted or not entry.deleted)
        )

    @_locked
    def id_subjects(self, schema_id: int, deleted: bool = False) -> list[str]:
        return sorted({subject for subject, _ in self.id_versions(schema_id, deleted)})

    @_locked
    def lookup(
        self,
        subject: str,
        schema: object,
        schema_type: object = None,
        references: object = None,
        deleted: bool = False,
    ) -> RegisteredSchema:
        entries = self._entries(subject, deleted)
        parsed = parse_schema(schema, schema_type, references)
        for entry in reversed(entries):
            if self._identity(entry.schema_id) == parsed.identity:
                return self._registered(entry)
        raise errors.schema_not_found()

    # -- writes -----------------------------------------------------------------------------

    @_locked
    def register(
        self,
        subject: str,
        schema: object,
        schema_type: object = None,
        references: object = None,
        schema_id: int | None = None,
        version: int | None = None,
    ) -> RegisteredSchema:
        """Register a schema (idempotent); 409 when it breaks the subject's compatibility."""
        require_valid_subject(subject)
        self._require_writable(subject)
        parsed = parse_schema(schema, schema_type, references)
        if self._state.mode == "IMPORT":
            return self._import(subject, parsed, schema_id, version)
        if schema_id is not None or version is not None:
            raise errors.not_permitted("A schema id or version can be given only in IMPORT mode")
        existing = self._live_match(subject, parsed)
        if existing is not None:
            return self._registered(existing)
        live = [e for e in self._state.subjects.get(subject, {}).values() if not e.deleted]
        problems = check(self._level(subject), parsed.avro, self._previous(live))
        if problems:
            raise errors.incompatible(subject, problems)
        new_id = self._id_of(parsed.identity) or self._state.max_id + 1
        entry = VersionEntry(subject, self._next_version(subject), new_id)
        self._commit([schema_record(entry, self._state.schemas.get(new_id, parsed.text))])
        return self._registered(entry)

    def _import(
        self, subject: str, parsed: ParsedSchema, schema_id: int | None, version: int | None
    ) -> RegisteredSchema:
        known = self._id_of(parsed.identity)
        if schema_id is None:
            schema_id = known or self._state.max_id + 1
        elif schema_id in self._state.schemas and known != schema_id:
            raise errors.not_permitted(
                f"Overwrite new schema with id {schema_id} is not permitted."
            )
        version = version or self._next_version(subject)
        if version in self._state.subjects.get(subject, {}):
            raise errors.not_permitted(f"Version {version} of subject '{subject}' already exists")
        entry = VersionEntry(subject, version, schema_id)
        self._commit([schema_record(entry, parsed.text)])
        return self._registered(entry)

    @_locked
    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """Soft delete (live versions), or hard delete (only after a soft delete)."""
        self._require_writable(subject)
        versions = self._state.subjects.get(subject)
        if not versions:
            raise errors.subject_not_found(subject)
        live = [entry for entry in versions.values() if not entry.deleted]
        if not permanent:
            if not live:
                raise errors.subject_soft_deleted(subject)
            self._commit([self._soft_deleted(entry) for entry in live])
            return [entry.version for entry in live]
        if live:
            raise errors.subject_not_soft_deleted(subject)
        doomed = sorted(versions)
        records = [schema_tombstone(subject, number) for number in doomed]
        if subject in self._state.configs:
            records.append(config_record(subject, None))
        self._commit([*records, watermark_record(self._state.max_id)])
        return doomed

    @_locked
    def delete_version(self, subject: str, version: object, permanent: bool = False) -> int:
        """Soft-delete one version, or hard-delete an already soft-deleted one."""
        self._require_writable(subject)
        number = parse_version(version)
        if not permanent and number is not None:
            gone = self._state.subjects.get(subject, {}).get(number)
            if gone is not None and gone.deleted:
                raise errors.version_soft_deleted(subject, number)
        entry = self._find_version(subject, number, deleted=permanent)
        if not permanent:
            self._commit([self._soft_deleted(entry)])
            return entry.version
        if not entry.deleted:
            raise errors.version_not_soft_deleted(subject, entry.version)
        self._commit(
            [schema_tombstone(subject, entry.version), watermark_record(self._state.max_id)]
        )
        return entry.version

    # -- compatibility ----------------------------------------------------------------------

    @_locked
    def test_compatibility(
        self,
        subject: str,
        schema: object,
        version: object = None,
        schema_type: object = None,
        references: object = None,
    ) -> CompatibilityVerdict:
        """Check against one version (``version``) or per the subject's level (None)."""
        if version is None:
            parsed = parse_schema(schema, schema_type, references)
            live = [e for e in self._state.subjects.get(subject, {}).values() if not e.deleted]
            problems = check(self._level(subject), parsed.avro, self._previous(live))
            return CompatibilityVerdict(not problems, tuple(problems))
        self._entries(subject, deleted=False)  # 40401 before 42202, as Confluent answers
        number = parse_version(version)
        parsed = parse_schema(schema, schema_type, references)
        target = self._previous([self._find_version(subject, number, deleted=False)])
        # Against one chosen version, transitivity does not apply: check that pair only.
        level = self._level(subject)
        problems = check(level.without_transitivity, parsed.avro, target)
        return CompatibilityVerdict(not problems, tuple(problems))

    # -- config and mode --------------------------------------------------------------------

    @_locked
    def get_config(self, subject: str | None = None, default_to_global: bool = False) -> Level:
        if subject is None:
            return self._state.configs.get(None, DEFAULT_LEVEL)
        level = self._state.configs.get(subject)
        if level is not None:
            return level
        if default_to_global:
            return self._state.configs.get(None, DEFAULT_LEVEL)
        raise errors.subject_config_not_found(subject)

    @_locked
    def set_config(self, level: object, subject: str | None = None) -> Level:
        parsed = Level.parse(level)  # 42203 before 42208, in Confluent's order
        if subject is not None:
            require_valid_subject(subject)
        self._commit([config_record(subject, parsed)])
        return parsed

    @_locked
    def delete_config(self, subject: str | None = None) -> Level:
        """Remove a subject's level (or reset the global one); returns the level removed."""
        previous = self.get_config(subject)
        self._commit([config_record(subject, None)])
        return previous

    @_locked
    def get_mode(self) -> str:
        return self._state.mode

    @_locked
    def set_mode(self, mode: object, force: bool = False) -> str:
        wanted = str(mode).strip().upper() if isinstance(mode, str) else ""
        if wanted not in MODES:
            raise errors.invalid_mode(mode)
        if wanted == "IMPORT" and self._state.subjects and not force:
            raise errors.not_permitted("Cannot import since found existing subjects")
        self._commit([mode_record(wanted)])
        return wanted

    # -- internals --------------------------------------------------------------------------

    def _commit(self, records: list[LogRecord]) -> None:
        require_storable(records)
        try:
            self._log.append(records)
        except RegistryError:
            self.reload()  # part of the batch may have landed: the log is the truth
            raise
        for key, value in records:
            self._state.apply(key, value)

    def _require_writable(self, subject: str) -> None:
        if self._state.mode in ("READONLY", "READONLY_OVERRIDE"):
            raise errors.not_permitted(f"Subject {subject} is in read-only mode")

    def _entries(self, subject: str, deleted: bool) -> list[VersionEntry]:
        versions = self._state.subjects.get(subject, {})
        entries = [versions[n] for n in sorted(versions) if deleted or not versions[n].deleted]
        if not entries:
            raise errors.subject_not_found(subject)
        return entries

    def _find_version(self, subject: str, number: int | None, deleted: bool) -> VersionEntry:
        entries = self._entries(subject, deleted)
        if number is None:
            return entries[-1]
        for entry in entries:
            if entry.version == number:
                return entry
        raise errors.version_not_found(number)

    def _live_match(self, subject: str, parsed: ParsedSchema) -> VersionEntry | None:
        versions = self._state.subjects.get(subject, {})
        for number in sorted(versions, reverse=True):
            entry = versions[number]
            if not entry.deleted and self._identity(entry.schema_id) == parsed.identity:
                return entry
        return None

    def _identity(self, schema_id: int) -> str:
        text = self._state.schemas[schema_id]
        identity = self._identities.get(text)
        if identity is None:
            identity = self._identities[text] = parse_stored(text).identity
        return identity

    def _id_of(self, identity: str) -> int | None:
        for schema_id in self._state.schemas:
            if self._identity(schema_id) == identity:
                return schema_id
        return None

    def _next_version(self, subject: str) -> int:
        return max(self._state.subjects.get(subject, {}), default=0) + 1

    def _level(self, subject: str) -> Level:
        return self.get_config(subject, default_to_global=True)

    def _previous(self, entries: Iterable[VersionEntry]) -> list[PreviousVersion]:
        ordered = sorted(entries, key=lambda entry: entry.version)
        texts = [self._state.schemas[entry.schema_id] for entry in ordered]
        return [
            PreviousVersion(entry.version, text, parse_stored(text).avro)
            for entry, text in zip(ordered, texts, strict=True)
        ]

    def _soft_deleted(self, entry: VersionEntry) -> LogRecord:
        deleted = VersionEntry(entry.subject, entry.version, entry.schema_id, deleted=True)
        return schema_record(deleted, self._state.schemas[entry.schema_id])

    def _registered(self, entry: VersionEntry) -> RegisteredSchema:
        return RegisteredSchema(
            entry.subject, entry.version, entry.schema_id, self._state.schemas[entry.schema_id]
        )


def _live(entries: Iterable[VersionEntry]) -> bool:
    return any(not entry.deleted for entry in entries)


def in_memory_core() -> RegistryCore:
    """A registry whose log lives in memory (embedded mode, unit tests)."""
    return RegistryCore(MemoryLog())
