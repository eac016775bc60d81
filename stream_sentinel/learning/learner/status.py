"""`learn status`: the training set (rows, frauds, window), the last and next retrain, and the
decisions, as the learner persisted them in its state (no running learner needed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from stream_sentinel.learning.learner.online import online_summary
from stream_sentinel.learning.learner.store import TrainingSetStore
from stream_sentinel.learning.retrain_requests import requests_waiting
from stream_sentinel.state.base import StateStore

#: Decisions `learn status` prints (``--json`` has every one kept).
SHOWN_DECISIONS = 10


def read_status(state: StateStore) -> dict[str, Any]:
    """What `learn status --json` prints: what the learner persisted (its parameters, the
    training set's counts as of its last survey or retrain, its next retrain), never a join
    recomputed with this command's settings."""
    training_set = TrainingSetStore(state)
    status = training_set.status()
    waiting = requests_waiting(state, status.get("acted_requests", [])).requests
    return {
        "event_time_ms": training_set.clock(),
        "waiting_requests": len(waiting),
        "parameters": status.get("parameters"),
        "training_set": status.get("training_set"),
        "last_retrain_ms": status.get("last_retrain_ms"),
        "next_retrain_ms": status.get("next_retrain_ms"),
        "retrains": int(status.get("retrains", 0)),
        "last_decision": status.get("last_decision"),
        "decisions": training_set.decisions(),
        "online": online_summary(state),
    }


def status_lines(found: dict[str, Any]) -> list[str]:
    if found["event_time_ms"] is None or found["training_set"] is None:
        return ["the learner has read no decision-features rows yet"]
    ts, decision = found["training_set"], found["last_decision"]
    lines = [
        f"event time      {_time(found['event_time_ms'])}",
        _parameters(found["parameters"]),
        f"counted at      {_time(ts['now_ms'])} (event time)",
        f"training set    {ts['rows']:,} rows, {ts['frauds']:,} frauds "
        f"({ts['labelled']:,} labelled, {ts['unlabelled']:,} never labelled counted legitimate)",
        f"  window        {_time(ts['window_start_ms'])} .. {_time(ts['mature_end_ms'])} "
        f"(validation from {_time(ts['validation_start_ms'])})",
        f"  training      {ts['train_rows']:,} rows, {ts['train_frauds']:,} frauds; validation "
        f"{ts['validation_rows']:,} rows, {ts['validation_frauds']:,} frauds",
        f"  waiting       {ts['pending']:,} rows younger than the label delay; "
        f"{ts['unmatched_labels']:,} labels without a logged row; "
        f"{ts['other_feature_set']:,} rows of another feature set left out",
        f"last retrain    {_time(found['last_retrain_ms'])} ({found['retrains']} so far)",
        f"next retrain    {_time(found['next_retrain_ms'])} (event time)"
        + (
            f"; {found['waiting_requests']} request(s) waiting" if found["waiting_requests"] else ""
        ),
    ]
    online = found.get("online")
    if online:
        lines.append(
            f"online model    {online.get('rows', 0):,} rows learned "
            f"({online.get('frauds', 0):,} frauds), "
            f"every row before {_time(online['cursor_ms'])} and {online['learned_early']:,} "
            "labelled ones after it"
        )
    if decision is None:
        return [*lines, "last decision   none yet"]
    lines.append(f"last decision   {_decision(decision)}")
    shown = found["decisions"][:SHOWN_DECISIONS]
    lines.append(f"decisions       {len(found['decisions'])} kept, newest first:")
    return lines + [f"  {_time(d['event_time_ms'])}  {_decision(d)}" for d in shown]


def _decision(decision: dict[str, Any]) -> str:
    moved = f"{decision['version']} -> {decision['alias']}" if decision["version"] else "no model"
    return f"{moved} ({decision['trigger']}): {decision['reason']}"


def _parameters(parameters: dict[str, int] | None) -> str:
    if parameters is None:
        return "parameters      not recorded"
    days = {k: v / 86_400_000 for k, v in parameters.items() if k.endswith("_ms")}
    return (
        f"parameters      retrain every {days['retrain_every_ms']:g}d, window "
        f"{days['window_ms']:g}d, label delay {days['label_delay_ms']:g}d, validation "
        f"{days['validation_ms']:g}d, one in {parameters['legit_keep_one_in']} never-labelled "
        "rows kept"
    )


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
