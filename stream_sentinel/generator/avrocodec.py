"""Avro binary for columnar batches, in Confluent's wire format, without a loop per record.

The layout comes from the record schema (field order, types, enum symbols), so the bytes are
exactly what a per-record Avro writer produces for the same values; a unit test holds this
codec to fastavro's ``schemaless_writer`` byte for byte. Supported field types: string, double,
long (any logical type), enum, map (empty), and ``["null", T]`` unions of those.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from stream_sentinel.errors import SchemaError
from stream_sentinel.generator.textcodec import Bytes2D, Piece

BatchT = TypeVar("BatchT")


@dataclass(frozen=True, slots=True)
class Text(Generic[BatchT]):
    """A string column, rendered as text pieces (NUL bytes are padding); ``null`` marks rows
    that are null (allowed in ``["null", "string"]`` fields)."""

    render: Callable[[BatchT], list[Piece]]
    null: Callable[[BatchT], npt.NDArray[np.bool_]] | None = None


@dataclass(frozen=True, slots=True)
class Double(Generic[BatchT]):
    render: Callable[[BatchT], npt.NDArray[np.float64]]


@dataclass(frozen=True, slots=True)
class Long(Generic[BatchT]):
    render: Callable[[BatchT], npt.NDArray[np.int64]]


@dataclass(frozen=True, slots=True)
class Symbol(Generic[BatchT]):
    """An enum column: codes into ``names``."""

    render: Callable[[BatchT], npt.NDArray[np.integer]]
    names: Sequence[str]


@dataclass(frozen=True, slots=True)
class EmptyMap(Generic[BatchT]):
    pass


Column = Text[BatchT] | Double[BatchT] | Long[BatchT] | Symbol[BatchT] | EmptyMap[BatchT]


@dataclass(frozen=True, slots=True)
class _Var:
    """Variable-width bytes per row: ``data[i, :lengths[i]]``."""

    data: Bytes2D
    lengths: npt.NDArray[np.int64]


Part = bytes | Bytes2D | _Var


def confluent_header(schema_id: int) -> bytes:
    """Magic byte 0 and the schema id, big-endian."""
    return b"\x00" + struct.pack(">I", schema_id)


def varints(values: npt.NDArray[np.integer]) -> Part:
    """Avro ``int``/``long``: zigzag, then 7 bits per byte, low group first."""
    signed = values.astype(np.int64)
    zigzag = ((signed << 1) ^ (signed >> 63)).astype(np.uint64)
    if not len(zigzag) or int(zigzag.max()) < 0x80:  # the common case: one byte each
        return zigzag.astype(np.uint8)[:, None]
    width = -(-int(zigzag.max()).bit_length() // 7)
    data = np.empty((len(zigzag), width), dtype=np.uint8)
    lengths = np.ones(len(zigzag), dtype=np.int64)
    for k in range(width):
        group = zigzag >> np.uint64(7 * k)
        data[:, k] = (group & np.uint64(0x7F)).astype(np.uint8)
        if k:
            lengths += group != 0
    data[np.arange(width)[None, :] < (lengths[:, None] - 1)] |= 0x80
    if int(lengths.min()) == width:
        return data
    return _Var(data, lengths)


def varint_bytes(value: int) -> bytes:
    """One Avro ``long``, zigzag-encoded."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def strings(pieces: Sequence[Piece], rows: int) -> list[Part]:
    """A string's length prefix and bytes, from text pieces."""
    blocks = [
        np.broadcast_to(np.frombuffer(p, np.uint8), (rows, len(p))) if isinstance(p, bytes) else p
        for p in pieces
    ]
    if len(blocks) == 1:
        text = np.asarray(blocks[0])
    elif blocks:
        text = np.concatenate(blocks, axis=1)
    else:
        text = np.zeros((rows, 0), np.uint8)
    present = text != 0
    if present.all():  # fixed width (ids, codes): a constant prefix and plain bytes
        return [varint_bytes(text.shape[1]), text]
    if not np.all(present[:, 1:] <= present[:, :-1]):  # NUL padding inside: squeeze it out
        order = np.argsort(~present, axis=1, kind="stable")
        text = np.take_along_axis(text, order, axis=1)
    lengths = present.sum(axis=1).astype(np.int64)
    return [varints(lengths), _Var(text, lengths)]


