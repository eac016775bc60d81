"""The registry's writes: registering, importing, deleting, configs and modes.

Every change is decided here from the replica, written to the log, and becomes state only when
the replica applies it (the caller waits for that: read-your-writes). A failed write changes
nothing, every instance applies the same records in the same order, and a restart (replaying the
log) yields the same state. Only the leader writes; writes are serialized by one lock.

>>> core = RegistryCore(MemoryLog())
>>> core.register("payments-value", '"string"').schema_id
1
>>> core.register("refunds-value", '"string"').schema_id  # same schema, other subject: same id
1
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

from stream_sentinel.errors import ProducerFenced, RegistryError
from stream_sentinel.registry.client import RegisteredSchema
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.avro_schema import ParsedSchema
from stream_sentinel.registry_server.compatibility import Level, check
from stream_sentinel.registry_server.follower import Follower, InlineFollower
from stream_sentinel.registry_server.leadership import Leadership, SoleLeader
from stream_sentinel.registry_server.limits import require_storable
from stream_sentinel.registry_server.replica import Replica
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
from stream_sentinel.registry_server.versions import (
    parse_version,
    previous_versions,
    require_version,
)
from stream_sentinel.registry_server.view import RegistryView, referrers

MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT")
__all__ = ["MODES", "RegistryCore", "in_memory_core", "parse_version"]


class RegistryCore(RegistryView):
    """Confluent Schema Registry semantics over a :class:`SchemaLog`.

    Without a ``follower`` the log is read inline and without ``leadership`` this instance is
    the only writer: the embedded registry. The service on Kafka passes a tailing follower and
    an elected leadership.
    """

    def __init__(
        self,
        log: SchemaLog,
        follower: Follower | None = None,
        leadership: Leadership | None = None,
        replica: Replica | None = None,
    ) -> None:
        self._log = log
        replica = replica or Replica()
        super().__init__(replica, follower or InlineFollower(log, replica))
        self._leadership = leadership or SoleLeader()
        self._write_lock = threading.RLock()
        self._follower.sync_to_end()

    @property
    def leadership(self) -> Leadership:
        return self._leadership

    @property
    def follower(self) -> Follower:
        return self._follower

    # -- registering ------------------------------------------------------------------------

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
        with self._write_lock:
            with self._writing() as state:
                self._require_writable(state, subject)
                parsed = self._parse_request(state, schema, schema_type, references)
                if self._mode(state, subject) == "IMPORT":
                    entry = self._imported(state, subject, parsed, schema_id, version)
                else:
                    if schema_id is not None or version is not None:
                        raise errors.not_permitted(
                            "A schema id or version can be given only in IMPORT mode"
                        )
                    existing = self._live_match(state, subject, parsed)
                    if existing is not None:
                        return self._registered_now(state, existing)
                    entry = self._new_version(state, subject, parsed)
                text = state.schemas.get(entry.schema_id, parsed.text)
            self._commit([schema_record(entry, text)])
            return RegisteredSchema(subject, entry.version, entry.schema_id, text)

    def _new_version(
        self, state: RegistryState, subject: str, parsed: ParsedSchema
    ) -> VersionEntry:
        live = [e for e in state.subjects.get(subject, {}).values() if not e.deleted]
        previous = previous_versions(live, lambda e: self._parsed_of(state, e.schema_id))
        assert parsed.avro is not None  # a request's schema is parsed strictly
        problems = check(self._level(state, subject), parsed.avro, previous)
        if problems:
            raise errors.incompatible(subject, problems)
        new_id = self._id_of(state, parsed.identity) or state.max_id + 1
        return VersionEntry(
            subject, _next_version(state, subject), new_id, False, parsed.references
        )

    def _imported(
        self,
        state: RegistryState,
        subject: str,
        parsed: ParsedSchema,
        schema_id: int | None,
        version: int | None,
    ) -> VersionEntry:
        known = self._id_of(state, parsed.identity)
        if schema_id is None:
            schema_id = known or state.max_id + 1
        elif schema_id in state.schemas and known != schema_id:
            raise errors.not_permitted(
                f"Overwrite new schema with id {schema_id} is not permitted."
            )
        version = version or _next_version(state, subject)
        if version in state.subjects.get(subject, {}):
            raise errors.not_permitted(f"Version {version} of subject '{subject}' already exists")
        return VersionEntry(subject, version, schema_id, False, parsed.references)

    # -- deleting ---------------------------------------------------------------------------

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        """Soft delete (live versions), or hard delete (only after a soft delete)."""
        with self._write_lock:
            with self._writing() as state:
                self._require_writable(state, subject)
                records, deleted = _subject_deletion(state, subject, permanent)
            self._commit(records)
            return deleted

    def delete_version(self, subject: str, version: object, permanent: bool = False) -> int:
        """Soft-delete one version, or hard-delete an already soft-deleted one."""
        with self._write_lock:
            with self._writing() as state:
                self._require_writable(state, subject)
                records, number = _version_deletion(state, subject, version, permanent)
            self._commit(records)
            return number

    # -- config and mode --------------------------------------------------------------------

    def set_config(self, level: object, subject: str | None = None) -> Level:
        parsed = Level.parse(level)  # 42203 before 42208, in Confluent's order
        if subject is not None:
            require_valid_subject(subject)
        with self._write_lock:
            self._commit([config_record(subject, parsed)])
        return parsed

    def delete_config(self, subject: str | None = None) -> Level:
        """Remove a subject's level (or reset the global one); returns the level removed."""
        with self._write_lock:
            previous = self.get_config(subject)
            self._commit([config_record(subject, None)])
        return previous

    def set_mode(self, mode: object, force: bool = False, subject: str | None = None) -> str:
        wanted = mode.strip().upper() if isinstance(mode, str) else ""
        if subject is not None:
            require_valid_subject(subject)
        if wanted not in MODES:
            raise errors.invalid_mode(mode)
        with self._write_lock:
            with self._writing() as state:
                has_schemas = state.subjects if subject is None else state.subjects.get(subject)
                if wanted == "IMPORT" and has_schemas and not force:
                    raise errors.not_permitted("Cannot import since found existing subjects")
            self._commit([mode_record(wanted, subject)])
        return wanted

    def delete_mode(self, subject: str) -> str:
        """Remove a subject's mode (it follows the global one again); returns the mode removed."""
        with self._write_lock:
            with self._writing() as state:
                previous = state.modes.get(subject)
            if previous is None:
                raise errors.subject_not_found(subject)  # Confluent's answer here
            self._commit([mode_record(None, subject)])
        return previous

    # -- internals --------------------------------------------------------------------------

    def _writing(self) -> AbstractContextManager[RegistryState]:
        """The state a write decides on: this instance must be the leader, caught up."""
        self._leadership.require_writable()
        return self._replica.reading()

    def _commit(self, records: list[LogRecord]) -> None:
        require_storable(records)
        self._leadership.require_writable()
        try:
            end = self._log.append(records)
        except RegistryError as exc:
            if exc.error_code == errors.STORE_ERROR:
                self._leadership.lost(str(exc), fenced=isinstance(exc.__cause__, ProducerFenced))
            raise
        self._follower.sync(end)

    def _mode(self, state: RegistryState, subject: str) -> str:
        return state.modes.get(subject, state.mode)

    def _require_writable(self, state: RegistryState, subject: str) -> None:
        if self._mode(state, subject) in ("READONLY", "READONLY_OVERRIDE"):
            raise errors.not_permitted(f"Subject {subject} is in read-only mode")

    def _live_match(
        self, state: RegistryState, subject: str, parsed: ParsedSchema
    ) -> VersionEntry | None:
        versions = state.subjects.get(subject, {})
        for number in sorted(versions, reverse=True):
            entry = versions[number]
            if not entry.deleted and self._parsed_of(state, entry.schema_id).identity == (
                parsed.identity
            ):
                return entry
        return None

    def _id_of(self, state: RegistryState, identity: str) -> int | None:
        for schema_id in sorted(state.schemas):
            if self._parsed_of(state, schema_id).identity == identity:
                return schema_id
        return None

    def _registered_now(self, state: RegistryState, entry: VersionEntry) -> RegisteredSchema:
        text = state.schemas[entry.schema_id]
        return RegisteredSchema(entry.subject, entry.version, entry.schema_id, text)


