"""Parsing, identity and canonical form of Avro schema strings sent to the registry.

A schema is accepted when both Apache Avro's parser (names, duplicate fields, enum symbols) and
fastavro's (default values) accept it, and every union default matches the union's first branch
(the Avro specification's rule). Named types may come from referenced schemas: their texts are
parsed first, into the same namespace of names.

Two keys compare schemas. The *identity* (what registering deduplicates on) is the schema as
Apache Avro reads it, attributes that mean nothing for a type dropped (``{"type":"int",
"name":"n"}`` is ``"int"``), JSON key order and whitespace ignored, plus its references. The
*canonical form* is Avro's Parsing Canonical Form (docs, defaults and aliases dropped too): a
lookup that finds no identical schema falls back to it, as Confluent's registry does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import avro.errors
import avro.schema
import fastavro
import fastavro.schema

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.avro_defaults import check_defaults
from stream_sentinel.registry_server.limits import MAX_JSON_DEPTH, json_depth
from stream_sentinel.registry_server.references import Reference

log = logging.getLogger(__name__)
SUPPORTED_TYPES = ("AVRO",)


@dataclass(frozen=True, slots=True)
class ParsedSchema:
    """A schema as the registry keeps it: stored text, comparison keys and its Avro object.

    ``avro`` is None only for a stored schema no parser accepts (see :func:`parse_stored`).
    """

    text: str
    identity: str
    canonical: str
    avro: avro.schema.Schema | None
    references: tuple[Reference, ...] = ()


def parse_schema(
    text: object,
    schema_type: object = None,
    references: tuple[Reference, ...] = (),
    resolved: Sequence[str] = (),
) -> ParsedSchema:
    """Validate a schema as sent to the registry; RegistryError 42201 says what is wrong.

    ``resolved`` holds the texts of every schema ``references`` need, dependencies first.
    """
    if schema_type not in (None, "AVRO"):
        raise errors.invalid_schema(
            f"schema type {schema_type!r} is not supported; this registry serves AVRO only"
        )
    if text is None or (isinstance(text, str) and not text.strip()):
        raise errors.empty_schema()
    if not isinstance(text, str):
        raise errors.invalid_schema("the 'schema' field must be a non-empty string")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise errors.invalid_schema(
            f"the schema nests JSON arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
            f"the limit is {MAX_JSON_DEPTH}"
        )
    return _parse(text, references, tuple(resolved), strict=True)


def parse_stored(
    text: str, references: tuple[Reference, ...] = (), resolved: Sequence[str] = ()
) -> ParsedSchema:
    """A schema read back from the log, never refused: the log is the truth.

    Another registry (or an older one) may have stored what today's checks refuse, such as a
    legacy name. It is read leniently; one that no parser accepts keeps its JSON as identity and
    takes no part in compatibility checks. Either way it is logged once.
    """
    try:
        return _parse(text, references, tuple(resolved), strict=True)
    except RegistryError as strict_failure:
        return _lenient(text, references, tuple(resolved), str(strict_failure))


@lru_cache(maxsize=1024)
def _lenient(
    text: str, references: tuple[Reference, ...], resolved: tuple[str, ...], why: str
) -> ParsedSchema:
    try:
        parsed = _parse(text, references, resolved, strict=False)
        log.warning("a stored schema fails today's validation (%s); accepted as stored", why)
        return parsed
    except RegistryError:
        log.warning("a stored schema is not valid Avro (%s); kept, but never compared", why)
    identity = _identity_of_text(text, references)
    return ParsedSchema(text, identity, identity, None, references)


def _identity_of_text(text: str, references: tuple[Reference, ...]) -> str:
    try:
        document: Any = json.loads(text)
    except (ValueError, RecursionError):
        document = text
    return _keyed(document, references)


@lru_cache(maxsize=4096)
def _parse(
    text: str, references: tuple[Reference, ...], resolved: tuple[str, ...], strict: bool
) -> ParsedSchema:
    document = _json(text)
    names, named = _referenced_names(resolved, strict)
    ref_names = avro.schema.Names()
    for ref_schema in list(names.names.values()):
        ref_schema.to_json(ref_names)
    parsed = _parse_avro(document, names, named, strict)
    if strict:
        check_defaults(document)
    compact = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    identity = _keyed(parsed.to_json(ref_names), references)
    canonical = _keyed(_canonical(document, named), references)
    return ParsedSchema(compact, identity, canonical, parsed, references)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.invalid_schema(f"the schema is not valid JSON ({exc})") from None
    except RecursionError:
        raise errors.invalid_schema("the schema is nested too deeply") from None


def _referenced_names(
    resolved: tuple[str, ...], strict: bool
) -> tuple[avro.schema.Names, dict[str, Any]]:
    """The named types the referenced schemas define, for both parsers."""
    names = avro.schema.Names(validate_names=strict)
    named: dict[str, Any] = {}
    for text in resolved:
        try:
            _parse_avro(_json(text), names, named, strict)
        except RegistryError as exc:
            raise errors.invalid_schema(f"a referenced schema is invalid: {exc}") from None
    return names, named


def _parse_avro(
    document: Any, names: avro.schema.Names, named: dict[str, Any], strict: bool
) -> avro.schema.Schema:
    try:
        parsed = avro.schema.make_avsc_object(document, names, validate_names=strict)
    except (avro.errors.AvroException, TypeError, KeyError, ValueError, AttributeError) as exc:
        raise errors.invalid_schema(str(exc)) from None
    except RecursionError:
        raise errors.invalid_schema("the schema is nested too deeply") from None
    try:
        fastavro.parse_schema(document, named, _ignore_default_error=not strict)
    except Exception as exc:  # fastavro raises several unrelated types for bad schemas
        raise errors.invalid_schema(str(exc)) from None
    return parsed


def _canonical(document: Any, named: dict[str, Any]) -> Any:
    try:
        parsed = fastavro.parse_schema(document, dict(named), _ignore_default_error=True)
        return json.loads(fastavro.schema.to_parsing_canonical_form(parsed))
    except Exception:  # the strict parse has already accepted it; lenient ones may not
        return document


def _keyed(document: Any, references: tuple[Reference, ...]) -> str:
    keyed = {"schema": document, "references": [ref.as_json() for ref in references]}
    return json.dumps(keyed, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
