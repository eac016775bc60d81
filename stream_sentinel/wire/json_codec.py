"""Plain JSON per topic, for interoperability: one UTF-8 JSON object per message, no framing.

Records are checked against the same bundled schema as Avro ones. Unions are written unwrapped
(``"currency": "EUR"``, not Avro-JSON's ``{"string": "EUR"}``); bytes travel as strings of code
points 0-255 (Avro's JSON convention). On read, missing fields take their schema defaults,
integers in float fields become floats, unknown enum symbols take the enum's default and fields
the reader does not know are dropped, so a decoded JSON record has the same shape as a decoded
Avro one (and a newer writer's records stay readable).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from stream_sentinel.errors import SerializationError
from stream_sentinel.wire.failures import EMPTY_VALUE, DecodeError, DecodeFailure, Record
from stream_sentinel.wire.schemas import compile_validator


def _to_json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JsonEncoder:
    """Validates records against a schema and writes them as compact JSON."""

    def __init__(self, schema: str) -> None:
        document = json.loads(schema)
        self._name = document.get("name", "record")
        self._check = compile_validator(document)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        problem = self._check(record)
        if problem is not None:
            raise SerializationError(
                f"{self._name} record does not conform to its schema (field {problem}); "
                "it was not sent"
            )
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=_to_json)
        return text.encode()

    __call__ = encode


class JsonDecoder:
    """Reads JSON objects into records shaped by a reader schema, checking them."""

    def __init__(self, schema: str) -> None:
        self._schema = json.loads(schema)
        self._shape = _Shaper(self._schema)
        self._check = compile_validator(self._schema)

    def decode(self, value: bytes | None) -> Record:
        records, failures = self.decode_many([value])
        if failures:
            raise DecodeError(failures[0])
        return records[0]  # type: ignore[return-value]

    def decode_many(
        self, values: Sequence[bytes | None]
    ) -> tuple[list[Record | None], list[DecodeFailure]]:
        """Records aligned with ``values`` (None where one failed) and the failures."""
        records: list[Record | None] = [None] * len(values)
        failures: list[DecodeFailure] = []
        for index, value in enumerate(values):
            outcome = self._decode_one(value)
            if isinstance(outcome, tuple):
                failures.append(DecodeFailure(index, outcome[0], outcome[1]))
            else:
                records[index] = outcome
        return records, failures

    def _decode_one(self, value: bytes | None) -> Record | tuple[str, str]:
        if not value:
            return EMPTY_VALUE
        try:
            document = json.loads(value)
        except RecursionError:
            return "too_deep", "the JSON document nests too deeply to be read"
        except ValueError as exc:  # not UTF-8, not JSON, or an integer of over 4,300 digits
            return "malformed_json", f"not a UTF-8 JSON document ({_short(exc)})"
        if not isinstance(document, dict):
            return "malformed_json", f"expected a JSON object, got {type(document).__name__}"
        try:
            record = self._shape(self._schema, document)
            _encodable(record)
        except OverflowError:
            return "non_conforming", "a number is too large for a double"
        except UnicodeEncodeError:
            return "malformed_json", "a string holds a lone surrogate (\\ud800-\\udfff escape)"
        problem = self._check(record)
        if problem is not None:
            return "non_conforming", f"field {problem}"
        return cast(Record, record)


def _encodable(value: Any) -> None:
    """Raise UnicodeEncodeError for a string no UTF-8 writer can write (a lone surrogate,
    which a JSON escape can make but UTF-8 bytes cannot)."""
    if isinstance(value, str):
        value.encode()
    elif isinstance(value, dict):
        for key, item in value.items():
            _encodable(key)
            _encodable(item)
    elif isinstance(value, list):
        for item in value:
            _encodable(item)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."


class _Shaper:
    """Schema-directed fixes from JSON to Avro-shaped values (defaults, floats, bytes, enums)."""

    def __init__(self, schema: Any) -> None:
        self._named: dict[str, Any] = {}
        self._collect(schema, "")

    def _collect(self, schema: Any, namespace: str) -> None:
        if isinstance(schema, list):
            for branch in schema:
                self._collect(branch, namespace)
        elif isinstance(schema, dict):
            if schema.get("type") in ("record", "enum", "fixed", "error"):
                full = _full_name(schema, namespace)
                self._named[full] = schema
                self._named[full.rpartition(".")[2]] = schema
                namespace = full.rpartition(".")[0]
            for field in schema.get("fields", []):
                self._collect(field.get("type"), namespace)
            for key in ("items", "values"):
                if key in schema:
                    self._collect(schema[key], namespace)

    def __call__(self, schema: Any, value: Any) -> Any:
        if isinstance(schema, str):
            return self._primitive_or_named(schema, value)
        if isinstance(schema, list):
            return self._union(schema, value)
        return self._complex(schema, value)

    def _primitive_or_named(self, name: str, value: Any) -> Any:
        if name in ("float", "double") and type(value) is int:
            return float(value)
        if name == "bytes" and isinstance(value, str):
            return _latin1(value)
        if name in self._named:
            return self(self._named[name], value)
        return value

    def _union(self, branches: list[Any], value: Any) -> Any:
        if value is None:
            return None
        for branch in branches:
            if branch == "null":
                continue
            shaped = self(branch, value)
            if shaped is not value:
                return shaped
        return value

    def _complex(self, schema: dict[str, Any], value: Any) -> Any:
        kind = schema.get("type")
        if kind in ("record", "error") and isinstance(value, dict):
            return self._record(schema, value)
        if kind == "enum" and isinstance(value, str) and value not in schema["symbols"]:
            return schema.get("default", value)
        if kind == "array" and isinstance(value, list):
            return [self(schema["items"], item) for item in value]
        if kind == "map" and isinstance(value, dict):
            return {key: self(schema["values"], item) for key, item in value.items()}
        if isinstance(kind, str) and kind not in ("record", "error", "enum", "array", "map"):
            return self(kind, value)
        return value

    def _record(self, schema: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
        # Fields the reader does not know are dropped, as Avro resolution does (newer writers).
        shaped: dict[str, Any] = {}
        for field in schema["fields"]:
            name = field["name"]
            if name in value:
                shaped[name] = self(field["type"], value[name])
            elif "default" in field:
                shaped[name] = self(field["type"], _fresh(field["default"]))
        return shaped


def _fresh(default: Any) -> Any:
    # Defaults are shared schema objects: hand out copies.
    return json.loads(json.dumps(default))


def _latin1(text: str) -> bytes | str:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text  # leave it: the validator reports the field


def _full_name(schema: dict[str, Any], namespace: str) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name
