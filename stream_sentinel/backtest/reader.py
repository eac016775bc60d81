"""Reading the raw text of chosen columns from CSV or JSON Lines, optionally gzip-compressed.

Every value stays text (``parse_int=str`` for JSON too), so ids never pass through a number and
a 19-digit card number survives; typing happens later, column by column. Each kept row carries
its line number; rows that cannot be split into the header's fields are set aside with the
reason. Blank lines are skipped.
"""

from __future__ import annotations

import csv
import gc
import gzip
import json
import operator
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stream_sentinel.errors import UsageError

#: JSON Lines files name their columns by the keys of this many first objects.
JSON_HEADER_ROWS = 1000


@dataclass
class RawTable:
    """Text columns of the rows that could be split, with their line numbers."""

    columns: dict[str, list[str]]
    lines: list[int]
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    def __len__(self) -> int:
        return len(self.lines)


def is_jsonl(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    return ".jsonl" in suffixes or ".json" in suffixes or ".ndjson" in suffixes


def open_text(path: Path) -> IO[str]:
    """The file as text (``.gz`` decompressed; a UTF-8 byte-order mark dropped)."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return path.open(encoding="utf-8-sig", errors="replace", newline="")


def read_header(path: Path) -> list[str]:
    """The column names: the CSV header, or the keys of the first JSON objects."""
    with open_text(path) as handle:
        if is_jsonl(path):
            keys: dict[str, None] = {}
            for number, line in enumerate(handle, start=1):
                if number > JSON_HEADER_ROWS:
                    break
                row = _json_object(line)
                if isinstance(row, dict):
                    keys.update(dict.fromkeys(row))
            return list(keys)
        header = next(csv.reader(handle), None)
    if not header:
        raise UsageError(f"{path}: the file is empty (a CSV file starts with a header line)")
    return [name.strip() for name in header]


def read_columns(path: Path, wanted: Sequence[str]) -> RawTable:
    """The text of the ``wanted`` columns, row by row (columns must exist: see read_header)."""
    with open_text(path) as handle, _no_gc():
        if is_jsonl(path):
            return _read_jsonl(handle, wanted)
        return _read_csv(handle, wanted, path)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Millions of short-lived row lists: the cyclic collector would rescan them for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_csv(handle: IO[str], wanted: Sequence[str], path: Path) -> RawTable:
    reader = csv.reader(handle)
    header = [name.strip() for name in next(reader, [])]
    index = [header.index(name) for name in wanted]
    table = RawTable({name: [] for name in wanted}, [])
    rows = _complete_rows(reader, len(header), table)
    pick = operator.itemgetter(*index) if len(index) > 1 else lambda row: (row[index[0]],)
    try:
        columns = list(zip(*map(pick, rows), strict=False))
    except csv.Error as exc:
        raise UsageError(f"{path}, line {reader.line_num}: unreadable CSV ({exc})") from None
    for name, values in zip(wanted, columns, strict=False):
        table.columns[name] = list(values)
    return table


def _complete_rows(reader: Any, width: int, table: RawTable) -> Iterator[list[str]]:
    lines, bad = table.lines, table.bad
    for row in reader:
        if len(row) == width:
            lines.append(reader.line_num)
            yield row
        elif row:
            bad.append((reader.line_num, f"{len(row)} fields where the header has {width}"))


def _read_jsonl(handle: IO[str], wanted: Sequence[str]) -> RawTable:
    table = RawTable({name: [] for name in wanted}, [])
    appenders = [(name, table.columns[name].append) for name in wanted]
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        row = _json_object(line)
        if not isinstance(row, dict):
            table.bad.append((number, row if isinstance(row, str) else "not a JSON object"))
            continue
        table.lines.append(number)
        for name, append in appenders:
            append(_text(row.get(name)))
    return table


def _json_object(line: str) -> dict[str, Any] | str:
    """The object on ``line``, or why there is none. Numbers are kept as written."""
    try:
        value = json.loads(line, parse_int=str, parse_float=str, parse_constant=str)
    except ValueError as exc:
        return f"not valid JSON ({exc.args[0].split(':')[0]})"
    return value if isinstance(value, dict) else "not a JSON object"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, sort_keys=True)
