"""From a history file to a typed, event-time-ordered :class:`History`, counting bad rows.

A mapping that names a missing column fails before any row is read. A row that cannot be typed
(an amount that is not a number, a time in no known format, a label that is neither fraud nor
legit, an empty id, a repeated transaction id) is skipped and reported with its line number;
the rest go on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from stream_sentinel.backtest.history import History
from stream_sentinel.backtest.mapping import NUMBER_FIELDS, SYMBOLS, TEXT_FIELDS, ColumnMap
from stream_sentinel.backtest.reader import RawTable, read_columns, read_header
from stream_sentinel.backtest.timeparse import TimeSpec, parse_times, resolve_format
from stream_sentinel.errors import UsageError

FRAUD_WORDS = frozenset({"1", "1.0", "true", "t", "yes", "y", "fraud", "fraudulent"})
LEGIT_WORDS = frozenset({"0", "0.0", "false", "f", "no", "n", "legit", "legitimate", "genuine"})

Bad = dict[int, str]  # row position -> reason


@dataclass
class Loaded:
    """What ingestion produced: the history and an account of what was left out."""

    history: History
    mapping: ColumnMap
    rows_read: int
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), file order
    time_format: str = "auto"


def load_history(
    path: Path,
    mapping: ColumnMap,
    label_column: str,
    times: TimeSpec,
    assume_sorted: bool = False,
) -> Loaded:
    """Read, map, type and order ``path`` (CSV or JSONL, optionally .gz)."""
    resolved = mapping.resolve(read_header(path), label_column, str(path))
    wanted = list(dict.fromkeys([*resolved.columns(), label_column]))
    raw = read_columns(path, wanted)
    times = replace(times, format=resolve_format(raw.columns[resolved.fields["timestamp"]], times))
    history, bad = _typed(raw, resolved, label_column, times)
    rows_read = len(raw) + len(raw.bad)
    keep = np.ones(len(raw), dtype=bool)
    keep[list(bad)] = False
    bad_rows = sorted(raw.bad + [(raw.lines[i], reason) for i, reason in bad.items()])
    history = history.take(keep) if bad else history
    if assume_sorted:
        line = history.first_unsorted_line()
        if line is not None:
            raise UsageError(
                f"{path}, line {line}: earlier than the row before it, but --assume-sorted was "
                "given; drop --assume-sorted to have the rows sorted by event time"
            )
    else:
        history = history.in_time_order()
    return Loaded(history, resolved, rows_read, bad_rows, times.format)


def _typed(
    raw: RawTable, mapping: ColumnMap, label_column: str, times: TimeSpec
) -> tuple[History, Bad]:
    bad: Bad = {}
    fields, columns = mapping.fields, raw.columns

    def column(name: str) -> list[str]:
        return columns[fields[name]]

    lines = np.array(raw.lines, dtype=np.int64)
    users = [u or "" for u in _shared(_ids(column("user_id"), "user_id", bad))]
    if "transaction_id" in fields:
        ids = _ids(column("transaction_id"), "transaction_id", bad)
    else:
        ids = [f"line-{line}" for line in raw.lines]
    _repeated_ids(ids, raw.lines, bad)
    amount = _numbers(column("amount"), "amount", bad, required=True)
    timestamp, time_bad = parse_times(column("timestamp"), times)  # times: format resolved
    _merge(bad, time_bad)
    labels = parse_labels(columns[label_column], bad)
    history = History(ids, users, amount, timestamp, labels, lines)
    for name in TEXT_FIELDS:
        if name in fields:
            history.text[name] = _shared(column(name))
    for name in NUMBER_FIELDS:
        if name in fields:
            history.numbers[name] = _numbers(column(name), name, bad, required=False)
    for name in SYMBOLS:
        if name in fields:
            history.symbols[name] = symbol_codes(column(name), name)
    return history, bad


def _merge(bad: Bad, more: Bad) -> None:
    for row, reason in more.items():
        bad.setdefault(row, reason)


def _ids(values: list[str], name: str, bad: Bad) -> list[str]:
    ids = [v.strip() for v in values]
    for row in (i for i, v in enumerate(ids) if not v):
        bad.setdefault(row, f"{name} is empty")
    return ids


def _shared(values: list[str]) -> list[str | None]:
    """One string object per distinct value (a million rows name a few thousand merchants);
    empty values are None."""
    distinct: dict[str, str] = {}
    return [distinct.setdefault(v, v) if v else None for v in values]


def _repeated_ids(ids: Sequence[str], lines: Sequence[int], bad: Bad) -> None:
    if len(set(ids)) == len(ids):
        return
    first: dict[str, int] = {}
    for row, value in enumerate(ids):
        seen = first.setdefault(value, row)
        if seen != row and value:
            bad.setdefault(row, f"transaction_id {value!r} repeats line {lines[seen]}")


def _numbers(values: list[str], name: str, bad: Bad, *, required: bool) -> np.ndarray:
    """Floats; an empty optional value is NaN (missing), anything unreadable is a bad row."""
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        pass
    out = np.full(len(values), math.nan)
    for row, value in enumerate(values):
        text = value.strip()
        if not text:
            if required:
                bad.setdefault(row, f"{name} is empty")
            continue
        try:
            out[row] = float(text)
        except ValueError:
            bad.setdefault(row, f"{name} {value!r} is not a number")
    return out


def parse_labels(values: Sequence[str], bad: Bad) -> np.ndarray:
    """1 for fraud, 0 for legit (1/0, 1.0/0.0, true/false, yes/no, fraud/legit)."""
    out = np.zeros(len(values), dtype=np.int8)
    lookup: Callable[[str], str] = str.lower
    for row, value in enumerate(values):
        word = lookup(value.strip())
        if word in FRAUD_WORDS:
            out[row] = 1
        elif word not in LEGIT_WORDS:
            bad.setdefault(row, f"label {value!r} is not 1/0, true/false or fraud/legit")
    return out


def symbol_codes(values: Sequence[str], name: str) -> np.ndarray:
    """Codes into the enum's symbols; unknown or empty values become its default symbol."""
    symbols, default = SYMBOLS[name]
    index = {symbol: code for code, symbol in enumerate(symbols)}
    fallback = index[default]
    return np.array([index.get(v.strip().upper(), fallback) for v in values], dtype=np.int8)