def _next_version(state: RegistryState, subject: str) -> int:
    return max(state.subjects.get(subject, {}), default=0) + 1


def _subject_deletion(
    state: RegistryState, subject: str, permanent: bool
) -> tuple[list[LogRecord], list[int]]:
    versions = state.subjects.get(subject)
    if not versions:
        raise errors.subject_not_found(subject)
    live = [entry for entry in versions.values() if not entry.deleted]
    for entry in versions.values():
        _require_unreferenced(state, entry, live_only=not permanent)
    if not permanent:
        if not live:
            raise errors.subject_soft_deleted(subject)
        return [_soft_deleted(state, entry) for entry in live], [e.version for e in live]
    if live:
        raise errors.subject_not_soft_deleted(subject)
    doomed = sorted(versions)
    records = [schema_tombstone(subject, number) for number in doomed]
    if subject in state.configs:
        records.append(config_record(subject, None))
    if subject in state.modes:
        records.append(mode_record(None, subject))
    return [*records, watermark_record(state.max_id)], doomed


def _version_deletion(
    state: RegistryState, subject: str, version: object, permanent: bool
) -> tuple[list[LogRecord], int]:
    number = parse_version(version)
    if not permanent and number is not None:
        gone = state.subjects.get(subject, {}).get(number)
        if gone is not None and gone.deleted:
            raise errors.version_soft_deleted(subject, number)
    entry = require_version(state, subject, number, deleted=permanent)
    _require_unreferenced(state, entry, live_only=not permanent)
    if not permanent:
        return [_soft_deleted(state, entry)], entry.version
    if not entry.deleted:
        raise errors.version_not_soft_deleted(subject, entry.version)
    records = [schema_tombstone(subject, entry.version), watermark_record(state.max_id)]
    return records, entry.version


def _require_unreferenced(state: RegistryState, entry: VersionEntry, live_only: bool) -> None:
    """A version other schemas reference cannot go: 42206, as Confluent refuses it.

    A soft delete is refused while a live schema references it; a hard delete while any stored
    schema still does, since that schema could no longer be resolved.
    """
    if referrers(state, entry, live_only):
        raise errors.reference_exists(entry.subject, entry.version)


def _soft_deleted(state: RegistryState, entry: VersionEntry) -> LogRecord:
    deleted = VersionEntry(entry.subject, entry.version, entry.schema_id, True, entry.references)
    return schema_record(deleted, state.schemas[entry.schema_id])


def in_memory_core() -> RegistryCore:
    """A registry whose log lives in memory (embedded mode, unit tests)."""
    return RegistryCore(MemoryLog())
