"""The online model's learning in the learner: read what became learnable, learn it row by row,
and store the model with its position in one atomic write (DB2, beside the training set).

Layout (in the feedback store's DB2, no TTL):

* ``learn:online`` (hash): ``model``, the JSON state; ``position``, the cursor and the rows
  learned early; ``learned``, counts and event-time span; ``seq``, the write's guard;
* ``learn:online:scores:{hour}`` (hash): transaction id -> the score the model gave the row
  just before learning it (dropped with the hour).

An update reads the rows from the cursor's hour to the label delay's edge, the labels from the
cursor's hour to now, and the rows of labelled transactions younger than the edge; plans the
steps (:mod:`.online_plan`); scores each row, then learns it; and writes state, position,
counts and scores in one guarded batch whose watermark is the update count. A crash before the
write leaves the previous state and position, so the same rows are learned again from the same
state (the same result); a write that lost a race with another learner process changes nothing.
So no row is learned twice and none is skipped across restarts.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.learning.labels import SourcedLabel
from stream_sentinel.learning.learner.online_plan import Plan, Position, plan
from stream_sentinel.learning.learner.rows import HOUR_MS, LoggedRow, hour_of
from stream_sentinel.learning.learner.store import (
    NS,
    TrainingSetStore,
    labels_key,
    online_scores_key,
    rows_key,
)
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.scoring.online import OnlineLogReg
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore

ONLINE = "learn:online"
SEQ = "seq"


_log = logging.getLogger(__name__)


@dataclass
class OnlineState:
    """The online model as stored, with its position and counts."""

    model: OnlineLogReg
    position: Position | None  # None: nothing learned yet
    counts: dict[str, int] = field(default_factory=dict)
    seq: int = 0


class OnlineLearning:
    """Learns the online model as labels arrive (see the module doc)."""

    def __init__(self, state: StateStore, label_delay_ms: int, window_ms: int, keep: int) -> None:
        self._store, self._set = state, TrainingSetStore(state)
        self._delay, self._window, self._keep = label_delay_ms, window_ms, keep

    def load(self) -> OnlineState:
        [found] = self._store.execute(Batch().hgetall(NS, ONLINE))
        if not found.get("model"):
            return OnlineState(OnlineLogReg(FEATURES), None)
        position = json.loads(found["position"])
        model, seq = OnlineLogReg.from_bytes(found["model"]), int(found.get(SEQ) or 0)
        if model.features != FEATURES:
            # learned on another feature set (an upgrade changed the features): its weights
            # do not fit the rows now logged, so it starts again (the guard's count goes on)
            _log.warning(
                "the stored online model reads %d features, the detector now logs %d: "
                "starting a new online model",
                len(model.features),
                len(FEATURES),
            )
            return OnlineState(OnlineLogReg(FEATURES), None, {}, seq)
        return OnlineState(
            model,
            Position.from_json(position) if position else None,
            json.loads(found.get("learned") or "{}"),
            seq,
        )

    def update(self, now_ms: int) -> int:
        """Learn every row learnable at ``now_ms``; how many were learned."""
        held = self.load()
        position = held.position or Position(now_ms - self._window)
        rows, labels = self._read(position, now_ms)
        steps = plan(rows, labels, position, now_ms, self._delay, self._keep)
        if not steps.steps and steps.position == held.position:
            return 0
        scores = self._learn(held, steps)
        self._write(held, steps, scores, now_ms)
        return len(steps.steps)

    def _learn(self, held: OnlineState, steps: Plan) -> dict[int, dict[str, float]]:
        """Score each row, then learn it (the scores are prequential: before learning)."""
        model, counts = held.model, held.counts
        scores: dict[int, dict[str, float]] = defaultdict(dict)
        for step in steps.steps:
            row = step.row
            scores[hour_of(row.event_time)][row.transaction_id] = model.predict_one(row.features)
            model.learn_one(row.features, step.fraud, step.weight)
            counts["rows"] = counts.get("rows", 0) + 1
            counts["frauds"] = counts.get("frauds", 0) + int(step.fraud)
            counts.setdefault("first_ms", row.event_time)
            counts["last_ms"] = max(counts.get("last_ms", row.event_time), row.event_time)
        return scores

    def _write(
        self, held: OnlineState, steps: Plan, scores: dict[int, dict[str, float]], now_ms: int
    ) -> bool:
        held.counts["updated_at_ms"] = now_ms
        batch = Batch().hset(
            NS,
            ONLINE,
            {
                "model": held.model.to_bytes(),
                "position": json.dumps(steps.position.to_json(), sort_keys=True),
                "learned": json.dumps(held.counts, sort_keys=True),
            },
        )
        for hour, by_tx in sorted(scores.items()):
            batch.hset(NS, online_scores_key(hour), {t: repr(s) for t, s in by_tx.items()})
        guard = Guard(NS, ONLINE, SEQ, held.seq + 1, expect=held.seq or None)
        return self._store.apply_guarded(guard, batch) is Outcome.APPLIED

    def _read(
        self, position: Position, now_ms: int
    ) -> tuple[dict[str, LoggedRow], dict[str, list[SourcedLabel]]]:
        """Rows from the cursor to the label delay's edge; labels from the cursor to now; and
        the rows of labelled transactions past the edge (three round trips)."""
        edge = max(now_ms - self._delay, position.cursor_ms)
        held = [
            h for h in self._set.hours() if hour_of(position.cursor_ms) <= h <= now_ms // HOUR_MS
        ]
        matured = [h for h in held if h <= hour_of(edge)]
        batch = Batch()
        for hour in matured:
            batch.hgetall(NS, rows_key(hour))
        for hour in held:
            batch.hgetall(NS, labels_key(hour))
        replies = self._store.execute(batch) if held else []
        rows: dict[str, LoggedRow] = {}
        for packed in replies[: len(matured)]:
            rows.update({t: LoggedRow.unpack(t, blob) for t, blob in packed.items()})
        labels: dict[str, list[SourcedLabel]] = defaultdict(list)
        for labelled in replies[len(matured) :]:
            for name, blob in labelled.items():
                labels[name.rsplit("|", 2)[0]].append(SourcedLabel.decode(blob))
        rows.update(self._young_rows(labels, rows, position))
        return rows, dict(labels)

    def _young_rows(
        self, labels: dict[str, list[SourcedLabel]], rows: dict[str, LoggedRow], at: Position
    ) -> dict[str, LoggedRow]:
        wanted = [
            (t, hour_of(found[0].event_time))
            for t, found in labels.items()
            if t not in rows and t not in at.early
        ]
        if not wanted:
            return {}
        batch = Batch()
        for t, hour in wanted:
            batch.hget(NS, rows_key(hour), t)
        blobs = self._store.execute(batch)
        return {t: LoggedRow.unpack(t, b) for (t, _), b in zip(wanted, blobs, strict=True) if b}

    def prequential(self, transactions: list[str], event_times: list[int]) -> list[float | None]:
        """The score each row got just before the online model learned it (None: never
        learned), in the order given."""
        hours = sorted({hour_of(e) for e in event_times})
        if not hours:
            return []
        batch = Batch()
        for hour in hours:
            batch.hgetall(NS, online_scores_key(hour))
        found: dict[str, float] = {}
        for reply in self._store.execute(batch):
            found.update({t: float(s) for t, s in reply.items()})
        return [found.get(t) for t in transactions]


def online_summary(state: StateStore) -> dict[str, Any] | None:
    """What `learn status` shows of the online model (None: it has learned nothing)."""
    [found] = state.execute(Batch().hgetall(NS, ONLINE))
    if not found.get("model"):
        return None
    position = json.loads(found["position"])
    return {
        "cursor_ms": position["cursor_ms"],
        "learned_early": len(position["early"]),
        **json.loads(found.get("learned") or "{}"),
    }
