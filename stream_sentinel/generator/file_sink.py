"""Labelled datasets on disk: CSV or JSON Lines, optionally gzip-compressed.

Columns are the Transaction v2 fields plus two ground-truth columns, ``is_fraud`` (0/1) and
``fraud_pattern`` (empty for legitimate rows). They are for training and evaluation only: a
detector's features must never read them. The file is written under a temporary name in the
same directory and renamed when the run ends, so a failed run leaves nothing half-written; gzip
headers carry no name or time, so the same seed gives the same bytes.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from stream_sentinel.errors import UsageError
from stream_sentinel.generator.batch import FeedbackBatch, TransactionBatch
from stream_sentinel.generator.sinks import DeliveryStats
from stream_sentinel.generator.textlayout import csv_codec, jsonl_codec
from stream_sentinel.wire.textcodec import CsvCodec, JsonLinesCodec

GZIP_LEVEL = 1  # fast: a dataset is written once and read by machines
Codec = CsvCodec[TransactionBatch] | JsonLinesCodec[TransactionBatch]
FORMATS: dict[str, Callable[[str], Codec]] = {
    ".csv": csv_codec,
    ".jsonl": jsonl_codec,
    ".json": jsonl_codec,
}


def output_format(path: Path) -> tuple[Callable[[str], Codec], bool]:
    """The codec for ``path`` and whether it is gzip-compressed."""
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    kind = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if kind not in FORMATS:
        raise UsageError(
            f"cannot tell the format of {path}: name it .csv or .jsonl (add .gz to compress)"
        )
    return FORMATS[kind], compressed


class FileSink:
    writes_labels = False  # the is_fraud / fraud_pattern columns carry the ground truth

    def __init__(self, path: Path, id_prefix: str) -> None:
        make_codec, compressed = output_format(path)
        self.destination = str(path)
        self.stats = DeliveryStats()
        self._path = path
        self._temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._codec = make_codec(id_prefix)
        self._raw = self._open_temporary()
        self._out: BinaryIO = self._raw
        if compressed:
            self._out = gzip.GzipFile(  # type: ignore[assignment]
                filename="", mode="wb", fileobj=self._raw, compresslevel=GZIP_LEVEL, mtime=0
            )
        self._out.write(self._codec.header())

    def _open_temporary(self) -> BinaryIO:
        if self._path.is_dir():
            raise UsageError(f"--output {self._path} is a directory: give a file name")
        try:
            return open(self._temporary, "wb", buffering=1 << 20)
        except OSError as exc:
            raise UsageError(
                f"cannot write {self._path}: {exc.strerror}; choose a writable --output path"
            ) from None

    def write(self, batch: TransactionBatch) -> None:
        self._out.write(self._codec.encode(batch))
        self.stats.transactions += len(batch)

    def write_labels(self, labels: FeedbackBatch) -> None:
        """Files carry ground truth in columns; delayed labels are a streaming concern."""
        return None

    def poll(self) -> None:
        return None

    def close(self) -> None:
        if self._out is not self._raw:
            self._out.close()
        self._raw.close()
        os.replace(self._temporary, self._path)

    def abort(self) -> None:
        try:
            if self._out is not self._raw:
                self._out.close()
            self._raw.close()
        finally:
            self._temporary.unlink(missing_ok=True)
