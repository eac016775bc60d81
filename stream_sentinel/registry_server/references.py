"""Schema references: ``{"name", "subject", "version"}`` entries naming other registered schemas.

A schema that uses a named type defined elsewhere lists the version that defines it. Resolving a
schema means collecting every schema it needs, transitively, each once, dependencies first, so a
parser can learn their named types before it meets the schema that uses them.

>>> texts = {("money", 1): ('"m"', ()), ("order", 1): ('"o"', (Reference("M", "money", 1),))}
>>> resolution_order((Reference("O", "order", 1),), lambda ref: texts[ref.subject, ref.version])
['"m"', '"o"']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stream_sentinel.registry_server import errors

#: Deeper chains are refused: each level costs a parse, and a cycle would never end.
MAX_REFERENCE_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Reference:
    """A named type's definition: version ``version`` of ``subject``."""

    name: str
    subject: str
    version: int

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


Resolve = Callable[[Reference], tuple[str, tuple[Reference, ...]]]


def parse_references(raw: object) -> tuple[Reference, ...]:
    """References from a request body (None or a list of objects); 422 when malformed."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise errors.unprocessable("'references' must be a list of {name, subject, version}")
    return tuple(_reference(entry) for entry in raw)


def _reference(entry: object) -> Reference:
    if not isinstance(entry, dict):
        raise errors.unprocessable("each reference must be an object {name, subject, version}")
    name, subject, version = entry.get("name"), entry.get("subject"), entry.get("version")
    if not isinstance(name, str) or not name or not isinstance(subject, str) or not subject:
        raise errors.unprocessable("a reference needs a non-empty 'name' and 'subject'")
    if isinstance(version, bool) or not isinstance(version, int):
        raise errors.unprocessable(f"the version of reference {name!r} must be an integer")
    return Reference(name, subject, version)


def stored_references(raw: object) -> tuple[Reference, ...]:
    """References read back from the log: malformed entries are dropped, never fatal."""
    if not isinstance(raw, list):
        return ()
    found = []
    for entry in raw:
        try:
            found.append(_reference(entry))
        except Exception:
            continue
    return tuple(found)


def resolution_order(references: Sequence[Reference], resolve: Resolve) -> list[str]:
    """The texts of every schema ``references`` need, dependencies first, each once."""
    ordered: list[str] = []
    done: set[tuple[str, int]] = set()
    for reference in references:
        _visit(reference, resolve, ordered, done, 0)
    return ordered


def _visit(
    reference: Reference,
    resolve: Resolve,
    ordered: list[str],
    done: set[tuple[str, int]],
    depth: int,
) -> None:
    where = (reference.subject, reference.version)
    if where in done:
        return
    if depth >= MAX_REFERENCE_DEPTH:
        raise errors.invalid_schema(
            f"references nest more than {MAX_REFERENCE_DEPTH} levels deep (or form a cycle) "
            f"at subject '{reference.subject}' version {reference.version}"
        )
    text, nested = resolve(reference)
    for inner in nested:
        _visit(inner, resolve, ordered, done, depth + 1)
    done.add(where)
    ordered.append(text)
