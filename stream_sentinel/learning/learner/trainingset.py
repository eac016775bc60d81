"""The labelled training set: each label joined to the features logged at decision time.

Pure: logged rows and labels in, arrays out. A retrain at event time ``now`` draws its lines in
event time (:class:`Cut`, every interval half-open)::

    window_start            validation_start       mature_end            now
         |------- training -------|---- validation ----|--- pending ---|
                                                         (younger than the label delay)

* a label counts only once known (``label_time <= now``); of a transaction's labels the one
  :func:`~stream_sentinel.learning.labels.effective` picks (precedence) decides;
* a row never labelled counts as legitimate only once it is older than the label delay (before
  ``mature_end``); younger rows, labelled or not, wait (``pending``), so both parts see labels
  that have had their time to arrive;
* never-labelled rows are sampled one in ``keep_one_in`` (a stable hash of the transaction id),
  each kept row weighted ``keep_one_in``; labelled rows are all kept with weight 1;
* a row logged with another feature set than the live one (its ``feature_set_hash``), or with
  a vector of another width, is left out and counted (``other_feature_set``);
* a row with a label dated before its decision (``decided_time``) cannot be trusted
  (``leaky``: the detector's merchant label features may already hold it) and is dropped;
  labels without a logged row are counted (``unmatched_labels``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from stream_sentinel.learning.labels import SourcedLabel, effective
from stream_sentinel.learning.learner.rows import LoggedRow
from stream_sentinel.logic.feature_set import LIVE_HASH
from stream_sentinel.logic.features import FEATURES

FRAUD = "FRAUD"


@dataclass(frozen=True, slots=True)
class Cut:
    """Where a retrain at event time ``now_ms`` draws its lines (epoch ms)."""

    now_ms: int
    label_delay_ms: int
    window_ms: int
    validation_ms: int

    @property
    def mature_end(self) -> int:
        """Rows before this have had the label delay to get their labels."""
        return self.now_ms - self.label_delay_ms

    @property
    def validation_start(self) -> int:
        return self.mature_end - self.validation_ms

    @property
    def window_start(self) -> int:
        return self.now_ms - self.window_ms


@dataclass(frozen=True, slots=True)
class Part:
    """Rows of one part (training or validation), in event-time order."""

    features: np.ndarray  # [rows, features] float64
    labels: np.ndarray  # 1 fraud, 0 legitimate
    weights: np.ndarray  # int: how many transactions each row stands for
    event_time: np.ndarray  # int64
    label_time: np.ndarray  # int64, -1 for rows never labelled
    users: tuple[str, ...]
    transactions: tuple[str, ...] = ()  # the rows' transaction ids (the online model's lookup)

    @property
    def rows(self) -> int:
        return len(self.labels)

    @property
    def frauds(self) -> int:
        return int(self.labels.sum())

    def expanded(self) -> Part:
        """Each row repeated by its weight: the traffic the sample stands for (for metrics)."""
        if bool((self.weights == 1).all()):
            return self
        repeat = self.weights.astype(np.int64)
        counts = repeat.tolist()
        users = tuple(u for u, n in zip(self.users, counts, strict=True) for _ in range(n))
        ids = tuple(t for t, n in zip(self.transactions, counts, strict=True) for _ in range(n))
        return Part(
            np.repeat(self.features, repeat, axis=0),
            np.repeat(self.labels, repeat),
            np.ones(int(repeat.sum()), dtype=np.int64),
            np.repeat(self.event_time, repeat),
            np.repeat(self.label_time, repeat),
            users,
            ids,
        )


@dataclass(frozen=True, slots=True)
class Counts:
    """What the join did with what it was given."""

    rows: int  # training + validation rows
    frauds: int
    labelled: int  # rows with a known label
    unlabelled: int  # never-labelled rows kept (as legitimate)
    sampled_out: int  # never-labelled rows left out by the sampling
    pending: int  # rows younger than the label delay
    outside: int  # rows older than the window
    leaky: int  # rows with a label dated before the decision
    other_feature_set: int  # rows logged with another feature set (or a vector of another width)
    unmatched_labels: int  # labelled transactions with no logged row


@dataclass(frozen=True, slots=True)
class TrainingSet:
    cut: Cut
    train: Part
    validation: Part
    counts: Counts
    #: Rows younger than the label delay (labels 0, weight 1): the latest traffic's features,
    #: whose score distribution the bands are chosen on.
    pending: Part


def summary_of(found: TrainingSet) -> dict[str, int]:
    """What the learner persists of a join and `learn status` shows: the counts, each part's
    rows and frauds, and the lines drawn."""
    return asdict(found.counts) | {
        "train_rows": found.train.rows,
        "train_frauds": found.train.frauds,
        "validation_rows": found.validation.rows,
        "validation_frauds": found.validation.frauds,
        "now_ms": found.cut.now_ms,
        "window_start_ms": found.cut.window_start,
        "validation_start_ms": found.cut.validation_start,
        "mature_end_ms": found.cut.mature_end,
    }


def known_label(labels: Iterable[SourcedLabel], now_ms: int) -> SourcedLabel | None:
    """The label that counts at ``now_ms``: the latest per source, then by precedence."""
    latest: dict[str, SourcedLabel] = {}
    for label in labels:
        if label.label_time > now_ms:
            continue
        held = latest.get(label.source)
        if held is None or label.label_time > held.label_time:
            latest[label.source] = label
    return effective(latest) if latest else None


def kept_by_sample(transaction_id: str, keep_one_in: int) -> bool:
    """Whether a never-labelled row is in the one-in-N sample (stable across restarts)."""
    if keep_one_in <= 1:
        return True
    digest = hashlib.sha256(transaction_id.encode()).digest()
    return int.from_bytes(digest[:8], "little") % keep_one_in == 0


def sampled_out(
    rows: Mapping[str, LoggedRow],
    labels: Mapping[str, Sequence[SourcedLabel]],
    before_ms: int,
    keep_one_in: int,
) -> list[LoggedRow]:
    """Rows the join will never use again once the label delay is over: older than
    ``before_ms``, with no label at all, and outside the sample (what compaction drops).

    >>> old = {"t1": LoggedRow("t1", "u1", 0, 0, (0.0,) * len(FEATURES))}
    >>> [r.transaction_id for r in sampled_out(old, {}, 1, 10**9)], sampled_out(old, {}, 1, 1)
    (['t1'], [])
    """
    if keep_one_in <= 1:
        return []
    return [
        row
        for t, row in rows.items()
        if row.event_time < before_ms and not labels.get(t) and not kept_by_sample(t, keep_one_in)
    ]


def join(
    rows: Mapping[str, LoggedRow],
    labels: Mapping[str, Sequence[SourcedLabel]],
    cut: Cut,
    keep_one_in: int = 1,
) -> TrainingSet:
    """The training and validation parts at ``cut`` (see the module docstring)."""
    parts: dict[str, list[tuple[LoggedRow, int, int, int]]] = {
        "train": [],
        "validation": [],
        "pending": [],
    }
    tally = dict.fromkeys(Counts.__dataclass_fields__, 0)
    for row in sorted(rows.values(), key=lambda r: (r.event_time, r.transaction_id)):
        part, placed = _place(row, labels.get(row.transaction_id, ()), cut, keep_one_in, tally)
        if placed is not None:
            parts[part].append(placed)
    tally["unmatched_labels"] = sum(
        1 for t, found in labels.items() if t not in rows and known_label(found, cut.now_ms)
    )
    train, validation, pending = (_part(parts[p]) for p in ("train", "validation", "pending"))
    tally["rows"] = train.rows + validation.rows
    tally["frauds"] = train.frauds + validation.frauds
    return TrainingSet(cut, train, validation, Counts(**tally), pending)


def _place(
    row: LoggedRow,
    found: Sequence[SourcedLabel],
    cut: Cut,
    keep_one_in: int,
    tally: dict[str, int],
) -> tuple[str, tuple[LoggedRow, int, int, int] | None]:
    """The part a row belongs to and its (row, label, weight, label time), or None (counted)."""
    if row.event_time < cut.window_start:
        tally["outside"] += 1
        return "", None
    if row.feature_set_hash != LIVE_HASH or len(row.features) != len(FEATURES):
        tally["other_feature_set"] += 1  # not the columns the live recipe trains on
        return "", None
    label = known_label(found, cut.now_ms)
    # the detector's merchant label features already held a label known before the decision
    if any(lab.label_time < row.decided_time for lab in found if lab.label_time <= cut.now_ms):
        tally["leaky"] += 1
        return "", None
    if row.event_time >= cut.mature_end:
        tally["pending"] += 1
        return "pending", (row, 0, 1, -1)
    part = "validation" if row.event_time >= cut.validation_start else "train"
    if label is not None:
        tally["labelled"] += 1
        return part, (row, int(label.label == FRAUD), 1, label.label_time)
    if not kept_by_sample(row.transaction_id, keep_one_in):
        tally["sampled_out"] += 1
        return "", None
    tally["unlabelled"] += 1
    return part, (row, 0, keep_one_in, -1)


def _part(placed: list[tuple[LoggedRow, int, int, int]]) -> Part:
    width = len(placed[0][0].features) if placed else 0
    return Part(
        np.array([p[0].features for p in placed], dtype=np.float64).reshape(len(placed), width),
        np.array([p[1] for p in placed], dtype=np.int8),
        np.array([p[2] for p in placed], dtype=np.int64),
        np.array([p[0].event_time for p in placed], dtype=np.int64),
        np.array([p[3] for p in placed], dtype=np.int64),
        tuple(p[0].user_id for p in placed),
        tuple(p[0].transaction_id for p in placed),
    )
