"""Columnar decoding of Transaction records: a whole batch, field by field, with numpy.

Avro is a row format, but every record of a batch follows the same field plan, so the batch can
be walked one *field* at a time for all records at once: a vector of positions advances through
the concatenated payloads, reading a length, a union branch or a double for every record in one
array operation. Strings the detector needs (ids) are cut out at the end; the rest is skipped.

The walk is derived from the writer schema's field plan (:mod:`.schemas.plan`), each field's
step chosen by its type: Transaction v1 and v2, and any later version built from the same kinds
of fields, are walked with no code change (``Columns.field`` gives a new field's values). A
record the plan cannot take — another schema, a ``metadata`` map of more than 64 entries, a
corrupt body — is handed back as *unplanned*, and the caller decodes it with the generic
decoder, which also explains what is wrong with it. A unit test holds the columns equal to the
generic decoder's records on random and corrupt input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream_sentinel.domain import Channel
from stream_sentinel.wire.schemas.plan import Field, UnplannedSchema
from stream_sentinel.wire.schemas.plan import compile_plan as field_plan

#: The fields the detector reads, by kind. Everything else is parsed over, never kept.
STRINGS = ("transaction_id", "user_id")
OPTIONAL_STRINGS = ("merchant_id", "device_id")
DOUBLES = ("amount",)
OPTIONAL_DOUBLES = ("latitude", "longitude", "merchant_latitude", "merchant_longitude")
LONGS = ("timestamp",)
CHANNELS = [c.value for c in Channel]
#: The only records the plan reads (full Avro name).
TRANSACTION = "io.streamsentinel.Transaction"
#: The most ``metadata`` entries the columnar walk takes per record (more: the generic decoder).
MAP_ENTRIES = 64

#: The kind each field we read must have in the writer schema ("absent": default applies).
_NEEDED: dict[str, tuple[str, ...]] = {
    **{name: ("string",) for name in STRINGS},
    **{name: ("union-string", "absent") for name in OPTIONAL_STRINGS},
    **{name: ("double",) for name in DOUBLES},
    **{name: ("union-double", "absent") for name in OPTIONAL_DOUBLES},
    **{name: ("long",) for name in LONGS},
    "channel": ("enum", "absent"),
}

_TEN = np.arange(10, dtype=np.int64)
_SHIFTS = (7 * _TEN).astype(np.uint64)
_EIGHT = np.arange(8, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # string | long | double | enum | union-string | union-double | map-string
    name: str
    symbols: tuple[str, ...] = ()
    present: int = 1  # the union branch of a present value (the other one is null)


def compile_plan(schema_text: str) -> tuple[Step, ...] | None:
    """The walk of a writer schema, from its field plan; None when it has a field kind we do
    not walk or is not a Transaction (a foreign record with the same field kinds is not one)."""
    try:
        plan = field_plan(schema_text)
    except UnplannedSchema:
        return None
    if plan.name != TRANSACTION:
        return None  # the generic decoder refuses it by name
    steps = tuple(_step(field) for field in plan.fields)
    if any(step is None for step in steps):
        return None
    kinds = {step.name: step.kind for step in steps}  # type: ignore[union-attr]
    for name, kind in _NEEDED.items():
        if kinds.get(name, "absent") not in kind:
            return None  # a field we read has another type: the generic decoder resolves it
    return steps  # type: ignore[return-value]


def _step(field: Field) -> Step | None:
    """How the columnar walk reads a field, chosen by its type alone."""
    kind = field.value_type
    if field.nullable and kind.kind in ("string", "double"):
        return Step(f"union-{kind.kind}", field.name, present=1 - (field.type.null_branch or 0))
    if field.type is not kind:
        return None  # another union
    if kind.kind in ("string", "long", "double"):
        return Step(kind.kind, field.name)
    if kind.kind == "enum":
        return Step("enum", field.name, kind.symbols)
    if kind.kind == "map" and kind.items is not None and kind.items.kind == "string":
        return Step("map-string", field.name)
    return None


Plan = tuple[Step, ...]


def _no_fields(name: str) -> list[Any]:
    raise KeyError(name)


@dataclass
class Columns:
    """Decoded columns of the planned rows (``rows`` = their positions in the input).

    ``field(name)`` gives any field the walk read, by its type (strings decoded on demand; a
    field the writer schema lacks raises KeyError): a field added to the schema is carried.
    """

    rows: np.ndarray
    transaction_id: list[str]
    user_id: list[str]
    merchant_id: list[str | None]
    device_id: list[str | None]
    amount: np.ndarray
    timestamp: np.ndarray
    channel: np.ndarray  # int8 code in CHANNELS order
    latitude: np.ndarray
    longitude: np.ndarray
    merchant_latitude: np.ndarray
    merchant_longitude: np.ndarray
    field: Callable[[str], list[Any] | np.ndarray] = _no_fields


class _Walk:
    """Positions of every record in the joined buffer, advanced field by field."""

    def __init__(self, data: bytes, starts: np.ndarray, ends: np.ndarray) -> None:
        self.data = data
        self.buf = np.frombuffer(data, dtype=np.uint8)
        self.last = max(len(self.buf) - 1, 0)
        self.pos = starts.copy()
        self.ends = ends
        self.ok = np.ones(len(starts), dtype=bool)

    def varint(self) -> np.ndarray:
        """Zigzag longs at the current positions (and move past them)."""
        first = self.buf[np.clip(self.pos, 0, self.last)]
        if (first < 0x80).all():
            raw = first.astype(np.int64)
            value = (raw >> 1) ^ -(raw & 1)
            self.pos = self.pos + 1
        else:
            raw = self.buf[np.clip(self.pos[:, None] + _TEN, 0, self.last)]
            more = raw >= 0x80
            self.ok &= ~more.all(axis=1)
            length = np.argmin(more, axis=1) + 1
            parts = (raw & 0x7F).astype(np.uint64) << _SHIFTS
            parts[_TEN[None, :] >= length[:, None]] = 0
            unsigned = parts.sum(axis=1, dtype=np.uint64)
            value = (unsigned >> np.uint64(1)).astype(np.int64) ^ -(unsigned & np.uint64(1)).astype(
                np.int64
            )
            self.pos = self.pos + length
        return value

    def skip(self, sizes: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        """Start of a ``sizes``-byte value at each position; positions move past it."""
        start = self.pos
        # a negative length, or one running past the record, is corrupt (and must not overflow)
        bad = (sizes < 0) | (sizes > self.ends - self.pos)
        if bad.any():
            self.ok &= ~bad if where is None else ~(bad & where)
            sizes = np.where(bad, 0, sizes)
        moved = self.pos + sizes
        self.pos = moved if where is None else np.where(where, moved, self.pos)
        return start

    def double(self) -> np.ndarray:
        raw = self.buf[np.clip(self.pos[:, None] + _EIGHT, 0, self.last)]
        values = np.ascontiguousarray(raw).view("<f8")[:, 0]
        self.pos = self.pos + 8
        return values

    def within(self) -> None:
        self.ok &= self.pos <= self.ends


def decode_columns(
    values: Sequence[bytes], plan: tuple[Step, ...], header: int = 5
) -> tuple[Columns, np.ndarray]:
    """Columns of the records the plan decodes, and the positions of those it could not."""
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
    ends = np.cumsum(lengths)
    starts = ends - lengths + header
    walk = _Walk(b"".join(values), starts, ends)
    found: dict[str, Any] = {}
    for step in plan:
        found[step.name] = _read(walk, step)
        walk.within()
    walk.ok &= walk.pos == ends
    while True:
        rows = np.flatnonzero(walk.ok)
        try:
            return _columns(walk, rows, found, plan), np.flatnonzero(~walk.ok)
        except UnicodeDecodeError:
            walk.ok[_bad_text_rows(walk, rows, found)] = False


def _bad_text_rows(walk: _Walk, rows: np.ndarray, found: dict[str, Any]) -> list[int]:
    """Rows with a string that is not UTF-8 (left to the generic decoder to report)."""
    bad = []
    for row in rows.tolist():
        for name in (*STRINGS, *OPTIONAL_STRINGS):
            if name not in found:
                continue
            start, size = found[name][0][row], found[name][1][row]
            try:
                walk.data[start : start + size].decode()
            except UnicodeDecodeError:
                bad.append(row)
                break
    return bad


def _read(walk: _Walk, step: Step) -> Any:
    kind = step.kind
    if kind == "string":
        size = walk.varint()
        return walk.skip(size), size
    if kind == "long":
        return walk.varint()
    if kind == "double":
        return walk.double()
    if kind == "enum":
        index = walk.varint()
        walk.ok &= (index >= 0) & (index < len(step.symbols))
        return index, step.symbols
    if kind == "map-string":
        _skip_string_map(walk)
        return None
    branch = walk.varint()
    walk.ok &= (branch == 0) | (branch == 1)
    present = branch == step.present
    if kind == "union-string":
        size = np.where(present, walk_peek_varint(walk, present), 0)
        return walk.skip(size, present), size, present
    if kind == "union-double":
        before = walk.pos
        values = walk.double()
        walk.pos = np.where(present, walk.pos, before)
        return np.where(present, values, np.nan)
    raise AssertionError(f"unplanned field kind {kind}")


def _skip_string_map(walk: _Walk) -> None:
    """Walk over a map of strings (``metadata``): block by block, entry by entry, every row at
    once. A row with more than MAP_ENTRIES entries is left to the generic decoder (bounded)."""
    count = walk.varint()
    active = count != 0
    entries = np.zeros(len(count), dtype=np.int64)
    while active.any():
        sized = active & (count < 0)  # a negative count is followed by the block's byte size
        if sized.any():
            walk_peek_varint(walk, sized)
        # |INT64_MIN| does not fit in int64: any count beyond MAP_ENTRIES is refused as is
        walk.ok &= ~active | ((count >= -MAP_ENTRIES) & (count <= MAP_ENTRIES))
        remaining = np.where(active & walk.ok, np.abs(np.clip(count, -MAP_ENTRIES, MAP_ENTRIES)), 0)
        entries += remaining
        walk.ok &= entries <= MAP_ENTRIES
        remaining[~walk.ok] = 0
        while (left := (remaining > 0) & walk.ok).any():
            for _ in range(2):  # key, then value
                size = np.where(left, walk_peek_varint(walk, left), 0)
                walk.skip(size, left)
            remaining -= left
        active &= walk.ok
        count = np.where(active, walk_peek_varint(walk, active), 0)
        active &= count != 0


def walk_peek_varint(walk: _Walk, where: np.ndarray) -> np.ndarray:
    """A varint read only where ``where`` (elsewhere the position does not move)."""
    before = walk.pos
    value = walk.varint()
    walk.pos = np.where(where, walk.pos, before)
    return value


class _Cut:
    """One walked field's values for the planned rows, by the field's kind."""

    def __init__(self, walk: _Walk, rows: np.ndarray, found: dict[str, Any]) -> None:
        self.data, self.rows, self.found = walk.data, rows, found

    def strings(self, name: str) -> list[str]:
        start, size = self.found[name]
        picked = zip(start[self.rows].tolist(), size[self.rows].tolist(), strict=True)
        return [self.data[s : s + n].decode() for s, n in picked]

    def optional(self, name: str) -> list[str | None]:
        if name not in self.found:
            return [None] * len(self.rows)
        start, size, present = self.found[name]
        rows = self.rows
        picked = zip(start[rows].tolist(), size[rows].tolist(), present[rows].tolist(), strict=True)
        return [self.data[s : s + n].decode() if p else None for s, n, p in picked]

    def numbers(self, name: str) -> np.ndarray:
        if name not in self.found:
            return np.full(len(self.rows), np.nan)
        return np.asarray(self.found[name])[self.rows]

    def symbols(self, name: str) -> list[str]:
        index, symbols = self.found[name]
        return [symbols[i] for i in index[self.rows].tolist()]

    def values(self, step: Step) -> list[Any] | np.ndarray:
        if step.kind == "map-string":
            raise KeyError(f"{step.name} is walked over, not kept")
        if step.kind == "string":
            return self.strings(step.name)
        if step.kind == "union-string":
            return self.optional(step.name)
        if step.kind == "enum":
            return self.symbols(step.name)
        return self.numbers(step.name)


def _columns(walk: _Walk, rows: np.ndarray, found: dict[str, Any], plan: Plan) -> Columns:
    cut = _Cut(walk, rows, found)
    channel = np.full(len(rows), CHANNELS.index("OTHER"), dtype=np.int8)
    if "channel" in found:
        index, symbols = found["channel"]
        codes = np.array([CHANNELS.index(s) if s in CHANNELS else 4 for s in symbols], np.int8)
        channel = codes[index[rows]]
    return Columns(
        rows,
        cut.strings("transaction_id"),
        cut.strings("user_id"),
        cut.optional("merchant_id"),
        cut.optional("device_id"),
        cut.numbers("amount"),
        np.asarray(found["timestamp"])[rows],
        channel,
        cut.numbers("latitude"),
        cut.numbers("longitude"),
        cut.numbers("merchant_latitude"),
        cut.numbers("merchant_longitude"),
        _Fields(cut, plan),
    )


class _Fields:
    """Every other walked field, cut out only when asked for (the detector reads none)."""

    def __init__(self, cut: _Cut, plan: Plan) -> None:
        self._cut, self._steps = cut, {step.name: step for step in plan}

    def __call__(self, name: str) -> list[Any] | np.ndarray:
        return self._cut.values(self._steps[name])
