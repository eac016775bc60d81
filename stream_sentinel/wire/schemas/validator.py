"""A strict, compiled conformance check of a record against an Avro schema.

fastavro's writer coerces silently where a producer made a mistake (``"12"`` written as the double
12.0, ``1.7`` truncated into a long, ``True`` written as 1, unknown fields dropped), and its own
``validate`` is an order of magnitude slower than writing. This module compiles a schema once into
nested closures that check a record in one pass and, on failure, say which field is wrong.
Logical types are checked as their underlying type: times are epoch-millisecond ints, as the
domain keeps them (datetime objects are refused rather than converted).

>>> check = compile_validator({"type": "record", "name": "R",
...                            "fields": [{"name": "amount", "type": "double"}]})
>>> check({"amount": 1.5}) is None
True
>>> print(check({"amount": "12"}))
amount: expected double, got str '12'
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.errors import SchemaError


@dataclass(slots=True)
class Problem:
    """Why a value does not conform: where (field names, [index], [key]) and what is wrong."""

    message: str
    path: list[str] = field(default_factory=list)

    def within(self, step: str) -> Problem:
        self.path.insert(0, step)
        return self

    @property
    def location(self) -> str:
        text = ""
        for step in self.path:
            text += step if step.startswith("[") or not text else "." + step
        return text or "<record>"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


Check = Callable[[Any], Problem | None]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_TIMESTAMPS = {
    "timestamp-millis",
    "timestamp-micros",
    "local-timestamp-millis",
    "local-timestamp-micros",
}


def compile_validator(schema: Any) -> Check:
    """Compile a schema (JSON form, as in an .avsc file) into a checker returning a Problem."""
    return _Compiler().compile(schema, namespace="")


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _mismatch(expected: str, value: Any) -> Problem:
    return Problem(f"expected {expected}, got {_describe(value)}")


class _Compiler:
    """Turns schema JSON into checkers, resolving named types (records may refer to themselves)."""

    def __init__(self) -> None:
        self._named: dict[str, Check] = {}

    def compile(self, schema: Any, namespace: str) -> Check:
        if isinstance(schema, str):
            return self._primitive_or_named(schema, namespace)
        if isinstance(schema, list):
            return self._union(schema, namespace)
        if isinstance(schema, dict):
            return self._complex(schema, namespace)
        raise SchemaError(f"not an Avro schema: {schema!r}")

    def _primitive_or_named(self, name: str, namespace: str) -> Check:
        primitive = _PRIMITIVES.get(name)
        if primitive is not None:
            return primitive
        full = name if "." in name or not namespace else f"{namespace}.{name}"
        for candidate in (full, name):
            if candidate in self._named:
                return self._deferred(candidate)
        raise SchemaError(f"unknown Avro type {name!r}")

    def _deferred(self, full_name: str) -> Check:
        named = self._named
        return lambda value: named[full_name](value)

    def _complex(self, schema: dict[str, Any], namespace: str) -> Check:
        kind = schema.get("type")
        if kind in ("record", "error"):
            return self._record(schema, namespace)
        if kind == "enum":
            return self._register(schema, namespace, _enum(schema))
        if kind == "fixed":
            return self._register(schema, namespace, _fixed(int(schema["size"])))
        if kind == "array":
            return _array(self.compile(schema["items"], namespace))
        if kind == "map":
            return _map(self.compile(schema["values"], namespace))
        return self.compile(kind, namespace)

    def _register(self, schema: dict[str, Any], namespace: str, check: Check) -> Check:
        self._named[_full_name(schema, namespace)] = check
        return check

    def _record(self, schema: dict[str, Any], namespace: str) -> Check:
        full = _full_name(schema, namespace)
        self._named[full] = lambda value: None  # placeholder while fields compile (recursion)
        inner_namespace = full.rpartition(".")[0]
        fields = [
            (
                f["name"],
                _fast_types(f["type"]),
                self.compile(f["type"], inner_namespace),
                "default" in f,
            )
            for f in schema["fields"]
        ]
        check = _record(fields)
        self._named[full] = check
        return check

    def _union(self, branches: list[Any], namespace: str) -> Check:
        checks = [self.compile(branch, namespace) for branch in branches]
        names = [_branch_name(branch) for branch in branches]
        nullable = "null" in branches
        expected = "one of [" + ", ".join(names) + "]"

        def check_union(value: Any) -> Problem | None:
            if value is None and nullable:
                return None
            for check in checks:
                if check(value) is None:
                    return None
            return _mismatch(expected, value)

        return check_union


def _full_name(schema: dict[str, Any], namespace: str) -> str:
    name = str(schema["name"])
    if "." in name:
        return name
    space = schema.get("namespace", namespace)
    return f"{space}.{name}" if space else name


def _branch_name(branch: Any) -> str:
    if isinstance(branch, dict):
        return str(branch.get("name") or branch.get("type"))
    return str(branch)


def _fast_types(schema: Any) -> frozenset[type]:
    """Python types that certainly conform to ``schema``: checked with one set lookup."""
    branches = schema if isinstance(schema, list) else [schema]
    if not all(isinstance(branch, str) and branch in _FAST for branch in branches):
        return frozenset()
    return frozenset().union(*(_FAST[branch] for branch in branches))


def _record(fields: list[tuple[str, frozenset[type], Check, bool]]) -> Check:
    names = frozenset(name for name, _, _, _ in fields)

    def check_record(value: Any) -> Problem | None:
        if not isinstance(value, Mapping):
            return _mismatch("a record (mapping)", value)
        present = 0
        for name, fast, check, has_default in fields:
            if name in value:
                present += 1
                item = value[name]
                if type(item) in fast:
                    continue
                problem = check(item)
                if problem is not None:
                    return problem.within(name)
            elif not has_default:
                return Problem("missing (the field is required and has no default)", [name])
        if present != len(value):
            unknown = sorted(str(key) for key in value if key not in names)
            return Problem("unknown field (not in the schema)", [unknown[0]])
        return None

    return check_record


def _array(items: Check) -> Check:
    def check_array(value: Any) -> Problem | None:
        if not isinstance(value, list | tuple):
            return _mismatch("array", value)
        for index, item in enumerate(value):
            problem = items(item)
            if problem is not None:
                return problem.within(f"[{index}]")
        return None

    return check_array


def _map(values: Check) -> Check:
    def check_map(value: Any) -> Problem | None:
        if not isinstance(value, Mapping):
            return _mismatch("map", value)
        for key, item in value.items():
            if not isinstance(key, str):
                return _mismatch("string map key", key)
            problem = values(item)
            if problem is not None:
                return problem.within(f"[{key!r}]")
        return None

    return check_map


def _enum(schema: dict[str, Any]) -> Check:
    symbols = frozenset(schema["symbols"])
    expected = f"one of the {schema['name']} symbols {list(schema['symbols'])}"

    def check_enum(value: Any) -> Problem | None:
        if isinstance(value, str) and value in symbols:
            return None
        return _mismatch(expected, value)

    return check_enum


def _fixed(size: int) -> Check:
    def check_fixed(value: Any) -> Problem | None:
        if isinstance(value, bytes | bytearray) and len(value) == size:
            return None
        return _mismatch(f"{size} bytes", value)

    return check_fixed


def _integer(kind: str, bounds: tuple[int, int]) -> Check:
    low, high = bounds

    def check_integer(value: Any) -> Problem | None:
        if type(value) is int or (
            isinstance(value, numbers.Integral) and not isinstance(value, bool)
        ):
            if low <= int(value) <= high:
                return None
            return Problem(f"{value} is out of range for {kind}")
        return _mismatch(kind, value)

    return check_integer


def _real(kind: str) -> Check:
    def check_real(value: Any) -> Problem | None:
        if type(value) is float or (
            isinstance(value, numbers.Real) and not isinstance(value, bool)
        ):
            return None
        return _mismatch(kind, value)

    return check_real


def _of_type(kind: str, accepted: type | tuple[type, ...]) -> Check:
    def check_type(value: Any) -> Problem | None:
        if isinstance(value, accepted) and not (kind != "boolean" and isinstance(value, bool)):
            return None
        return _mismatch(kind, value)

    return check_type


def _null(value: Any) -> Problem | None:
    return None if value is None else _mismatch("null", value)


_PRIMITIVES: dict[str, Check] = {
    "null": _null,
    "boolean": _of_type("boolean", bool),
    "int": _integer("int", _INT32),
    "long": _integer("long", _INT64),
    "float": _real("float"),
    "double": _real("double"),
    "string": _of_type("string", str),
    "bytes": _of_type("bytes", (bytes, bytearray)),
}

# Exact types that conform without further checks (ints need a range check for long, so only the
# fast types that cannot overflow are listed; bool is excluded by exact-type lookup).
_FAST: dict[str, frozenset[type]] = {
    "null": frozenset({type(None)}),
    "boolean": frozenset({bool}),
    "float": frozenset({float, int}),
    "double": frozenset({float, int}),
    "string": frozenset({str}),
    "bytes": frozenset({bytes}),
}
