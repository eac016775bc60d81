"""Conversion hooks between the domain dataclasses and Avro-shaped dicts.

Domain objects never see Avro: the serde works on plain dicts, and this module is the only
place that knows both shapes. Nothing here is written per record: each conversion is derived
from the dataclass's fields and the field plan of its newest bundled schema
(:mod:`stream_sentinel.wire.schemas.plan`), so a field added to both is converted with no code.

Enums travel as their Avro symbol (``RiskLevel.HIGH`` -> ``"HIGH"``); nested records (a
:class:`~stream_sentinel.domain.Contribution`) as dicts; lists and maps as fresh copies. A field
absent from a record (an older schema version) takes the dataclass default, or else the schema's
default. Values are not coerced (``"12"`` stays a string), so the serde's validation sees what
the caller really passed.

>>> from stream_sentinel.domain import Contribution
>>> to_dict(Contribution("amount_z", 0.25))
{'feature': 'amount_z', 'value': 0.25}
>>> from_dict(Contribution, {"feature": "amount_z", "value": 0.25})
Contribution(feature='amount_z', value=0.25)
"""

from __future__ import annotations

import dataclasses
import enum
import operator
import types
import typing
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar, cast

from stream_sentinel.domain import (
    DeadLetter,
    DecisionFeatures,
    Feedback,
    FraudAlert,
    FraudScore,
    ModelEvent,
    Transaction,
    UserAction,
)
from stream_sentinel.errors import SerializationError
from stream_sentinel.wire.schemas.plan import AvroType, RecordPlan, bundled_plan

T = TypeVar("T")
AvroDict = dict[str, Any]
Convert = Callable[[Any], Any]

#: Which bundled record (Avro name) each domain class is written as.
RECORD_NAMES: dict[type, str] = {
    Transaction: "Transaction",
    FraudScore: "FraudScore",
    FraudAlert: "FraudAlert",
    UserAction: "UserAction",
    Feedback: "Feedback",
    DeadLetter: "DeadLetter",
    ModelEvent: "ModelEvent",
    DecisionFeatures: "DecisionFeatures",
}

_MISSING: Any = object()


class RecordMapping:
    """The dict conversion of one dataclass under one record plan (nested records included)."""

    def __init__(self, cls: type, plan: RecordPlan) -> None:
        self.cls, self.plan = cls, plan
        hints = typing.get_type_hints(cls)
        planned = {field.name: field for field in plan.fields}
        own = {field.name: field for field in dataclasses.fields(cls)}
        # written in plan order: the order JSON topics print and fastavro expects
        writes = [
            (name, _writer(f.type, hints[name])) for name, f in planned.items() if name in own
        ]
        self._names = tuple(name for name, _ in writes)
        self._get = operator.attrgetter(*self._names) if len(self._names) > 1 else _one(self._names)
        self._converted = [(name, convert) for name, convert in writes if convert is not _same]
        self._reads = [
            (name, *self._read_step(own[name], planned.get(name), hints)) for name in own
        ]

    def to_dict(self, obj: Any) -> AvroDict:
        record = dict(zip(self._names, self._get(obj), strict=True))
        for name, convert in self._converted:
            record[name] = convert(record[name])
        return record

    def from_dict(self, data: Mapping[str, Any]) -> Any:
        values: dict[str, Any] = {}
        for name, convert, nullable, fallback in self._reads:
            value = data.get(name, _MISSING)
            # a null where the schema allows none: the default when there is one (else passed
            # on as it is, for the conversion or the dataclass to report)
            if value is _MISSING or (value is None and not nullable and fallback is not _MISSING):
                if fallback is _MISSING:
                    raise KeyError(name)
                if fallback is dataclasses.MISSING:
                    continue  # the dataclass default applies
                value = fallback()
            values[name] = value if convert is _same else convert(value)
        return self.cls(**values)

    @staticmethod
    def _read_step(
        own: dataclasses.Field[Any], field: Any, hints: dict[str, Any]
    ) -> tuple[Convert, bool, Any]:
        """(convert, may be None, fallback): the fallback gives the value of an absent field
        (``dataclasses.MISSING``: the dataclass default; ``_MISSING``: none, it is required)."""
        has_default = own.default is not dataclasses.MISSING
        has_default |= own.default_factory is not dataclasses.MISSING
        if field is None:
            return _same, True, dataclasses.MISSING if has_default else _MISSING
        fallback = dataclasses.MISSING if has_default else _MISSING
        if fallback is _MISSING and field.has_default:
            fallback = field.fresh_default
        return _reader(field.type, hints[own.name]), field.nullable, fallback


