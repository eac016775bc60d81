"""What every codec of ours shares: the decoded record type, decode failures, the codec protocols.

A batch decoder never raises for a bad value: it returns a :class:`DecodeFailure` with a
machine-readable ``kind`` (the dead letter's error type) and a human ``reason``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stream_sentinel.errors import SerializationError

Record = dict[str, Any]
#: A null and an empty value are the same fault: one error type for both, whoever finds it.
EMPTY_VALUE = ("empty_value", "the record has no value (null or empty)")


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    """Why value ``index`` of a batch could not be decoded (``kind`` is machine-readable)."""

    index: int
    kind: str
    reason: str
    schema_id: int | None = None


class DecodeError(SerializationError):
    """One value could not be decoded; ``kind`` as in :class:`DecodeFailure`."""

    def __init__(self, failure: DecodeFailure) -> None:
        super().__init__(failure.reason)
        self.kind = failure.kind
        self.schema_id = failure.schema_id


class RecordEncoder(Protocol):
    def __call__(self, record: Mapping[str, Any]) -> bytes: ...


class RecordDecoder(Protocol):
    def decode(self, value: bytes | None) -> Record: ...

    def decode_many(
        self, values: Sequence[bytes | None]
    ) -> tuple[list[Record | None], list[DecodeFailure]]: ...