class AvroColumnCodec(Generic[BatchT]):
    """Encodes batches into Confluent-framed Avro records of one record schema."""

    def __init__(
        self, schema: Mapping[str, Any], columns: Mapping[str, Column[BatchT]], schema_id: int
    ) -> None:
        if schema.get("type") != "record":
            raise SchemaError("the column codec encodes record schemas only")
        self._header = confluent_header(schema_id)
        self._fields = [(f["name"], f["type"]) for f in schema["fields"]]
        missing = [name for name, _ in self._fields if name not in columns]
        if missing:
            raise SchemaError(f"no column for schema fields: {', '.join(missing)}")
        self._columns = columns

    def encode(self, batch: BatchT, rows: int) -> tuple[bytes, npt.NDArray[np.int64]]:
        """All records back to back, and the offsets (rows + 1) where each starts and ends."""
        parts: list[Part] = [self._header]
        for name, avro_type in self._fields:
            parts.extend(_encode_field(name, avro_type, self._columns[name], batch, rows))
        return _concatenate(parts, rows)

    def records(self, batch: BatchT, rows: int) -> list[bytes]:
        data, offsets = self.encode(batch, rows)
        bounds = offsets.tolist()
        return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _encode_field(
    name: str, avro_type: Any, column: Column[Any], batch: Any, rows: int
) -> list[Part]:
    if isinstance(avro_type, list):
        if len(avro_type) != 2 or avro_type[0] != "null":
            raise SchemaError(f'field {name}: only ["null", T] unions are supported')
        value = _encode_field(name, avro_type[1], column, batch, rows)
        null = getattr(column, "null", None)
        if null is None:
            return [b"\x02", *value]
        is_null = null(batch)
        branch = np.where(is_null, 0, 2).astype(np.uint8)[:, None]
        return [branch, *(_blank(part, is_null, rows) for part in value)]
    kind = avro_type if isinstance(avro_type, str) else avro_type.get("type")
    if kind == "string" and isinstance(column, Text):
        return strings(column.render(batch), rows)
    if kind == "double" and isinstance(column, Double):
        values = np.ascontiguousarray(column.render(batch), dtype="<f8")
        return [values.view(np.uint8).reshape(rows, 8)]
    if kind in ("long", "int") and isinstance(column, Long):
        return [varints(column.render(batch))]
    if kind == "enum" and isinstance(column, Symbol):
        symbols = list(avro_type["symbols"])
        index = np.array([symbols.index(n) for n in column.names], dtype=np.int64)
        return [varints(index[column.render(batch)])]
    if kind == "map" and isinstance(column, EmptyMap):
        return [b"\x00"]
    raise SchemaError(f"field {name}: cannot encode a {type(column).__name__} column as {kind}")


def _blank(part: Part, rows_to_blank: npt.NDArray[np.bool_], rows: int) -> _Var:
    """The part with nothing written in the given rows (a null union branch has no value)."""
    if isinstance(part, bytes):
        data = np.broadcast_to(np.frombuffer(part, np.uint8), (rows, len(part)))
        lengths = np.full(rows, len(part), dtype=np.int64)
    elif isinstance(part, _Var):
        data, lengths = part.data, part.lengths
    else:
        data, lengths = part, np.full(rows, part.shape[1], dtype=np.int64)
    return _Var(np.asarray(data), np.where(rows_to_blank, 0, lengths))


def _concatenate(parts: Sequence[Part], rows: int) -> tuple[bytes, npt.NDArray[np.int64]]:
    widths = [_width(p) for p in parts]
    data = np.empty((rows, sum(widths)), dtype=np.uint8)
    lengths = np.full(
        rows,
        sum(w for p, w in zip(parts, widths, strict=True) if not isinstance(p, _Var)),
        dtype=np.int64,
    )
    keep: npt.NDArray[np.bool_] | None = None
    column = 0
    for part, width in zip(parts, widths, strict=True):
        block = slice(column, column + width)
        if isinstance(part, bytes):
            data[:, block] = np.frombuffer(part, dtype=np.uint8)
        elif isinstance(part, _Var):
            data[:, block] = part.data
            if keep is None:
                keep = np.ones(data.shape, dtype=bool)
            keep[:, block] = np.arange(width)[None, :] < part.lengths[:, None]
            lengths += part.lengths
        else:
            data[:, block] = part
        column += width
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    packed = data.reshape(-1) if keep is None else data[keep]
    return packed.tobytes(), offsets


def _width(part: Part) -> int:
    if isinstance(part, bytes):
        return len(part)
    if isinstance(part, _Var):
        return int(part.data.shape[1])
    return int(part.shape[1])
