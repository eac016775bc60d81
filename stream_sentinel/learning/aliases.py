"""Aliases and their history: which version each name points at, and how it got there.

Every move is an :class:`AliasMove` (time, previous version, reason, actor). A rollback is a
move too; it undoes the latest move that is still in effect, so rolling back twice walks two
steps back along the lineage, as an undo stack does.

>>> moves = [move("champion", v, n) for n, v in enumerate(["m-a", "m-b", "m-c"], 1)]
>>> lineage(moves, "champion"), rollback_target(moves, "champion")
(['m-a', 'm-b', 'm-c'], 'm-b')
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from stream_sentinel.errors import UsageError

CHAMPION = "champion"
CHALLENGER = "challenger"
SHADOW = "shadow"
ALIAS_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")

MoveKind = Literal["promote", "rollback"]


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One move of one alias; ``seq`` numbers the alias's moves from 1."""

    alias: str
    version: str
    previous: str | None
    seq: int
    time_ms: int
    reason: str
    actor: str
    kind: MoveKind = "promote"

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, blob: bytes) -> AliasMove:
        data: dict[str, Any] = json.loads(blob)
        return cls(**data)


def move(alias: str, version: str, seq: int, kind: MoveKind = "promote") -> AliasMove:
    """A move with no time, reason or actor (for examples and tests)."""
    return AliasMove(alias, version, None, seq, 0, "", "", kind)


def check_alias(name: str) -> str:
    """``name`` when it can be an alias, else a :class:`UsageError` saying what can."""
    if not ALIAS_PATTERN.fullmatch(name):
        raise UsageError(
            f"{name!r} cannot be an alias: use 1-32 lower-case letters, digits, '-' or '_', "
            f"starting with a letter (such as {CHAMPION}, {CHALLENGER}, {SHADOW})"
        )
    if name.startswith("m-"):
        raise UsageError(f"{name!r} cannot be an alias: 'm-' starts version ids")
    return name


def lineage(moves: Sequence[AliasMove], alias: str) -> list[str]:
    """The versions still in effect for ``alias``, oldest first (the last one is current)."""
    stack: list[str] = []
    for entry in sorted((m for m in moves if m.alias == alias), key=lambda m: m.seq):
        if entry.kind == "promote":
            stack.append(entry.version)
        elif stack:
            stack.pop()
    return stack


def rollback_target(moves: Sequence[AliasMove], alias: str) -> str:
    """The version a rollback of ``alias`` moves to; UsageError when there is none."""
    stack = lineage(moves, alias)
    if len(stack) < 2:
        where = f"it points at {stack[-1]}" if stack else "it was never set"
        raise UsageError(
            f"nothing to roll {alias} back to: {where} with no earlier version in its history "
            "(stream-sentinel models history); promote a version instead"
        )
    return stack[-2]
