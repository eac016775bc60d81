"""One field plan per Avro record schema: its fields in order, each with its compiled type.

Every codec that knows the shape of a record takes it from here instead of restating it: the
dict conversion of the domain dataclasses (:mod:`stream_sentinel.wire.records`), the columnar
Transaction decoder (:mod:`stream_sentinel.wire.txwire`), the FraudScore writer
(:mod:`stream_sentinel.wire.scorewire`) and the column codecs (:mod:`stream_sentinel.wire.columnar`,
:mod:`stream_sentinel.wire.textcodec`). A plan is compiled once per schema text and cached, so
adding a field to an .avsc file reaches all of them.

A plan is built for any record schema a writer may send, hostile ones included; what cannot be
planned (a recursive record, a reference to an unknown type, a document that is not a record)
raises :class:`UnplannedSchema`, and callers fall back to the generic codecs.

>>> plan = compile_plan(find("Transaction", 2).text)
>>> plan.name, len(plan.fields), plan.field("currency").nullable
('io.streamsentinel.Transaction', 18, True)
>>> channel = plan.field("channel")
>>> channel.value_type.kind, channel.value_type.symbols[:2], channel.default
('enum', ('ONLINE', 'POS'), 'OTHER')
>>> plan.field("timestamp").value_type.logical
'timestamp-millis'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from stream_sentinel.errors import SchemaError
from stream_sentinel.wire.schemas.catalog import find

__all__ = [
    "NO_DEFAULT",
    "AvroType",
    "Field",
    "RecordPlan",
    "UnplannedSchema",
    "bundled_plan",
    "compile_plan",
]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})

#: How many distinct schema texts keep their plan (writer schemas come from the registry).
CACHED_PLANS = 1024


class UnplannedSchema(SchemaError):
    """A schema the plan does not describe (the generic codecs still read it)."""


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


#: A field without a ``default`` in its schema.
NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True, slots=True, eq=False)
class AvroType:
    """One compiled Avro type. ``kind`` is a primitive name or enum, fixed, array, map, record,
    union; the other attributes are set for the kinds that have them."""

    kind: str
    logical: str | None = None
    name: str = ""  # full name of an enum, fixed or record
    symbols: tuple[str, ...] = ()  # enum
    size: int = 0  # fixed
    items: AvroType | None = None  # array items, map values
    branches: tuple[AvroType, ...] = ()  # union, in the schema's order
    record: RecordPlan | None = None

    @property
    def null_branch(self) -> int | None:
        """The index of the null branch of a union (None: not a nullable union)."""
        for index, branch in enumerate(self.branches):
            if branch.kind == "null":
                return index
        return None


@dataclass(frozen=True, slots=True, eq=False)
class Field:
    """One field of a record: its name, its type and its default (``NO_DEFAULT``: none)."""

    name: str
    type: AvroType
    default: Any = NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    @property
    def nullable(self) -> bool:
        """A ``["null", T]`` (or ``[T, "null"]``) union."""
        return len(self.type.branches) == 2 and self.type.null_branch is not None

    @property
    def value_type(self) -> AvroType:
        """The type of a present value: T for a nullable union, else the field's type."""
        if self.nullable:
            return self.type.branches[1 - (self.type.null_branch or 0)]
        return self.type

    def fresh_default(self) -> Any:
        """A copy of the default (defaults such as ``{}`` must not be shared)."""
        return json.loads(json.dumps(self.default))


@dataclass(frozen=True, slots=True, eq=False)
class RecordPlan:
    """A record's full name, its aliases (full names) and its fields in schema order."""

    name: str
    aliases: tuple[str, ...]
    fields: tuple[Field, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)

    def records(self) -> dict[str, RecordPlan]:
        """This record and every record nested in it, by full name."""
        found = {self.name: self}
        for field in self.fields:
            found |= _nested_records(field.type)
        return found


def _nested_records(kind: AvroType) -> dict[str, RecordPlan]:
    found: dict[str, RecordPlan] = {}
    if kind.record is not None:
        found |= kind.record.records()
    for child in (kind.items, *kind.branches):
        if child is not None:
            found |= _nested_records(child)
    return found


@lru_cache(maxsize=CACHED_PLANS)
def compile_plan(schema_text: str) -> RecordPlan:
    """The plan of a record schema (.avsc text), compiled once per text."""
    try:
        document = json.loads(schema_text)
        kind = _Compiler().compile(document, "")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise UnplannedSchema(f"not a schema the field plan describes: {exc!r:.200}") from None
    if kind.record is None:
        raise UnplannedSchema(f"not a record schema but {kind.kind}")
    return kind.record


def bundled_plan(name: str, version: int | None = None) -> RecordPlan:
    """The plan of a bundled schema (``"Transaction"``; default: the newest version)."""
    return compile_plan(find(name, version).text)


class _Compiler:
    """Schema JSON -> types; named types are shared by reference, recursion is refused."""

    def __init__(self) -> None:
        self._named: dict[str, AvroType | None] = {}  # None: a record still being compiled

    def compile(self, schema: Any, namespace: str) -> AvroType:
        if isinstance(schema, str):
            return self._primitive_or_named(schema, namespace)
        if isinstance(schema, list):
            return AvroType("union", branches=tuple(self.compile(b, namespace) for b in schema))
        kind = schema["type"]
        logical = schema.get("logicalType")
        if kind in ("record", "error", "enum", "fixed"):
            return self._named_type(schema, namespace)
        if kind == "array":
            return AvroType("array", items=self.compile(schema["items"], namespace))
        if kind == "map":
            return AvroType("map", items=self.compile(schema["values"], namespace))
        if kind in PRIMITIVES:
            return AvroType(kind, logical=None if logical is None else str(logical))
        return self.compile(kind, namespace)  # {"type": "Named"} or {"type": {...}}

    def _primitive_or_named(self, name: str, namespace: str) -> AvroType:
        if name in PRIMITIVES:
            return AvroType(name)
        for candidate in (name if "." in name else f"{namespace}.{name}", name):
            if candidate in self._named:
                named = self._named[candidate]
                if named is None:
                    raise ValueError(f"the record {candidate} refers to itself")
                return named
        raise ValueError(f"unknown type {name!r}")

    def _named_type(self, schema: dict[str, Any], namespace: str) -> AvroType:
        full = _full_name(schema, namespace)
        kind = schema["type"]
        if kind == "enum":
            named = AvroType("enum", name=full, symbols=tuple(map(str, schema["symbols"])))
        elif kind == "fixed":
            named = AvroType("fixed", name=full, size=int(schema["size"]))
        else:
            self._named[full] = None
            inner = full.rpartition(".")[0]
            fields = tuple(self._field(f, inner) for f in schema["fields"])
            aliases = tuple(_qualify(str(a), inner) for a in schema.get("aliases") or ())
            named = AvroType("record", name=full, record=RecordPlan(full, aliases, fields))
        self._named[full] = named
        return named

    def _field(self, field: dict[str, Any], namespace: str) -> Field:
        default = field.get("default", NO_DEFAULT)
        return Field(str(field["name"]), self.compile(field["type"], namespace), default)


def _full_name(schema: dict[str, Any], namespace: str) -> str:
    name = str(schema["name"])
    return _qualify(name, str(schema.get("namespace", namespace)))


def _qualify(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"
