"""Record writers compiled from a field plan: the shared core of the fast writers.

A fast writer (:mod:`.scorewire`, :mod:`.featurewire`) takes a record's values as arguments
and returns its framed Avro binary. :func:`compile_writer` generates that function once per
plan, as dataclasses generate ``__init__``: one join of the fields' encodings in plan order,
each by its type's encoder (:mod:`.binary`), a field the writer has no argument for as its
default, a field the caller encodes itself (the same for a whole batch, or encoded in bulk) as
given. So a record costs what a hand-written writer costs, and a field added to the schema
needs no code. The generated source holds only the writer's own argument names: the schema's
field names never enter it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from stream_sentinel.wire.binary import Encode, default_bytes
from stream_sentinel.wire.schemas.plan import RecordPlan


def compile_writer(
    plan: RecordPlan,
    arguments: Mapping[str, str],
    given: Collection[str],
    encoders: Mapping[str, Encode],
    header: bytes,
) -> Callable[..., bytes]:
    """``write(*arguments.values())`` for this plan.

    ``arguments`` maps a field name to the writer's parameter for it (a Python identifier of
    ours); fields in ``given`` are passed already encoded; ``header`` (the framing) comes first.
    """
    for name in arguments.values():
        if not name.isidentifier():
            raise ValueError(f"writer argument {name!r} is not an identifier")
    scope: dict[str, Any] = {"header": header}
    parts = ["header"]
    for number, field in enumerate(plan.fields):
        argument = arguments.get(field.name)
        if argument is None:
            scope[f"default_{number}"] = default_bytes(field)
            parts.append(f"default_{number}")
        elif field.name in given:
            parts.append(argument)
        else:
            scope[f"encode_{number}"] = encoders[field.name]
            parts.append(f"encode_{number}({argument})")
    source = (
        f"def write({', '.join(arguments.values())}):\n    return b''.join(({', '.join(parts)}))\n"
    )
    exec(source, scope)
    write: Callable[..., bytes] = scope["write"]
    return write
