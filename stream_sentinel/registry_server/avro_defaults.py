"""The Avro specification's rule fastavro does not enforce: a union's default matches its first
branch."""

from __future__ import annotations

import json
from typing import Any

import fastavro.validation

from stream_sentinel.registry_server import errors


def check_defaults(document: Any) -> None:
    """Union defaults must match the first branch (fastavro accepts any branch)."""
    for field in _fields(document):
        branches = field.get("type")
        if not isinstance(branches, list) or "default" not in field or not branches:
            continue
        if not _matches(field["default"], branches[0]):
            raise errors.invalid_schema(
                f"the default of field {field.get('name')!r} must match the first type of its "
                f"union ({json.dumps(branches[0])}), got {json.dumps(field['default'])}"
            )


def _fields(document: Any) -> list[dict[str, Any]]:
    """Every record field, at any depth (named types defined inline included)."""
    found: list[dict[str, Any]] = []
    if isinstance(document, list):
        for branch in document:
            found.extend(_fields(branch))
    elif isinstance(document, dict):
        for field in (
            document.get("fields", []) if document.get("type") in ("record", "error") else []
        ):
            if isinstance(field, dict):
                found.append(field)
                found.extend(_fields(field.get("type")))
        for key in ("items", "values"):
            if key in document:
                found.extend(_fields(document[key]))
    return found


def _matches(default: Any, branch: Any) -> bool:
    if branch == "null":
        return default is None
    if branch in ("bytes", "string"):
        return isinstance(default, str)
    if not isinstance(branch, str):
        return default is not None
    try:
        return bool(fastavro.validation.validate(default, branch, raise_errors=False))
    except Exception:
        return True  # a named type: its own parse already checked the default's shape
