"""Avro binary encoding of single values, one encoder per field type of a field plan.

The fast writers (:mod:`.scorewire`) and the column codecs' constant fields (:mod:`.columnar`)
take their encoders from here, chosen by the type in the record's field plan, so a field's bytes
follow its schema, not its name. Values are what the generic encoder takes, except that an enum
is its symbol's index and a record is a tuple of its fields' values in schema order. Nothing is
validated: these write what the caller built; a unit test holds them to fastavro byte for byte.

>>> from stream_sentinel.wire.schemas import bundled_plan
>>> encode = encoder_for(bundled_plan("FraudScore").field("merchant_id").type)
>>> encode(None), encode("m1")
(b'\\x00', b'\\x02\\x04m1')
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stream_sentinel.errors import SchemaError
from stream_sentinel.wire.schemas.plan import AvroType, Field

Encode = Callable[[Any], bytes]

_DOUBLE = struct.Struct("<d").pack
_FLOAT = struct.Struct("<f").pack
_NULL = b"\x00"
_SMALL = [bytes([2 * n]) for n in range(64)]  # zigzag varints of 0..63: one byte each


def varint(value: int) -> bytes:
    """Avro's zigzag variable-length encoding of a long."""
    zigzag = (value << 1) ^ (value >> 63)
    if zigzag < 128:
        return bytes((zigzag,))
    out = bytearray()
    while zigzag >= 128:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def index(value: int) -> bytes:
    """A small non-negative varint (an enum index, a union branch, a count)."""
    return _SMALL[value] if value < 64 else varint(value)


def string(text: str) -> bytes:
    data = text.encode()
    size = len(data)
    return (_SMALL[size] if size < 64 else varint(size)) + data


def optional_string(text: str | None) -> bytes:
    """A ["null", "string"] union."""
    return _NULL if text is None else b"\x02" + string(text)


def raw_bytes(data: bytes) -> bytes:
    return varint(len(data)) + data


def boolean(value: bool) -> bytes:
    return b"\x01" if value else _NULL


def _null(value: None) -> bytes:
    return b""


_PRIMITIVES: dict[str, Encode] = {
    "null": _null,
    "boolean": boolean,
    "int": varint,
    "long": varint,
    "float": _FLOAT,
    "double": _DOUBLE,
    "bytes": raw_bytes,
    "string": string,
}


def encoder_for(kind: AvroType) -> Encode:
    """The encoder of values of one Avro type (SchemaError: a union of two non-null types)."""
    primitive = _PRIMITIVES.get(kind.kind)
    if primitive is not None:
        return primitive
    if kind.kind == "enum":
        return index
    if kind.kind == "fixed":
        return bytes
    if kind.kind == "union":
        return _nullable(kind)
    if kind.kind == "record" and kind.record is not None:
        return _record(tuple(encoder_for(f.type) for f in kind.record.fields))
    if kind.kind == "array" and kind.items is not None:
        return _array(encoder_for(kind.items))
    if kind.kind == "map" and kind.items is not None:
        return _map(encoder_for(kind.items))
    raise SchemaError(f"no binary encoder for Avro type {kind.kind}")


def default_bytes(field: Field) -> bytes:
    """The bytes of a field's schema default (a field the writer has no value for)."""
    if not field.has_default:
        raise SchemaError(f"field {field.name} has no value and no default")
    kind, value = field.type, field.fresh_default()
    if kind.kind == "union":  # a union's default is of its first branch
        return b"\x00" + encoder_for(kind.branches[0])(_plain(kind.branches[0], value))
    return encoder_for(kind)(_plain(kind, value))


def _plain(kind: AvroType, value: Any) -> Any:
    """A default in the encoders' terms (JSON form: enums by symbol, bytes as code points)."""
    if kind.kind == "enum":
        return kind.symbols.index(value)
    if kind.kind in ("bytes", "fixed"):
        return str(value).encode("latin-1")
    if kind.kind == "record" and kind.record is not None:
        return tuple(_plain(f.type, value.get(f.name, f.default)) for f in kind.record.fields)
    if kind.kind == "array" and kind.items is not None:
        return [_plain(kind.items, item) for item in value]
    if kind.kind == "map" and kind.items is not None:
        return {key: _plain(kind.items, item) for key, item in value.items()}
    return value


def _nullable(kind: AvroType) -> Encode:
    null = kind.null_branch
    if len(kind.branches) != 2 or null is None:
        raise SchemaError("only unions of null and one type have a binary encoder")
    if null == 0 and kind.branches[1].kind == "string":
        return optional_string  # the most common union, written without a closure
    absent, present = index(null), index(1 - null)
    value = encoder_for(kind.branches[1 - null])
    return lambda item: absent if item is None else present + value(item)


def _record(fields: tuple[Encode, ...]) -> Encode:
    if len(fields) == 2:  # a pair (a Contribution): the common nested record, unrolled
        first, second = fields
        return lambda values: first(values[0]) + second(values[1])
    return lambda values: b"".join(map(operator.call, fields, values))


def _array(item: Encode) -> Encode:
    def encode(items: Sequence[Any]) -> bytes:
        if not items:
            return _NULL
        return varint(len(items)) + b"".join([item(value) for value in items]) + _NULL

    return encode


def _map(value: Encode) -> Encode:
    def encode(entries: Mapping[str, Any]) -> bytes:
        if not entries:
            return _NULL
        body = b"".join(string(key) + value(item) for key, item in entries.items())
        return varint(len(entries)) + body + _NULL

    return encode
