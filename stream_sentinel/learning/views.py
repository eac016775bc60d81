"""The registry as people read it: `models list`, `show`, `history` and `diff` as plain lines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from stream_sentinel.learning.aliases import AliasMove
from stream_sentinel.learning.versions import ModelVersion


def utc(time_ms: int) -> str:
    return dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _metric(version: ModelVersion, name: str) -> str:
    value = version.metrics.get(name)
    return "-" if value is None else f"{float(value):.4f}"


def list_lines(versions: Sequence[ModelVersion], aliases: Mapping[str, str]) -> list[str]:
    """One line per version, newest first, with its aliases."""
    if not versions:
        return ["no models registered yet: `stream-sentinel train FILE` registers one"]
    out = [f"{'version':<16}{'kind':<10}{'aliases':<22}{'created (UTC)':<21}{'by':<8}AUC     AP"]
    for v in sorted(versions, key=lambda v: (-v.created_ms, v.version)):
        names = ",".join(sorted(a for a, target in aliases.items() if target == v.version))
        out.append(
            f"{v.version:<16}{v.kind:<10}{names or '-':<22}{utc(v.created_ms):<21}"
            f"{v.created_by:<8}{_metric(v, 'roc_auc'):<8}{_metric(v, 'average_precision')}"
        )
    return out


def show_lines(v: ModelVersion, aliases: Mapping[str, str]) -> list[str]:
    names = ", ".join(sorted(a for a, target in aliases.items() if target == v.version))
    w = v.window
    lines = [
        f"version       {v.version}",
        f"kind          {v.kind}",
        f"aliases       {names or '-'}",
        f"created       {utc(v.created_ms)} UTC by {v.created_by}",
        f"parent        {v.parent or '-'}",
        f"feature set   {v.feature_set.name} {v.feature_set.hash} "
        f"({len(v.feature_set.features)} features, {v.feature_set.encoding})",
        f"trained on    {utc(w.start_ms)} .. {utc(w.end_ms)}: {w.rows:,} rows, {w.frauds:,} fraud",
        f"validated on  {utc(w.validation_start_ms)} .. {utc(w.validation_end_ms)}",
        f"label delay   {w.label_delay_ms / 3_600_000:g} h",
        f"artifact      {v.artifact.format}, {v.artifact.size:,} bytes, sha256 {v.artifact.sha256}",
        f"metrics       ROC AUC {_metric(v, 'roc_auc')}, AP {_metric(v, 'average_precision')}",
    ]
    lines += [f"  {band:<11} {_band(row)}" for band, row in _bands(v).items()]
    lines.append(
        "tags          " + (", ".join(f"{k}={t}" for k, t in sorted(v.tags.items())) or "-")
    )
    return lines


def _bands(v: ModelVersion) -> dict[str, dict[str, float]]:
    bands: Mapping[str, Any] = v.metrics.get("bands") or {}
    return {band: dict(bands[band]) for band in sorted(bands, key=lambda b: bands[b]["threshold"])}


def _band(row: Mapping[str, float]) -> str:
    return (
        f"score >= {row['threshold']:.4f}: alert rate {row['alert_rate']:.2%}, "
        f"precision {row['precision']:.3f}, recall {row['recall']:.3f}"
    )


def history_lines(moves: Sequence[AliasMove]) -> list[str]:
    """Every alias move, newest first."""
    if not moves:
        return ["no alias has moved yet: `stream-sentinel models promote VERSION` sets one"]
    out = []
    for m in moves:
        reason = f": {m.reason}" if m.reason else ""
        out.append(
            f"{utc(m.time_ms)}  {m.alias} #{m.seq} {m.kind} {m.previous or '-'} -> {m.version}"
            f"  by {m.actor or '-'}{reason}"
        )
    return out


def diff_rows(a: ModelVersion, b: ModelVersion) -> list[tuple[str, str, str]]:
    """``(field, a, b)`` rows: metadata, metrics and feature sets side by side."""
    rows = [
        ("version", a.version, b.version),
        ("kind", a.kind, b.kind),
        ("created", utc(a.created_ms), utc(b.created_ms)),
        ("created by", a.created_by, b.created_by),
        ("parent", a.parent or "-", b.parent or "-"),
        ("feature set", _fs(a), _fs(b)),
        ("training rows", f"{a.window.rows:,}", f"{b.window.rows:,}"),
        ("training fraud", f"{a.window.frauds:,}", f"{b.window.frauds:,}"),
        ("trained until", utc(a.window.end_ms), utc(b.window.end_ms)),
        ("label delay ms", str(a.window.label_delay_ms), str(b.window.label_delay_ms)),
        ("ROC AUC", _metric(a, "roc_auc"), _metric(b, "roc_auc")),
        ("average precision", _metric(a, "average_precision"), _metric(b, "average_precision")),
    ]
    bands_a, bands_b = _bands(a), _bands(b)
    for band in sorted(set(bands_a) | set(bands_b)):
        for name in ("threshold", "alert_rate", "precision", "recall"):
            rows.append((f"{band} {name}", _num(bands_a, band, name), _num(bands_b, band, name)))
    for key in sorted(set(a.params) | set(b.params)):
        rows.append((f"param {key}", str(a.params.get(key, "-")), str(b.params.get(key, "-"))))
    only_a = [f for f in a.feature_set.features if f not in b.feature_set.features]
    only_b = [f for f in b.feature_set.features if f not in a.feature_set.features]
    rows.append(("features only here", ", ".join(only_a) or "-", ", ".join(only_b) or "-"))
    return rows


def _fs(v: ModelVersion) -> str:
    return f"{v.feature_set.name} {v.feature_set.hash} ({len(v.feature_set.features)})"


def _num(bands: Mapping[str, Mapping[str, float]], band: str, name: str) -> str:
    return f"{bands[band][name]:.4f}" if band in bands else "-"


def diff_lines(a: ModelVersion, b: ModelVersion) -> list[str]:
    """The diff as aligned columns; ``*`` marks rows that differ."""
    rows = diff_rows(a, b)
    width = max(len(r[1]) for r in rows if len(r[1]) <= 40) + 2  # long lists just run on
    names = max(len(r[0]) for r in rows) + 2
    return [
        f"{'*' if x != y and name != 'version' else ' '} {name:<{names}}{x:<{width - 2}}  {y}"
        for name, x, y in rows
    ]
