"""Avro binary for columnar batches, in Confluent's wire format, without a loop per record.

The layout comes from the record's field plan (field order, types, union branch order, enum
symbols), so the bytes are exactly what a per-record Avro writer produces for the same values; a
unit test holds this codec to fastavro's ``schemaless_writer`` byte for byte. Each field is
encoded by its type in the plan: string, double, long or int (any logical type), enum, and
``["null", T]`` unions of those; the caller gives a column per field (how the values are made
is its business), and a field without a column is written as its schema default, as the
generic encoder writes a field a record lacks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from stream_sentinel.errors import SchemaError
from stream_sentinel.wire.binary import default_bytes, varint
from stream_sentinel.wire.framing import frame
from stream_sentinel.wire.schemas.plan import AvroType, Field, RecordPlan
from stream_sentinel.wire.textcodec import Bytes2D, Piece

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


Column = Text[BatchT] | Double[BatchT] | Long[BatchT] | Symbol[BatchT]


@dataclass(frozen=True, slots=True)
class _Var:
    """Variable-width bytes per row: ``data[i, :lengths[i]]``."""

    data: Bytes2D
    lengths: npt.NDArray[np.int64]


Part = bytes | Bytes2D | _Var


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
        return [varint(text.shape[1]), text]
    if not np.all(present[:, 1:] <= present[:, :-1]):  # NUL padding inside: squeeze it out
        order = np.argsort(~present, axis=1, kind="stable")
        text = np.take_along_axis(text, order, axis=1)
    lengths = present.sum(axis=1).astype(np.int64)
    return [varints(lengths), _Var(text, lengths)]


class AvroColumnCodec(Generic[BatchT]):
    """Encodes batches into Confluent-framed Avro records of one record plan."""

    def __init__(
        self, plan: RecordPlan, columns: Mapping[str, Column[BatchT]], schema_id: int
    ) -> None:
        self._header = frame(schema_id, b"")
        missing = [f.name for f in plan.fields if f.name not in columns and not f.has_default]
        if missing:
            raise SchemaError(f"no column for schema fields: {', '.join(missing)}")
        # a field without a column is its default: the same bytes in every row
        self._fields: list[Field | bytes] = [
            f if f.name in columns else default_bytes(f) for f in plan.fields
        ]
        self._columns = columns

    def encode(self, batch: BatchT, rows: int) -> tuple[bytes, npt.NDArray[np.int64]]:
        """All records back to back, and the offsets (rows + 1) where each starts and ends."""
        parts: list[Part] = [self._header]
        for field in self._fields:
            if isinstance(field, bytes):
                parts.append(field)
            else:
                column = self._columns[field.name]
                parts.extend(_encode_field(field.name, field.type, column, batch, rows))
        return _concatenate(parts, rows)

    def records(self, batch: BatchT, rows: int) -> list[bytes]:
        data, offsets = self.encode(batch, rows)
        bounds = offsets.tolist()
        return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _encode_field(
    name: str, avro_type: AvroType, column: Column[Any], batch: Any, rows: int
) -> list[Part]:
    """A column's bytes, chosen by the field's type in the plan."""
    if avro_type.kind == "union":
        return _encode_union(name, avro_type, column, batch, rows)
    kind = avro_type.kind
    if kind == "string" and isinstance(column, Text):
        return strings(column.render(batch), rows)
    if kind == "double" and isinstance(column, Double):
        values = np.ascontiguousarray(column.render(batch), dtype="<f8")
        return [values.view(np.uint8).reshape(rows, 8)]
    if kind in ("long", "int") and isinstance(column, Long):
        return [varints(column.render(batch))]
    if kind == "enum" and isinstance(column, Symbol):
        symbols = list(avro_type.symbols)
        index = np.array([symbols.index(n) for n in column.names], dtype=np.int64)
        return [varints(index[column.render(batch)])]
    raise SchemaError(f"field {name}: cannot encode a {type(column).__name__} column as {kind}")


def _encode_union(
    name: str, avro_type: AvroType, column: Column[Any], batch: Any, rows: int
) -> list[Part]:
    null = avro_type.null_branch
    if len(avro_type.branches) != 2 or null is None:
        raise SchemaError(f'field {name}: only ["null", T] unions are supported')
    value = _encode_field(name, avro_type.branches[1 - null], column, batch, rows)
    present = bytes([2 * (1 - null)])  # the branch index, as a one-byte varint
    is_null_of = getattr(column, "null", None)
    if is_null_of is None:
        return [present, *value]
    is_null = is_null_of(batch)
    branch = np.where(is_null, 2 * null, present[0]).astype(np.uint8)[:, None]
    return [branch, *(_blank(part, is_null, rows) for part in value)]


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
