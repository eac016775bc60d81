"""Bounds on untrusted Avro: walk a record's bytes by its writer schema before anything decodes it.

fastavro trusts its input: a recursive schema and a value nested 30,000 deep crash the process
(C recursion), and an array of nulls whose block count is 2^62 loops for ever without reading a
byte (and holds the GIL, so no signal handler runs). This module walks the bytes the way a
decoder would, without building anything, and refuses a record that nests deeper than
``max_depth`` containers or holds more than ``max_items`` array items and map entries in all,
checked before any of them is read, and more than ``10 x max_items`` values in all (a schema
that fans out into empty records reads no bytes for them). It also names what is wrong with a
corrupt record (an enum index or a union branch that does not exist, a negative length, a body
that ends early), which fastavro reports as ``IndexError: list index out of range``. A record
this walk accepts is safe to hand to fastavro: its depth, its size and the work of reading it
are bounded by the limits and by its own length.

The walk is pure Python: it runs on the generic decode path only (records the columnar fast
path does not take), where it costs about as much as fastavro's own decode.

>>> check = BoundsCheck({"type": "record", "name": "R", "fields": [
...     {"name": "tags", "type": {"type": "array", "items": "null"}}]}, DecodeLimits())
>>> check.problem(b"\\x04\\x00", 0) is None  # two nulls, then the end of the array
True
>>> check.problem(b"\\x80\\x80\\x80\\x80\\x80\\x80\\x80\\x80\\x80\\x01\\x00", 0)[0]
'too_large'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The deepest a schema document itself may nest (JSON levels) before it is refused unread.
MAX_SCHEMA_DEPTH = 100

_FIXED_SIZES = {"null": 0, "boolean": 1, "float": 4, "double": 8}
_VARINT = frozenset({"int", "long"})
_LENGTH_PREFIXED = frozenset({"string", "bytes"})


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """How deep and how large one untrusted record may be (settings: SENTINEL_DETECTOR_...)."""

    max_depth: int = 32  # records, arrays and maps nested in one another
    max_items: int = 10_000  # array items and map entries in one record, all together

    @property
    def max_values(self) -> int:
        """Values walked in one record (a schema that fans out into empty records and nulls
        reads no bytes for them, so bytes alone bound nothing)."""
        return 10 * self.max_items


class UnsafeSchema(ValueError):
    """A writer schema this walk will not take (it nests too deep, or is not Avro)."""


class _Refused(Exception):
    """One record is refused: ``kind`` is the dead letter's error type."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


@dataclass(slots=True)
class _Node:
    """One schema type, compiled: ``kind`` and what walking it needs."""

    kind: str
    name: str = ""
    size: int = 0  # fixed size; enum: symbol count
    children: tuple[_Node, ...] = ()
    fields: tuple[tuple[str, _Node], ...] = ()