def _one(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    return lambda obj: tuple(getattr(obj, name) for name in names)


def _same(value: Any) -> Any:
    return value


def _writer(kind: AvroType, hint: Any) -> Convert:
    """How a dataclass value becomes its Avro-shaped value (enums: symbols; records: dicts)."""
    return _converter(kind, hint, to_avro=True)


def _reader(kind: AvroType, hint: Any) -> Convert:
    """How an Avro-shaped value becomes the dataclass's value (the inverse of _writer)."""
    return _converter(kind, hint, to_avro=False)


def _converter(kind: AvroType, hint: Any, to_avro: bool) -> Convert:
    """One walk of the field's type for both directions; only the leaves differ."""
    if kind.kind == "union":
        branches = [b for b in kind.branches if b.kind != "null"]
        single = len(branches) == 1
        inner = _converter(branches[0], _without_none(hint), to_avro) if single else _same
        return _same if inner is _same else lambda v: None if v is None else inner(v)
    if kind.kind == "enum" and isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _symbol_of(hint) if to_avro else _member_of(hint)
    if kind.kind == "record" and kind.record is not None and dataclasses.is_dataclass(hint):
        mapping = _mapping(cast(type, hint), kind.record)
        return mapping.to_dict if to_avro else mapping.from_dict
    if kind.kind in ("array", "map") and kind.items is not None:
        item = _converter(kind.items, _item_hint(hint), to_avro)
        if kind.kind == "map":
            return dict if item is _same else lambda v: {k: item(i) for k, i in v.items()}
        return list if item is _same else lambda v: [item(i) for i in v]
    return _same


def _symbol_of(enum_type: type[enum.Enum]) -> Convert:
    # members hash as their values, so one lookup serves a member and a plain value alike
    symbols: dict[Any, str] = {member: member.name for member in enum_type}

    def symbol(value: Any) -> str:
        try:
            return symbols[value]
        except (KeyError, TypeError):  # another spelling ("high") or not a value at all
            return enum_type(value).name

    return symbol


def _member_of(enum_type: type[enum.Enum]) -> Convert:
    members = enum_type.__members__

    def member(symbol: Any) -> enum.Enum:
        found = members.get(symbol) if isinstance(symbol, str) else None
        if found is None:
            raise ValueError(f"{symbol!r} is not a valid {enum_type.__qualname__}")
        return found

    return member


def _without_none(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return rest[0] if len(rest) == 1 else Any
    return hint


def _item_hint(hint: Any) -> Any:
    """The element type of ``list[X]`` or the value type of ``dict[str, X]``."""
    args = typing.get_args(hint)
    return args[-1] if args else Any


@cache
def _mapping(cls: type, plan: RecordPlan) -> RecordMapping:
    return RecordMapping(cls, plan)


@cache
def _mappings() -> dict[type, RecordMapping]:
    """Every domain class with a bundled record, nested ones (Contribution) included."""
    found = {cls: _mapping(cls, bundled_plan(name)) for cls, name in RECORD_NAMES.items()}
    for top in list(found.values()):
        for nested in _nested_classes(top.cls):
            found.setdefault(nested, _mapping(nested, _nested_plan(top.plan, nested)))
    return found


def _nested_classes(cls: type) -> list[type]:
    hints = typing.get_type_hints(cls).values()
    inner = [_item_hint(h) if typing.get_args(h) else h for h in map(_without_none, hints)]
    return [h for h in inner if isinstance(h, type) and dataclasses.is_dataclass(h)]


def _nested_plan(plan: RecordPlan, cls: type) -> RecordPlan:
    for full_name, record in plan.records().items():
        if full_name.rpartition(".")[2] == cls.__name__:
            return record
    raise SerializationError(f"no record for {cls.__name__} in {plan.name}")


def mapping_for(cls: type) -> RecordMapping:
    """The conversion of a domain class; SerializationError when it has no Avro record."""
    mapping = _mappings().get(cls)
    if mapping is None:
        raise SerializationError(f"no Avro mapping for {cls.__name__}")
    return mapping


def to_dict(obj: object) -> AvroDict:
    """The Avro-shaped dict of a domain object."""
    return mapping_for(type(obj)).to_dict(obj)


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """A domain object of ``cls`` from a decoded record; bad input raises SerializationError."""
    mapping = mapping_for(cls)
    try:
        return cast(T, mapping.from_dict(data))
    except KeyError as exc:
        raise SerializationError(f"{cls.__name__} record lacks field {exc.args[0]!r}") from None
    except ValueError as exc:
        raise SerializationError(f"{cls.__name__} record has a bad value: {exc}") from None
