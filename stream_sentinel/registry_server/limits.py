"""How large and how deep the registry's input may be, derived from what Kafka can store.

Every registered schema becomes one record of the compacted ``_schemas`` topic. The first bound
that record meets is the producer's ``message.max.bytes`` (librdkafka's default 1,000,000 bytes,
below the broker's default topic ``max.message.bytes`` of 1,048,588), so the bounds start there.
Nesting is bounded because Python's JSON and Avro parsers recurse once per level.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate

from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.state import LogRecord

PRODUCER_MESSAGE_MAX_BYTES = 1_000_000
# librdkafka refuses key + value over 999,964 bytes (it counts 36 of its own; measured on 2.16).
MAX_RECORD_BYTES = PRODUCER_MESSAGE_MAX_BYTES - 10_000
# The stored record adds its key and JSON envelope to the body's schema: leave ~68 kB for them.
MAX_REQUEST_BYTES = 900 * 1024
# ~30 records nested in one another fit; the parsers were measured to fail between 400 and 600.
MAX_JSON_DEPTH = 100

_STRING = re.compile(r'"[^"\\]*(?:\\[\s\S][^"\\]*)*"?')  # an unterminated one runs to the end
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deep ``text`` nests arrays and objects, counted without recursion or parsing.

    >>> json_depth('{"fields": [{"name": "[not a bracket"}]}')
    3
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def require_storable(records: Sequence[LogRecord]) -> None:
    """RegistryError 42209 when a record is larger than one ``_schemas`` message may be."""
    for key, value in records:
        size = len(key) + len(value or b"")
        if size > MAX_RECORD_BYTES:
            raise errors.schema_too_large(
                f"its _schemas record would be {size} bytes, over the {MAX_RECORD_BYTES}-byte "
                "limit of one Kafka message; make the schema smaller (e.g. shorter docs)"
            )
