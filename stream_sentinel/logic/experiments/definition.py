"""One experiment: what it compares, how it decides, where it stands, and each step it took.

An experiment compares one challenger version with the champion it started against, in
``shadow`` mode (the challenger scores beside the champion, never decides) or ``split`` mode
(a share of the users is decided by the challenger). It is ``running`` until it ends once:
``promoted`` (the challenger was better and became champion), ``better`` (it was better and
waits for an operator to promote it), ``retired`` (worse), or ``stopped`` (a guard rail, the
label or day limit, or an operator). Every step is a :class:`Step` in its history.

>>> e = Experiment.new("exp-1", "shadow", "champ", "chall", None, 1_700_000_000_000, "ana", "")
>>> Experiment.decode(e.encode()) == e, e.shares, e.ended("retired", 1_700_000_100_000, "w").status
(True, (1.0, 0.0), 'retired')
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from stream_sentinel.logic.experiments.split import check_shares

MODES = ("shadow", "split")
RUNNING = "running"
ENDINGS = ("promoted", "better", "retired", "stopped")


@dataclass(frozen=True)
class Experiment:
    id: str
    mode: str
    champion: str
    challenger: str
    #: (champion share, challenger share) of the users; shadow: (1, 0), the champion decides all
    shares: tuple[float, float]
    created_ms: int
    actor: str
    reason: str
    metric: str = "recall_at_budget"
    status: str = RUNNING
    ended_ms: int | None = None
    outcome: str = ""
    #: When each of its transactions is counted (after its decision), fixed at the start so a
    #: service restarted with other settings counts it the same way (None: recorded before
    #: this was kept; the settings' deadline applies).
    label_deadline_ms: int | None = None

    def deadline_or(self, default_ms: int) -> int:
        return default_ms if self.label_deadline_ms is None else self.label_deadline_ms

    @classmethod
    def new(
        cls,
        id: str,
        mode: str,
        champion: str,
        challenger: str,
        share: float | None,
        created_ms: int,
        actor: str,
        reason: str,
    ) -> Experiment:
        """A running experiment; ``share`` is the challenger's (split mode only)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if champion == challenger:
            raise ValueError(f"{challenger} is the champion: an experiment needs another version")
        if mode == "shadow":
            if share is not None:
                raise ValueError(
                    "a shadow experiment decides nothing by the challenger, so it takes no "
                    "share: add --mode split to decide a share of users by it"
                )
            shares = (1.0, 0.0)
        else:
            if share is None:
                raise ValueError("a split experiment needs the challenger's share, e.g. 0.1")
            check_shares((1.0 - share, share))
            shares = (round(1.0 - share, 12), share)
        return cls(id, mode, champion, challenger, shares, created_ms, actor, reason)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def ended(self, status: str, at_ms: int, outcome: str) -> Experiment:
        """This experiment ended (only a running one can end)."""
        if status not in ENDINGS:
            raise ValueError(f"an experiment ends {', '.join(ENDINGS)}, not {status!r}")
        if not self.running:
            raise ValueError(f"experiment {self.id} already ended ({self.status}: {self.outcome})")
        return replace(self, status=status, ended_ms=at_ms, outcome=outcome)

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, blob: bytes) -> Experiment:
        data = json.loads(blob)
        data["shares"] = tuple(data["shares"])
        return cls(**data)


@dataclass(frozen=True)
class Step:
    """One entry of an experiment's history."""

    at_ms: int
    action: str  # "start", "promote", "better", "retire", "stop", "guard rail"
    detail: str
    actor: str

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, blob: bytes) -> Step:
        return cls(**json.loads(blob))


@dataclass(frozen=True)
class Point:
    """The test's evidence at one settlement (``experiments status`` and the console draw the
    trail of these): labelled frauds counted, the estimated difference in recall with its
    always-valid interval (None while the interval is unbounded), and the log likelihood ratio
    against its threshold."""

    at_ms: int  # the event time the counts were settled up to
    labels: int
    estimate: float
    low: float | None
    high: float | None
    log_ratio: float
    threshold: float

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, blob: bytes) -> Point:
        return cls(**json.loads(blob))


def experiment_id(challenger: str, created_ms: int) -> str:
    """``exp-20261204-2150-<challenger prefix>``: sortable, readable, unique per minute."""
    when = datetime.fromtimestamp(created_ms / 1000, UTC).strftime("%Y%m%d-%H%M")
    return f"exp-{when}-{challenger[:8]}"
