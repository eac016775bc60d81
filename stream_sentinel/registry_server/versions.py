"""Finding a subject's versions in the state, with Confluent's errors when they are not there."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.avro_schema import ParsedSchema
from stream_sentinel.registry_server.compatibility import PreviousVersion
from stream_sentinel.registry_server.state import RegistryState, VersionEntry

log = logging.getLogger(__name__)
MAX_VERSION = 2**31 - 1


def parse_version(spec: object) -> int | None:
    """A version number from a path segment; None means latest. RegistryError 42202 otherwise.

    >>> parse_version("latest"), parse_version("-1"), parse_version("3")
    (None, None, 3)
    """
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


def require_entries(state: RegistryState, subject: str, deleted: bool) -> list[VersionEntry]:
    """The subject's versions, oldest first (soft-deleted ones with ``deleted``); else 40401."""
    versions = state.subjects.get(subject, {})
    entries = [versions[n] for n in sorted(versions) if deleted or not versions[n].deleted]
    if not entries:
        raise errors.subject_not_found(subject)
    return entries


def require_version(
    state: RegistryState, subject: str, number: int | None, deleted: bool
) -> VersionEntry:
    """One version (None: the latest); 40401 without the subject, 40402 without the version."""
    entries = require_entries(state, subject, deleted)
    if number is None:
        return entries[-1]
    for entry in entries:
        if entry.version == number:
            return entry
    raise errors.version_not_found(number)


def previous_versions(
    entries: Iterable[VersionEntry], parsed_of: Callable[[VersionEntry], ParsedSchema]
) -> list[PreviousVersion]:
    """Versions as the compatibility checker takes them, oldest first.

    A stored schema no parser accepts (see ``parse_stored``) cannot be compared, so it is left
    out rather than blocking every later registration.
    """
    previous = []
    for entry in sorted(entries, key=lambda e: e.version):
        parsed = parsed_of(entry)
        if parsed.avro is None:
            log.warning(
                "version %d of %r is not valid Avro; not compared", entry.version, entry.subject
            )
            continue
        previous.append(PreviousVersion(entry.version, parsed.text, parsed.avro))
    return previous
