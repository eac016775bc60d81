"""Confluent's wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro body.

>>> framed = frame(7, b"body")
>>> framed
b'\\x00\\x00\\x00\\x00\\x07body'
>>> schema_id_of(framed), framed[HEADER_SIZE:]
(7, b'body')
"""

from __future__ import annotations

from stream_sentinel.wire.failures import EMPTY_VALUE, DecodeError, DecodeFailure

MAGIC_BYTE = 0
HEADER_SIZE = 5


def frame(schema_id: int, body: bytes) -> bytes:
    """A Confluent-framed message: magic byte, big-endian id, Avro body."""
    return bytes((MAGIC_BYTE,)) + schema_id.to_bytes(4, "big") + body


def schema_id_of(value: bytes) -> int:
    """The schema id in a framed message's header (SerializationError when not framed)."""
    failure = header_failure(0, value)
    if failure is not None:
        raise DecodeError(failure)
    return int.from_bytes(value[1:HEADER_SIZE], "big")


def header_failure(index: int, value: bytes | None) -> DecodeFailure | None:
    """Why ``value`` (at ``index`` of a batch) is not a framed message, or None when it is."""
    if not value:
        return DecodeFailure(index, *EMPTY_VALUE)
    if value[0] != MAGIC_BYTE:
        return DecodeFailure(
            index,
            "bad_magic",
            f"unknown magic byte {value[0]} (expected 0: Confluent wire format)",
        )
    if len(value) < HEADER_SIZE:
        return DecodeFailure(
            index, "truncated_header", f"{len(value)} bytes, shorter than the 5-byte header"
        )
    return None
