"""The Models page: the registry's versions, one version's record, and every alias move.

Read-only: it reads through :class:`~stream_sentinel.learning.registry.ModelRegistry` (the state
store's models database) and changes nothing; promotion and rollback stay in the CLI
(`stream-sentinel models promote` / `rollback`), where every move records its reason and actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.learning.aliases import AliasMove
from stream_sentinel.learning.registry import ModelRegistry, describe
from stream_sentinel.learning.versions import ModelVersion

READ_ONLY = (
    "Read-only: promote and roll back with `stream-sentinel models promote VERSION --alias "
    "NAME --reason TEXT` and `stream-sentinel models rollback`, which record who moved what."
)


def registry(sources: ConsoleSources) -> ModelRegistry:
    return ModelRegistry(sources.state, sources.clock)


def _metric(version: ModelVersion, name: str) -> float | None:
    value = version.metrics.get(name)
    return None if value is None else float(value)


def summary(version: ModelVersion, aliases: Mapping[str, str]) -> dict[str, Any]:
    """One row of the versions table."""
    w = version.window
    return {
        "version": version.version,
        "kind": version.kind,
        "aliases": sorted(a for a, v in aliases.items() if v == version.version),
        "created": version.created_ms,
        "created_by": version.created_by,
        "roc_auc": _metric(version, "roc_auc"),
        "average_precision": _metric(version, "average_precision"),
        "rows": w.rows,
        "frauds": w.frauds,
        "window": {"start_ms": w.start_ms, "end_ms": w.end_ms},
    }


def bands(version: ModelVersion) -> list[dict[str, Any]]:
    """The validation metrics at each band, lowest threshold first."""
    found: Mapping[str, Any] = version.metrics.get("bands") or {}
    rows = [{"band": band, **{k: float(v) for k, v in found[band].items()}} for band in found]
    return sorted(rows, key=lambda row: (row.get("threshold", 0.0), row["band"]))


def move_json(entry: AliasMove) -> dict[str, Any]:
    return {
        "time": entry.time_ms,
        "alias": entry.alias,
        "seq": entry.seq,
        "kind": entry.kind,
        "from": entry.previous,
        "to": entry.version,
        "reason": entry.reason,
        "actor": entry.actor,
    }


def list_models(sources: ConsoleSources) -> dict[str, Any]:
    """Every version (newest first), the aliases, and every alias move (newest first)."""
    found = registry(sources)
    aliases = found.aliases()
    versions = sorted(found.versions(), key=lambda v: (-v.created_ms, v.version))
    return {
        "versions": [summary(v, aliases) for v in versions],
        "aliases": aliases,
        "history": [move_json(m) for m in found.history()],
        "read_only": READ_ONLY,
    }


def show_model(sources: ConsoleSources, name: str) -> dict[str, Any]:
    """One version (by id, unique prefix or alias): its record, its bands, its alias moves."""
    found = registry(sources)
    version = found.get(found.resolve(name))
    aliases = found.aliases()
    moves = [m for m in found.history() if version.version in (m.version, m.previous)]
    return {
        **describe(version, aliases),
        "summary": summary(version, aliases),
        "band_metrics": bands(version),
        "history": [move_json(m) for m in moves],
        "read_only": READ_ONLY,
    }
