"""The registry's reads: subjects, versions, schemas, configs and modes, from the replica.

Every read first catches up with the log's end (one offset request to Kafka), so a schema
registered through any instance is visible through every other one at once. When Kafka cannot
answer, the read is served from what this instance has already applied.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry.client import CompatibilityVerdict, RegisteredSchema
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.avro_schema import ParsedSchema, parse_schema, parse_stored
from stream_sentinel.registry_server.compatibility import DEFAULT_LEVEL, Level, check
from stream_sentinel.registry_server.follower import Follower
from stream_sentinel.registry_server.references import (
    Reference,
    parse_references,
    resolution_order,
)
from stream_sentinel.registry_server.replica import Replica
from stream_sentinel.registry_server.state import RegistryState, VersionEntry
from stream_sentinel.registry_server.versions import (
    parse_version,
    previous_versions,
    require_entries,
    require_version,
)

log = logging.getLogger(__name__)
#: How long a read waits to catch up before it answers from what this instance has.
READ_SYNC_S = 5.0


@dataclass(frozen=True, slots=True)
class SchemaById:
    """What ``GET /schemas/ids/{id}`` shows: the text and the references it resolves with."""

    schema: str
    references: tuple[Reference, ...] = ()


class RegistryView:
    """Confluent Schema Registry's read operations over a replica of the log."""

    def __init__(self, replica: Replica, follower: Follower) -> None:
        self._replica = replica
        self._follower = follower
        # By id, text and references: an id hard-deleted and imported again may hold another.
        self._parsed: dict[tuple[int, str, tuple[Reference, ...]], ParsedSchema] = {}

    @contextmanager
    def _reading(self) -> Iterator[RegistryState]:
        try:
            self._follower.sync_to_end(READ_SYNC_S)
        except RegistryError as exc:
            log.warning("serving a read from this instance's replica as it is: %s", exc)
        with self._replica.reading() as state:
            yield state

    # -- subjects and versions --------------------------------------------------------------

    def subjects(self, deleted: bool = False, prefix: str = "") -> list[str]:
        with self._reading() as state:
            return sorted(
                subject
                for subject, versions in state.subjects.items()
                if subject.startswith(prefix)
                and (deleted or any(not e.deleted for e in versions.values()))
            )

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        with self._reading() as state:
            return [entry.version for entry in require_entries(state, subject, deleted)]

    def get_version(
        self, subject: str, version: object = "latest", deleted: bool = False
    ) -> RegisteredSchema:
        with self._reading() as state:
            entry = require_version(state, subject, parse_version(version), deleted)
            return _registered(state, entry)

    def references(self, schema_id: int) -> tuple[Reference, ...]:
        with self._replica.reading() as state:
            return state.schema_references.get(schema_id, ())

    def referenced_by(self, subject: str, version: object) -> list[int]:
        """Ids of the live schemas that reference this version (Confluent's ``referencedby``)."""
        with self._reading() as state:
            entry = require_version(state, subject, parse_version(version), deleted=True)
            return referrers(state, entry, live_only=True)

    # -- schemas by id ----------------------------------------------------------------------

    def schema_by_id(self, schema_id: int) -> str:
        return self.schema_with_references(schema_id).schema

    def schema_with_references(self, schema_id: int) -> SchemaById:
        with self._reading() as state:
            text = state.schemas.get(schema_id)
            if text is None:
                raise errors.schema_not_found(schema_id)
            return SchemaById(text, state.schema_references.get(schema_id, ()))

    def id_versions(self, schema_id: int, deleted: bool = False) -> list[tuple[str, int]]:
        with self._reading() as state:
            if schema_id not in state.schemas:
                raise errors.schema_not_found(schema_id)
            return sorted(
                (entry.subject, entry.version)
                for entry in state.entries()
                if entry.schema_id == schema_id and (deleted or not entry.deleted)
            )

    def id_subjects(self, schema_id: int, deleted: bool = False) -> list[str]:
        return sorted({subject for subject, _ in self.id_versions(schema_id, deleted)})

    def list_schemas(
        self, prefix: str = "", deleted: bool = False, latest_only: bool = False
    ) -> list[RegisteredSchema]:
        """``GET /schemas``: every (or each subject's latest) version, by subject and version."""
        with self._reading() as state:
            found = []
            for subject in sorted(s for s in state.subjects if s.startswith(prefix)):
                versions = state.subjects[subject]
                entries = [versions[n] for n in sorted(versions)]
                entries = [e for e in entries if deleted or not e.deleted]
                found += [_registered(state, e) for e in (entries[-1:] if latest_only else entries)]
            return found

    def lookup(
        self,
        subject: str,
        schema: object,
        schema_type: object = None,
        references: object = None,
        deleted: bool = False,
    ) -> RegisteredSchema:
        """The version holding ``schema``: the same schema, else the same canonical form."""
        with self._reading() as state:
            entries = require_entries(state, subject, deleted)
            parsed = self._parse_lookup(state, schema, schema_type, references)
            for key in ("identity", "canonical"):
                for entry in reversed(entries):
                    stored = self._parsed_of(state, entry.schema_id)
                    if getattr(stored, key) == getattr(parsed, key):
                        return _registered(state, entry)
            raise errors.schema_not_found()

    # -- compatibility, config and mode -----------------------------------------------------

    def test_compatibility(
        self,
        subject: str,
        schema: object,
        version: object = None,
        schema_type: object = None,
        references: object = None,
    ) -> CompatibilityVerdict:
        """Check against one version (``version``) or per the subject's level (None)."""
        with self._reading() as state:
            number = None if version is None else parse_version(version)
            parsed = self._parse_request(state, schema, schema_type, references)
            live = [e for e in state.subjects.get(subject, {}).values() if not e.deleted]
            level = self._level(state, subject)
            if version is not None:
                if not live and number is None:
                    return CompatibilityVerdict(True)  # "latest" of nothing: Confluent's answer
                if not live:
                    raise errors.version_not_found(str(number))  # 40402, as Confluent answers
                live = [require_version(state, subject, number, deleted=False)]
                # Against one chosen version, transitivity does not apply: that pair only.
                level = level.without_transitivity
            previous = previous_versions(live, lambda e: self._parsed_of(state, e.schema_id))
            assert parsed.avro is not None  # a request's schema is parsed strictly
            problems = check(level, parsed.avro, previous)
            return CompatibilityVerdict(not problems, tuple(problems))

    def get_config(self, subject: str | None = None, default_to_global: bool = False) -> Level:
        with self._reading() as state:
            if subject is None:
                return state.configs.get(None, DEFAULT_LEVEL)
            level = state.configs.get(subject)
            if level is None and default_to_global:
                level = state.configs.get(None, DEFAULT_LEVEL)
            if level is None:
                raise errors.subject_config_not_found(subject)
            return level

    def get_mode(self, subject: str | None = None, default_to_global: bool = False) -> str:
        with self._reading() as state:
            if subject is None:
                return state.mode
            mode = state.modes.get(subject)
            if mode is None and default_to_global:
                mode = state.mode
            if mode is None:
                raise errors.subject_mode_not_found(subject)
            return mode

    def leader(self) -> str | None:
        """The leader's URL as last announced in the log."""
        with self._replica.reading() as state:
            return state.leader

    # -- parsing, with references resolved --------------------------------------------------

    def _level(self, state: RegistryState, subject: str) -> Level:
        return state.configs.get(subject) or state.configs.get(None, DEFAULT_LEVEL)

    def _parse_request(
        self, state: RegistryState, schema: object, schema_type: object, references: object
    ) -> ParsedSchema:
        refs = _resolved_versions(state, parse_references(references))
        resolved = resolution_order(refs, lambda ref: _definition(state, ref))
        return parse_schema(schema, schema_type, refs, resolved)

    def _parse_lookup(
        self, state: RegistryState, schema: object, schema_type: object, references: object
    ) -> ParsedSchema:
        """A lookup finds stored schemas today's rules refuse (legacy names) as well."""
        try:
            return self._parse_request(state, schema, schema_type, references)
        except RegistryError as strict_failure:
            if not isinstance(schema, str) or strict_failure.error_code != errors.INVALID_SCHEMA:
                raise
            refs = _resolved_versions(state, parse_references(references))
            resolved = resolution_order(refs, lambda ref: _definition(state, ref))
            lenient = parse_stored(schema, refs, resolved)
            if lenient.avro is None:
                raise
            return lenient

    def _parsed_of(self, state: RegistryState, schema_id: int) -> ParsedSchema:
        refs = state.schema_references.get(schema_id, ())
        key = (schema_id, state.schemas[schema_id], refs)
        parsed = self._parsed.get(key)
        if parsed is None:
            try:
                resolved = resolution_order(refs, lambda ref: _definition(state, ref))
            except RegistryError as exc:
                log.warning("schema %d has a broken reference (%s)", schema_id, exc)
                resolved = []
            parsed = parse_stored(state.schemas[schema_id], refs, resolved)
            self._parsed[key] = parsed
        return parsed


