"""Property search over the generic decoder, run in a child process by test_decode_bounds.py.

Arbitrary writer schemas (recursive records, arrays and maps of nulls, unions, enums, fixed)
and arbitrary bytes: decode_many never raises, never crashes the process and never hangs. A
crash or a hang cannot be caught in the process that has it, so the parent runs this file with
a hard time limit and reads its exit status.
"""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.schemas import find
from stream_sentinel.wire.serde import AvroDecoder, frame

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
_names = itertools.count()


def _record(fields: list[Any]) -> dict[str, Any]:
    name = f"R{next(_names)}"
    # the last field may point back at the record itself: a recursive type
    own = [{"name": "back", "type": ["null", name], "default": None}]
    return {
        "type": "record",
        "name": name,
        "fields": [{"name": f"f{i}", "type": t} for i, t in enumerate(fields)] + own,
    }


def _union(branches: list[Any]) -> list[Any]:
    seen, out = set(), []
    for branch in ["null", *branches]:
        tag = json.dumps(branch, sort_keys=True) if not isinstance(branch, dict) else id(branch)
        if tag not in seen and not isinstance(branch, list):
            seen.add(tag)
            out.append(branch)
    return out


def schemas() -> st.SearchStrategy[Any]:
    leaves = (
        st.sampled_from(PRIMITIVES)
        | st.builds(
            lambda n: {
                "type": "enum",
                "name": f"E{next(_names)}",
                "symbols": [f"S{i}" for i in range(n)],
            },
            st.integers(1, 4),
        )
        | st.builds(
            lambda n: {"type": "fixed", "name": f"F{next(_names)}", "size": n}, st.integers(0, 9)
        )
    )
    return st.recursive(
        leaves,
        lambda inner: (
            st.builds(lambda t: {"type": "array", "items": t}, inner)
            | st.builds(lambda t: {"type": "map", "values": t}, inner)
            | st.builds(_union, st.lists(inner, min_size=1, max_size=3))
            | st.builds(_record, st.lists(inner, max_size=4))
        ),
        max_leaves=12,
    )


REGISTRY = LocalRegistryClient.in_memory()
READER = find("Transaction", 2).text


@settings(max_examples=int(sys.argv[1]) if len(sys.argv) > 1 else 300, deadline=None,
          suppress_health_check=list(HealthCheck), derandomize=True)  # fmt: skip
@given(schema=schemas(), bodies=st.lists(st.binary(max_size=200), min_size=1, max_size=8))
def decoding_never_raises(schema: Any, bodies: list[bytes]) -> None:
    top = {
        "type": "record",
        "name": "Transaction",
        "namespace": "io.streamsentinel",
        "fields": [
            {"name": "inner", "type": schema},
            {"name": "back", "type": ["null", "Transaction"], "default": None},
        ],
    }
    try:
        schema_id = REGISTRY.register(f"s{next(_names)}-value", json.dumps(top))
    except RegistryError:
        assume(False)  # not valid Avro (the registry says why): nothing to decode
    for reader in (READER, None):  # resolving into Transaction, and read as written
        decoder = AvroDecoder(REGISTRY, reader)
        values = [frame(schema_id, body) for body in bodies]
        # hostile block counts, lengths and depth markers: the prefixes decoders trip on
        values += [frame(schema_id, b"\x02" * 5000 + body) for body in bodies[:2]]
        values += [frame(schema_id, b"\x80" * 9 + b"\x01" + body) for body in bodies[:2]]
        records, failures = decoder.decode_many(values)
        assert len(records) == len(values)
        failed = {f.index for f in failures}
        assert all((r is None) == (i in failed) for i, r in enumerate(records))


if __name__ == "__main__":
    decoding_never_raises()
    print("decoding_never_raises: ok")