class BoundsCheck:
    """Walks records of one writer schema (a JSON document) within ``limits``."""

    def __init__(self, schema: Any, limits: DecodeLimits) -> None:
        if _json_depth(schema) > MAX_SCHEMA_DEPTH:
            raise UnsafeSchema(f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels")
        self._limits = limits
        self._root = _Compiler().compile(schema, "")

    def problem(self, data: bytes, start: int) -> tuple[str, str] | None:
        """``(error_type, reason)`` when the record at ``data[start:]`` is refused, else None."""
        walk = _Walk(data, start, self._limits)
        try:
            walk.value(self._root, "", 0)
        except _Refused as refused:
            return refused.kind, refused.reason
        return None


def _json_depth(document: Any) -> int:
    """Nesting depth of a JSON document, counted without recursion."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_SCHEMA_DEPTH:
            return depth
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            stack.extend((child, depth + 1) for child in children)
    return deepest


class _Compiler:
    """Schema JSON -> nodes; named types are shared, so a recursive schema becomes a cycle."""

    def __init__(self) -> None:
        self._named: dict[str, _Node] = {}

    def compile(self, schema: Any, namespace: str) -> _Node:
        if isinstance(schema, str):
            return self._primitive_or_reference(schema, namespace)
        if isinstance(schema, list):
            return _Node("union", children=tuple(self.compile(b, namespace) for b in schema))
        if not isinstance(schema, dict) or "type" not in schema:
            raise UnsafeSchema(f"not an Avro type: {str(schema)[:80]}")
        kind = schema["type"]
        if kind in ("record", "error", "enum", "fixed"):
            return self._named_type(schema, namespace)
        if kind == "array":
            return _Node("array", children=(self.compile(schema.get("items"), namespace),))
        if kind == "map":
            return _Node("map", children=(self.compile(schema.get("values"), namespace),))
        return self.compile(kind, namespace)  # {"type": "long", "logicalType": ...}

    def _primitive_or_reference(self, name: str, namespace: str) -> _Node:
        if name in _FIXED_SIZES or name in _VARINT or name in _LENGTH_PREFIXED:
            return _Node(name)
        for candidate in (f"{namespace}.{name}" if namespace else name, name):
            if candidate in self._named:
                return self._named[candidate]
        raise UnsafeSchema(f"unknown type {name!r}")

    def _named_type(self, schema: dict[str, Any], namespace: str) -> _Node:
        name = str(schema.get("name", ""))
        space = (
            str(schema.get("namespace", namespace)) if "." not in name else name.rpartition(".")[0]
        )
        full = name if "." in name or not space else f"{space}.{name}"
        kind = schema["type"]
        node = _Node("record" if kind == "error" else kind, name=full)
        self._named[full] = node  # before the fields: a field may refer to its own record
        if kind == "enum":
            node.size = len(schema.get("symbols") or ())
        elif kind == "fixed":
            node.size = int(schema.get("size", 0))
        else:
            node.fields = tuple(
                (str(f.get("name")), self.compile(f.get("type"), space))
                for f in schema.get("fields") or ()
            )
        return node


class _Walk:
    """A position in one record's bytes, the depth reached and the items counted so far."""

    def __init__(self, data: bytes, start: int, limits: DecodeLimits) -> None:
        self.data, self.pos, self.end = data, start, len(data)
        self.limits = limits
        self.items = 0
        self.values = 0

    def value(self, node: _Node, field: str, depth: int) -> None:
        self.values += 1
        if self.values > self.limits.max_values:
            raise _Refused(
                "too_large",
                f"more than {self.limits.max_values:,} values in one record "
                "(10 x SENTINEL_DETECTOR_MAX_DECODE_ITEMS)",
            )
        kind = node.kind
        if kind in _VARINT:
            self.long()
        elif kind in _FIXED_SIZES:
            self.take(_FIXED_SIZES[kind])
        elif kind in _LENGTH_PREFIXED:
            self.take(self.length(field))
        elif kind == "record":
            self.enter(depth)
            for name, child in node.fields:
                self.value(child, name, depth + 1)
        elif kind == "union":
            self.value(node.children[self.index(node, field, "union branch")], field, depth)
        elif kind == "enum":
            self.index(node, field, f"enum {node.name} index")
        elif kind == "fixed":
            self.take(node.size)
        else:  # array or map
            self.enter(depth)
            self.blocks(node, field, depth + 1)

    def blocks(self, node: _Node, field: str, depth: int) -> None:
        item = node.children[0]
        while True:
            count = self.long()
            if count == 0:
                return
            if count < 0:  # a negative count is followed by the block's size in bytes
                count = -count
                self.long()
            self.items += count
            if self.items > self.limits.max_items:
                raise _Refused(
                    "too_large",
                    f"field {field or '(root)'}: more than {self.limits.max_items:,} array items "
                    "and map entries in one record (SENTINEL_DETECTOR_MAX_DECODE_ITEMS)",
                )
            for _ in range(count):
                if node.kind == "map":
                    self.take(self.length(field))
                self.value(item, field, depth)

    def enter(self, depth: int) -> None:
        if depth >= self.limits.max_depth:
            raise _Refused(
                "too_deep",
                f"the record nests deeper than {self.limits.max_depth} levels "
                "(SENTINEL_DETECTOR_MAX_DECODE_DEPTH)",
            )

    def index(self, node: _Node, field: str, what: str) -> int:
        index = self.long()
        choices = len(node.children) if node.kind == "union" else node.size
        if not 0 <= index < choices:
            raise _Refused(
                "malformed_body",
                f"field {field or '(root)'}: {what} {index} does not exist "
                f"(it has {choices}: 0..{choices - 1})",
            )
        return index

    def length(self, field: str) -> int:
        size = self.long()
        if size < 0:
            raise _Refused("malformed_body", f"field {field}: negative length {size}")
        return size

    def take(self, size: int) -> None:
        if size > self.end - self.pos:
            raise _Refused("truncated_body", "the Avro body ends before the record does")
        self.pos += size

    def long(self) -> int:
        data, pos, shift, unsigned = self.data, self.pos, 0, 0
        while True:
            if pos >= self.end:
                raise _Refused("truncated_body", "the Avro body ends before the record does")
            byte = data[pos]
            pos += 1
            unsigned |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift >= 70:
                raise _Refused("malformed_body", "a number is longer than 10 bytes")
        self.pos = pos
        return (unsigned >> 1) ^ -(unsigned & 1)
