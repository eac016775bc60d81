"""Reading labelled transaction files in the generator's format (CSV or JSONL, optionally .gz).

Columns are the Transaction fields plus ground truth (``is_fraud``, ``fraud_pattern``). Values are
typed as the Transaction schema says; ids stay strings. Used by `train`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from stream_sentinel.errors import UsageError

_FLOATS = ("amount", "latitude", "longitude", "merchant_latitude", "merchant_longitude")
_INTS = ("timestamp",)


def _open(path: Path) -> IO[str]:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _is_jsonl(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    return ".jsonl" in suffixes or ".json" in suffixes


def read_labelled(path: Path, label_column: str) -> Iterator[tuple[dict[str, Any], int]]:
    """(transaction record, 0/1 label) for each row of ``path``, in file order."""
    with _open(path) as handle:
        rows: Iterator[dict[str, Any]]
        if _is_jsonl(path):
            rows = (json.loads(line) for line in handle if line.strip())
        else:
            rows = csv.DictReader(handle)
        for number, row in enumerate(rows, start=2):
            if label_column not in row:
                raise UsageError(
                    f"{path}: no column {label_column!r} (columns: {', '.join(sorted(row))})"
                )
            yield _typed(row, path, number), _label(row[label_column], path, number)


def _typed(row: dict[str, Any], path: Path, number: int) -> dict[str, Any]:
    record = {k: (None if v == "" else v) for k, v in row.items()}
    try:
        for name in _FLOATS:
            value = record.get(name)
            if value is not None:
                record[name] = float(value)
        for name in _INTS:
            stamp = record.get(name)
            record[name] = int(stamp if stamp is not None else "")
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}, row {number}: {exc}") from None
    for name in ("transaction_id", "user_id", "merchant_id", "device_id"):
        if record.get(name) is not None:
            record[name] = str(record[name])
    return record


def _label(value: Any, path: Path, number: int) -> int:
    text = str(value).strip().lower()
    if text in ("1", "1.0", "true", "fraud", "yes"):
        return 1
    if text in ("0", "0.0", "false", "legit", "no", ""):
        return 0
    raise UsageError(f"{path}, row {number}: label {value!r} is not 1/0, true/false or fraud/legit")