def _resolved_versions(
    state: RegistryState, references: tuple[Reference, ...]
) -> tuple[Reference, ...]:
    """References with ``-1`` ("latest") replaced by the version number it means now."""
    fixed = []
    for ref in references:
        if ref.version == -1:
            latest = require_entries(state, ref.subject, deleted=False)[-1].version
            ref = Reference(ref.name, ref.subject, latest)
        fixed.append(ref)
    return tuple(fixed)


def _definition(state: RegistryState, ref: Reference) -> tuple[str, tuple[Reference, ...]]:
    entry = state.subjects.get(ref.subject, {}).get(ref.version)
    if entry is None:
        raise errors.reference_not_found(ref.subject, ref.version)
    return state.schemas[entry.schema_id], entry.references


def referrers(state: RegistryState, target: VersionEntry, live_only: bool) -> list[int]:
    wanted = (target.subject, target.version)
    return sorted(
        {
            entry.schema_id
            for entry in state.entries()
            if (not live_only or not entry.deleted)
            and any((ref.subject, ref.version) == wanted for ref in entry.references)
        }
    )


def _registered(state: RegistryState, entry: VersionEntry) -> RegisteredSchema:
    return RegisteredSchema(
        entry.subject, entry.version, entry.schema_id, state.schemas[entry.schema_id]
    )
