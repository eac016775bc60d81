"""The backtest report as a readable table (rich), from the report dict."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rich.table import Table


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _ratio(value: Any) -> str:
    return "n/a" if _missing(value) else f"{value:.4f}"


def _share(value: Any) -> str:
    return "n/a" if _missing(value) else f"{value:.2%}"


def report_table(report: Mapping[str, Any]) -> Table:
    """Quality over the evaluation period, what was left out, and the run's speed."""
    evaluation = report["evaluation"]
    source = report["input"]
    cpk = evaluation["card_precision_at_k"]
    speed = report["throughput"]
    table = Table(title=f"backtest of {source['path']}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("evaluation period", f"{report['evaluation_start']} .. {source['last_event']}"),
        (
            "transactions scored",
            f"{evaluation['scored']:,} ({evaluation['fraud']:,} fraud, "
            f"{_share(evaluation['fraud_rate'])})",
        ),
        ("ROC AUC", _ratio(evaluation["roc_auc"])),
        ("average precision", _ratio(evaluation["average_precision"])),
        (
            "alerts",
            f"{evaluation['alerts']:,} (alert rate {_share(evaluation['alert_rate'])})",
        ),
        ("alert precision", _ratio(evaluation["alert_precision"])),
        ("alert recall", _ratio(evaluation["alert_recall"])),
        ("alert F1", _ratio(evaluation["alert_f1"])),
        (f"card precision@{cpk['k']}", f"{_ratio(cpk['mean'])} (mean of {cpk['days']} days)"),
        ("models", _models_line(report)),
        ("rules only", _rules_only(report)),
        ("labels released", f"{report['labels_released']:,} chargebacks"),
        (
            "bad rows",
            f"{source['bad_rows']:,} of {source['rows_read']:,}" + _examples(source),
        ),
        ("dead letters", _counts(report["dead_letters"])),
        (
            "throughput",
            f"{speed['rows_per_s']:,.0f} transactions/s (replay {speed['replay_s']:.1f} s, "
            f"read {speed['read_s']:.1f} s, training {speed['training_s']:.1f} s)",
        ),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _examples(source: Mapping[str, Any]) -> str:
    examples = source["bad_row_examples"][:3]
    if not examples:
        return ""
    shown = "; ".join(f"line {e['line']}: {e['reason']}" for e in examples)
    return f" (first: {shown})"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items()) or "none"


def _models_line(report: Mapping[str, Any]) -> str:
    models = report["models"]
    trained = [m for m in models if m.get("trained_at") is not None]
    if not trained:  # --model, no retrain: the model that scored
        served = [f"{p['version']} ({p['kind']})" for p in _periods(report) if p["version"]]
        return ", ".join(dict.fromkeys(served)) or "rules only"
    promoted = sum(1 for m in trained if m["promoted"])
    return f"{len(trained)} trained, {promoted} promoted (see the models table)"


def _periods(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(report.get("scored_by") or [])


def _rules_only(report: Mapping[str, Any]) -> str:
    """The evaluation's periods with no champion (scored by the rules alone), or none."""
    last = report["input"]["last_event"]
    spans = [
        f"{p['from']} .. {p['until'] or last}" for p in _periods(report) if p["version"] is None
    ]
    if not spans:
        return "none"
    return "; ".join(spans) + " (no champion: the metrics include rule-only scores)"


SHORT_KINDS = {"river-logreg": "online"}


def models_table(report: Mapping[str, Any]) -> Table | None:
    """Every model the learner trained: when, kind, rows, validation metrics, the decision
    (the reasons are in the run's log lines and the JSON report)."""
    trained = [m for m in report["models"] if m.get("trained_at") is not None]
    if not trained:
        return None
    table = Table(
        title="models trained (ROC AUC and AP on their validation window)",
        box=None,
        padding=(0, 1, 0, 0),
    )
    for name in ("trained", "kind", "version", "rows/fraud", "AUC", "AP", "decision"):
        table.add_column(name, no_wrap=True)
    for model in trained:
        metrics = model["metrics"] or {}
        training = model["training"]
        table.add_row(
            _day(model["trained_at"]),
            SHORT_KINDS.get(model["kind"], model["kind"] or "-"),
            model["version"] or "-",
            f"{training['rows']:,}/{training['frauds']:,}",
            _ratio(metrics.get("roc_auc")),
            _ratio(metrics.get("average_precision")),
            "promoted" if model["promoted"] else model["decision"],
        )
    return table


def scored_by_table(report: Mapping[str, Any]) -> Table | None:
    """Which model scored each period of the replay."""
    periods = report.get("scored_by") or []
    if not periods:
        return None
    table = Table(title="which model scored when")
    for name in ("from", "until", "model", "kind"):
        table.add_column(name)
    for period in periods:
        until = period["until"] or report["input"]["last_event"]
        table.add_row(period["from"], until, period["version"] or "-", period["kind"])
    return table


def _day(stamp: str) -> str:
    return stamp[5:16].replace("T", " ")
