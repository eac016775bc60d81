"""Parsing and identity of Avro schema strings sent to the registry.

A schema is accepted when both Apache Avro's parser (names, duplicate fields, enum symbols) and
fastavro's (default values) accept it, and every union default matches the union's first branch
(the Avro specification's rule). Its *identity* ignores whitespace and JSON key order, so the same
schema sent twice, formatted differently, is one schema with one id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import avro.errors
import avro.schema
import fastavro
import fastavro.validation

from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.limits import MAX_JSON_DEPTH, json_depth

SUPPORTED_TYPES = ("AVRO",)


@dataclass(frozen=True, slots=True)
class ParsedSchema:
    """A valid Avro schema: its stored text, identity key and Apache Avro object (for checks)."""

    text: str
    identity: str
    avro: avro.schema.Schema


def parse_schema(
    text: object, schema_type: object = None, references: object = None
) -> ParsedSchema:
    """Validate a schema as sent to the registry; RegistryError 42201 says what is wrong."""
    if schema_type not in (None, "AVRO"):
        raise errors.invalid_schema(
            f"schema type {schema_type!r} is not supported; this registry serves AVRO only"
        )
    if references:
        raise errors.invalid_schema("schema references are not supported by this registry")
    if not isinstance(text, str) or not text.strip():
        raise errors.invalid_schema("the 'schema' field must be a non-empty string")
    if json_depth(text) > MAX_JSON_DEPTH:
        raise errors.invalid_schema(
            f"the schema nests JSON arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
            f"the limit is {MAX_JSON_DEPTH}"
        )
    return _parse(text)


def parse_stored(text: str) -> ParsedSchema:
    """A schema read back from the log: no depth bound, since Confluent may have written it."""
    return _parse(text)


@lru_cache(maxsize=4096)
def _parse(text: str) -> ParsedSchema:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.invalid_schema(f"the schema is not valid JSON ({exc})") from None
    except RecursionError:
        raise errors.invalid_schema("the schema is nested too deeply") from None
    parsed = _parse_avro(document)
    _check_defaults(document)
    compact = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    identity = json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return ParsedSchema(compact, identity, parsed)


def _parse_avro(document: Any) -> avro.schema.Schema:
    try:
        parsed = avro.schema.make_avsc_object(document, avro.schema.Names())
    except (avro.errors.AvroException, TypeError, KeyError, ValueError, AttributeError) as exc:
        raise errors.invalid_schema(str(exc)) from None
    except RecursionError:
        raise errors.invalid_schema("the schema is nested too deeply") from None
    try:
        fastavro.parse_schema(document)
    except Exception as exc:  # fastavro raises several unrelated types for bad schemas
        raise errors.invalid_schema(str(exc)) from None
    return parsed


def _check_defaults(document: Any) -> None:
    """Union defaults must match the first branch (fastavro accepts any branch)."""
    for field in _fields(document):
        branches = field.get("type")
        if not isinstance(branches, list) or "default" not in field or not branches:
            continue
        if not _matches(field["default"], branches[0]):
            raise errors.invalid_schema(
                f"the default of field {field.get('name')!r} must match the first type of its "
                f"union ({json.dumps(branches[0])}), got {json.dumps(field['default'])}"
            )


def _fields(document: Any) -> list[dict[str, Any]]:
    """Every record field, at any depth (named types defined inline included)."""
    found: list[dict[str, Any]] = []
    if isinstance(document, list):
        for branch in document:
            found.extend(_fields(branch))
    elif isinstance(document, dict):
        for field in (
            document.get("fields", []) if document.get("type") in ("record", "error") else []
        ):
            if isinstance(field, dict):
                found.append(field)
                found.extend(_fields(field.get("type")))
        for key in ("items", "values"):
            if key in document:
                found.extend(_fields(document[key]))
    return found


def _matches(default: Any, branch: Any) -> bool:
    if branch == "null":
        return default is None
    if branch in ("bytes", "string"):
        return isinstance(default, str)
    if not isinstance(branch, str):
        return default is not None
    try:
        return bool(fastavro.validation.validate(default, branch, raise_errors=False))
    except Exception:
        return True  # a named type: its own parse already checked the default's shape
