"""The drift service's keys in DB4 (``Namespace.DRIFT``); no other module spells them."""

from __future__ import annotations

from stream_sentinel.state.base import Namespace

NS = Namespace.DRIFT
#: Hash: input partition -> the latest event time counted from it. The service's event-time
#: clock is the least of them: an hour closes once every partition has moved past it.
CLOCK = "drift:clock"
#: Hash: model version -> its state (JSON, :class:`~.progress.VersionProgress`).
VERSIONS = "drift:versions"
#: Sorted set: every alarm's event id, scored by its window's start (the index).
ALARMS = "drift:alarms"
#: Hash: event id -> the alarm (DriftEvent JSON): one entry per alarm, however often closed.
ALARM_EVENTS = "drift:alarm-events"
#: Sorted set: every checked window's statistics as JSON, scored by the window's start.
CHECKS = "drift:checks"
#: Checks and alarms older than this (behind the window being written) are dropped.
KEEP_MS = 90 * 24 * 3_600_000
#: Window counts and reference rows expire after this, once nothing needs them.
WORK_TTL_MS = 30 * 24 * 3_600_000


def reference(version: str) -> str:
    """The version's reference profile (JSON), written once."""
    return f"drift:reference:{version}"


def reference_rows(version: str, partition: int) -> str:
    """List: blocks of reference rows one input partition gathered (npy bytes)."""
    return f"drift:refrows:{version}:{partition}"


def window(version: str, start_ms: int) -> str:
    """Hash: input partition -> that partition's counts of the hour (JSON)."""
    return f"drift:window:{version}:{start_ms}"


def open_hours(version: str) -> str:
    """Sorted set: hours with counts not yet checked (member and score: the hour start)."""
    return f"drift:open:{version}"


# -- the labelled performance monitors (:mod:`.labelled`) -------------------------------------
#: String: the performance monitors' progress (JSON: the next bucket to settle).
PERF_PROGRESS = "drift:perf:progress"
#: Hash: fraud-feedback partition -> the latest label time read from it (the label clock).
PERF_LABEL_CLOCK = "drift:perf:label-clock"
#: Sorted set: event-time buckets with kept decisions or labels not yet settled.
PERF_BUCKETS = "drift:perf:buckets"
#: Hash: model version -> its monitors' state (JSON: parameters, outcomes seen, detections).
PERF_MONITORS = "drift:perf:monitors"


def perf_decisions(bucket: int) -> str:
    """List: blocks of a bucket's decisions (a version, then 8 bytes per row), until settled."""
    return f"drift:perf:decisions:{bucket}"


def perf_labels(bucket: int) -> str:
    """Hash: transaction id -> its labels so far (JSON), until its bucket is settled."""
    return f"drift:perf:labels:{bucket}"


def perf_outcomes(version: str, stream: str) -> str:
    """List: the version's outcome stream, one block per settled bucket (newest first)."""
    return f"drift:perf:outcomes:{version}:{stream}"
