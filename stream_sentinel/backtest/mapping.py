"""Which column of a history file feeds which Transaction field (``--map field=COLUMN,...``).

Required: ``user_id``, ``amount``, ``timestamp``; ``transaction_id`` is generated from the line
number when absent; every other Transaction field is optional (which ones, and of what kind,
comes from the schema's field plan). A field that is not mapped is taken from a column of the
same name when there is one, so the generator's own files need no mapping at all. The label
column never feeds a field: ground truth must not become a feature.

>>> ColumnMap.parse(["user_id=cc_num,amount=amt", "timestamp=trans_date_trans_time"]).fields
{'user_id': 'cc_num', 'amount': 'amt', 'timestamp': 'trans_date_trans_time'}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stream_sentinel.errors import UsageError
from stream_sentinel.wire.schemas import bundled_plan

_PLAN = bundled_plan("Transaction")
REQUIRED = ("user_id", "amount", "timestamp")
#: Optional string fields (ids stay strings: 19-digit card numbers must survive), in schema order.
TEXT_FIELDS = tuple(f.name for f in _PLAN.fields if f.nullable and f.value_type.kind == "string")
NUMBER_FIELDS = tuple(f.name for f in _PLAN.fields if f.nullable and f.value_type.kind == "double")
#: Enum fields: their symbols, and what an unknown value becomes (as an Avro reader would do).
SYMBOLS: dict[str, tuple[tuple[str, ...], str]] = {
    f.name: (f.value_type.symbols, str(f.default))
    for f in _PLAN.fields
    if f.value_type.kind == "enum"
}
FIELDS = ("transaction_id", *REQUIRED, *TEXT_FIELDS, *NUMBER_FIELDS, *SYMBOLS)


@dataclass(frozen=True)
class ColumnMap:
    """Transaction field -> source column, as the user wrote it."""

    fields: dict[str, str]

    @classmethod
    def parse(cls, specs: Sequence[str]) -> ColumnMap:
        """From one or more ``field=COLUMN[,field=COLUMN...]`` strings."""
        fields: dict[str, str] = {}
        for spec in specs:
            for item in (part.strip() for part in spec.split(",")):
                if not item:
                    continue
                name, sep, column = (s.strip() for s in item.partition("="))
                _check_item(item, name, sep, column, fields)
                fields[name] = column
        return cls(fields)

    def resolve(self, columns: Sequence[str], label_column: str, source: str) -> ColumnMap:
        """The complete mapping for a file with these ``columns``: checked, same-name fields
        added. Fails at once, listing the columns, when a named column does not exist."""
        available = ", ".join(c or "(unnamed)" for c in columns)
        if label_column not in columns:
            raise UsageError(
                f"{source}: no label column {label_column!r}; the columns are: {available}"
            )
        for name, column in self.fields.items():
            if column not in columns:
                raise UsageError(
                    f"{source}: --map {name}={column}: there is no column {column!r}; "
                    f"the columns are: {available}"
                )
            if column == label_column:
                raise UsageError(
                    f"--map {name}={column}: {column!r} is the label column; ground truth must "
                    "never feed a transaction field"
                )
        same_name = {
            f: f for f in FIELDS if f not in self.fields and f in columns and f != label_column
        }
        resolved = ColumnMap({**self.fields, **same_name})
        missing = [f for f in REQUIRED if f not in resolved.fields]
        if missing:
            hint = ",".join(f"{f}=COLUMN" for f in missing)
            raise UsageError(
                f"{source}: no column for {', '.join(missing)}: map it with --map {hint}; "
                f"the columns are: {available}"
            )
        return resolved

    def columns(self) -> list[str]:
        """The source columns this mapping reads (each once)."""
        return list(dict.fromkeys(self.fields.values()))

    def describe(self) -> Mapping[str, str]:
        return dict(sorted(self.fields.items(), key=lambda item: FIELDS.index(item[0])))


def _check_item(item: str, name: str, sep: str, column: str, seen: Mapping[str, str]) -> None:
    if not sep or not name or not column:
        raise UsageError(f"--map {item!r}: write field=COLUMN, e.g. --map user_id=cc_num")
    if name not in FIELDS:
        raise UsageError(
            f"--map {item!r}: {name!r} is not a Transaction field; map one of: {', '.join(FIELDS)}"
        )
    if name in seen:
        raise UsageError(f"--map: {name} is mapped twice ({seen[name]!r} and {column!r})")
