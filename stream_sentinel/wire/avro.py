"""Avro records on Confluent's wire format (:mod:`stream_sentinel.wire.framing`).

Encoders check every record with a compiled validator before fastavro writes it (fastavro alone
coerces ``"12"`` into a double and drops unknown fields), so a record that does not conform
raises :class:`SerializationError` naming the field and is never produced. The schema id is
resolved once per encoder, on first use.

Decoders go by the writer's schema id, fetched from the registry once per id and cached, and
resolve into the reader schema (a v1 reader reads v2 data and the other way round).
:meth:`AvroDecoder.decode_many` is the detector's batch path: it never raises for a bad record;
it returns the records (``None`` where one failed) and a :class:`DecodeFailure` per failure.
Timestamps decode as epoch-millisecond ints, as the domain uses them.

>>> decoding_schema({"type": "long", "logicalType": "timestamp-millis"})
{'type': 'long'}
>>> record_names({"type": "record", "name": "Transaction", "namespace": "io.x", "aliases": ["Tx"]})
('io.x.Transaction', 'io.x.Tx')
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any, cast

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from stream_sentinel.errors import RegistryError, SerializationError
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.wire.failures import DecodeError, DecodeFailure, Record
from stream_sentinel.wire.framing import HEADER_SIZE, MAGIC_BYTE, frame, header_failure
from stream_sentinel.wire.schemas import compile_validator
from stream_sentinel.wire.schemas.bounds import BoundsCheck, DecodeLimits, UnsafeSchema

_SCHEMA_NOT_FOUND = 40403
_TIME_LOGICAL_TYPES = frozenset(
    {
        "timestamp-millis",
        "timestamp-micros",
        "local-timestamp-millis",
        "local-timestamp-micros",
        "date",
        "time-millis",
        "time-micros",
    }
)

#: How long an unknown schema id is remembered as unknown (a flood of distinct unknown ids
#: must not cost a registry call per id per batch; an id registered meanwhile is seen later).
UNKNOWN_ID_TTL_S = 30.0


def decoding_schema(schema: Any) -> Any:
    """A copy of ``schema`` whose time logical types are dropped: they decode as plain ints."""
    if isinstance(schema, list):
        return [decoding_schema(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: decoding_schema(value) for key, value in schema.items()}
    if copy.get("logicalType") in _TIME_LOGICAL_TYPES:
        del copy["logicalType"]
    return copy


def _identity(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


class AvroEncoder:
    """Validates and encodes records of one schema under one subject."""

    def __init__(
        self,
        registry: SchemaRegistryClient,
        subject: str,
        schema: str,
        *,
        auto_register: bool = True,
    ) -> None:
        self.subject = subject
        self.schema_text = schema
        document = json.loads(schema)
        self._name = document.get("name", "record") if isinstance(document, dict) else "value"
        # Times are validated as ints, so the writer needs no datetime handling (faster).
        self._parsed = parse_schema(decoding_schema(document))
        self._check = compile_validator(document)
        self._registry = registry
        self._auto_register = auto_register
        self._header: bytes | None = None

    @property
    def schema_id(self) -> int:
        """The registry id of the schema (registered or looked up on first use)."""
        return int.from_bytes(self._resolve_header()[1:], "big")

    def _resolve_header(self) -> bytes:
        if self._header is None:
            if self._auto_register:
                schema_id = self._registry.register(self.subject, self.schema_text)
            else:
                schema_id = self._registry.lookup(self.subject, self.schema_text).schema_id
            self._header = frame(schema_id, b"")
        return self._header

    def validate(self, record: Mapping[str, Any]) -> None:
        """Raise SerializationError naming the field when ``record`` does not conform."""
        problem = self._check(record)
        if problem is not None:
            raise SerializationError(
                f"{self._name} record does not conform to its schema (field {problem}); "
                "it was not sent"
            )

    def encode(self, record: Mapping[str, Any]) -> bytes:
        """The framed bytes of one record."""
        self.validate(record)
        stream = BytesIO()
        stream.write(self._header or self._resolve_header())
        self._write(stream, record)
        return stream.getvalue()

    __call__ = encode

    def encode_many(self, records: Iterable[Mapping[str, Any]]) -> list[bytes]:
        """Framed bytes of many records; the first bad one raises (none is returned)."""
        return [self.encode(record) for record in records]

    def _write(self, stream: BytesIO, record: Mapping[str, Any]) -> None:
        try:
            schemaless_writer(stream, self._parsed, record)
        except (TypeError, ValueError, OverflowError) as exc:
            # The validator passed but fastavro disagrees: report it the same way.
            raise SerializationError(
                f"{self._name} record could not be encoded ({exc}); it was not sent"
            ) from None


@dataclass(frozen=True, slots=True)
class _WriterEntry:
    writer: Any
    reader: Any  # None: read as written (same schema, or no reader schema)
    bounds: BoundsCheck
    text: str  # the writer schema as the registry has it


class AvroDecoder:
    """Decodes framed Avro by writer schema id, resolving into ``reader_schema`` when given."""

    def __init__(
        self,
        registry: SchemaRegistryClient,
        reader_schema: str | None = None,
        limits: DecodeLimits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._reader_json = (
            None if reader_schema is None else decoding_schema(json.loads(reader_schema))
        )
        self._reader = None if self._reader_json is None else parse_schema(self._reader_json)
        self._reader_identity = None if self._reader_json is None else _identity(self._reader_json)
        self._reader_names = record_names(self._reader_json)
        self._limits = limits or DecodeLimits()
        self._monotonic = monotonic
        self._writers: dict[int, _WriterEntry] = {}
        # schema id -> (kind, reason, until): ids that cannot be read, remembered a while
        self._unusable: dict[int, tuple[str, str, float]] = {}

    def decode(self, value: bytes | None) -> Record:
        """One record; DecodeError (a SerializationError) says why it failed."""
        records, failures = self.decode_many([value])
        if failures:
            raise DecodeError(failures[0])
        return records[0]  # type: ignore[return-value]

    def decode_many(
        self, values: Sequence[bytes | None]
    ) -> tuple[list[Record | None], list[DecodeFailure]]:
        """Records aligned with ``values`` (None where one failed) and the failures, in order.

        Never raises for a bad value; a registry that cannot be reached does raise
        (ServiceUnavailable), since the values are not at fault.
        """
        records: list[Record | None] = [None] * len(values)
        failures: list[DecodeFailure] = []
        writers, read = self._writers, schemaless_reader
        for index, value in enumerate(values):
            if not value or value[0] != MAGIC_BYTE or len(value) < HEADER_SIZE:
                failures.append(cast(DecodeFailure, header_failure(index, value)))
                continue
            schema_id = int.from_bytes(value[1:HEADER_SIZE], "big")
            entry = writers.get(schema_id) or self._load(schema_id)
            if isinstance(entry, tuple):
                failures.append(DecodeFailure(index, *entry, schema_id))
                continue
            refused = entry.bounds.problem(value, HEADER_SIZE)
            if refused is not None:  # never hand fastavro a record it could crash or hang on
                failures.append(DecodeFailure(index, *refused, schema_id))
                continue
            stream = BytesIO(value)
            stream.seek(HEADER_SIZE)
            try:
                records[index] = cast(Record, read(stream, entry.writer, entry.reader))
            except Exception as exc:  # fastavro raises many unrelated types for corrupt input
                failures.append(DecodeFailure(index, *_body_problem(exc), schema_id))
                continue
            if stream.tell() != len(value):
                records[index] = None
                extra = len(value) - stream.tell()
                failures.append(
                    DecodeFailure(
                        index,
                        "trailing_bytes",
                        f"{extra} bytes left after the record (wrong schema id?)",
                        schema_id,
                    )
                )
        return records, failures

    def _load(self, schema_id: int) -> _WriterEntry | tuple[str, str]:
        """The cached writer of ``schema_id``, or why it cannot be read (remembered a while)."""
        now = self._monotonic()
        known = self._unusable.get(schema_id)
        if known is not None and known[2] > now:
            return known[0], known[1]
        try:
            text = self._registry.schema_by_id(schema_id)
        except RegistryError as exc:
            if exc.error_code != _SCHEMA_NOT_FOUND:
                raise
            return self._refuse(
                schema_id,
                ("unknown_schema_id", f"schema id {schema_id} is not in the registry"),
                now + UNKNOWN_ID_TTL_S,
            )
        try:
            entry = self._writer_entry(schema_id, text)
        except (UnsafeSchema, ForeignSchema) as exc:
            kind = "foreign_schema" if isinstance(exc, ForeignSchema) else "unsafe_schema"
            return self._refuse(schema_id, (kind, f"schema id {schema_id}: {exc}"), math.inf)
        except Exception as exc:  # not JSON, or not Avro (another schema type)
            reason = f"schema id {schema_id} is not Avro: {_short(exc)}"
            return self._refuse(schema_id, ("unreadable_schema", reason), math.inf)
        _bounded(self._writers)[schema_id] = entry
        return entry

    def schema_text(self, schema_id: int) -> str | None:
        """The writer schema of ``schema_id`` when records of it can be read, else None (one
        registry call per id, shared with decoding; misses are remembered as in decode)."""
        entry = self._writers.get(schema_id) or self._load(schema_id)
        return entry.text if isinstance(entry, _WriterEntry) else None

    def _refuse(self, schema_id: int, why: tuple[str, str], until: float) -> tuple[str, str]:
        # an id's schema never changes, so only "not in the registry (yet)" expires
        _bounded(self._unusable)[schema_id] = (*why, until)
        return why

    def _writer_entry(self, schema_id: int, text: str) -> _WriterEntry:
        document = json.loads(text)
        bounds = BoundsCheck(document, self._limits)  # first: it refuses what could crash parsing
        writer_json = decoding_schema(document)
        names = record_names(writer_json)
        if self._reader_names and (not names or names[0] not in self._reader_names):
            found = names[0] if names else "not records"
            raise ForeignSchema(
                f"its records are {found}, not {self._reader_names[0]}; only "
                f"{self._reader_names[0]} records are read from this topic"
            )
        writer = parse_schema(writer_json)
        same = self._reader_identity is None or _identity(writer_json) == self._reader_identity
        return _WriterEntry(writer, None if same else self._reader, bounds, text)


#: The most schema ids a decoder remembers (a flood of distinct ids must not grow memory).
MAX_CACHED_IDS = 10_000


def _bounded(cache: dict[int, Any]) -> dict[int, Any]:
    """``cache``, its oldest half dropped once it holds MAX_CACHED_IDS entries."""
    if len(cache) >= MAX_CACHED_IDS:
        for schema_id in list(cache)[: len(cache) // 2]:
            del cache[schema_id]
    return cache


class ForeignSchema(ValueError):
    """A writer schema of another record type than the reader's (it must not be read as one)."""


def record_names(schema: Any) -> tuple[str, ...]:
    """A record schema's full name and then its aliases (full names); () for anything else."""
    if not isinstance(schema, dict) or schema.get("type") not in ("record", "error"):
        return ()
    name = str(schema.get("name", ""))
    namespace = str(schema.get("namespace", "")) if "." not in name else ""
    qualify = lambda n: n if "." in n or not namespace else f"{namespace}.{n}"  # noqa: E731
    return (qualify(name), *(qualify(str(a)) for a in schema.get("aliases") or ()))


def _body_problem(exc: Exception) -> tuple[str, str]:
    """(kind, reason) of a body fastavro could not read."""
    if isinstance(exc, EOFError):
        return "truncated_body", "the Avro body ends before the record does"
    if isinstance(exc, UnicodeDecodeError):
        return "malformed_body", f"a string is not valid UTF-8 ({exc.reason})"
    if isinstance(exc, SchemaResolutionError):
        return "schema_mismatch", _short(exc)
    return "malformed_body", _short(exc)


def _short(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:197] + "..."
