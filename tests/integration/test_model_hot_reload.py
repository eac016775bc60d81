"""Hot model reload on the real stack: two detector workers on live traffic follow the registry's
champion through a promote, a corrupt version and two rollbacks, deciding every transaction
exactly once across the swaps."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any

import pytest

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.learning import keys as model_keys
from stream_sentinel.learning.models import draft_of
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch
from tests.integration.detector_support import (
    SENTINEL,
    assert_exactly_once,
    create_topics,
    detect,
    finish,
    produce,
    read_all,
    transactions,
    wait_until,
    worker_is_up,
)
from tests.integration.stacks import cli_env
from tests.unit.test_model_hot_reload import DAY_MS, model

pytestmark = pytest.mark.integration
#: What the issue promises: every worker scores with the new version within 5 s of the move.
SWITCH_S = 5.0
RATE = 400  # transactions per second, across 12 partitions and both workers


def cli(settings: Settings, *args: str) -> tuple[int, int]:
    """Run `stream-sentinel ...` to completion; the wall-clock ms when it started and ended
    (a move lands somewhere between the two)."""
    started = int(time.time() * 1000)
    done = subprocess.run(
        [SENTINEL, *args], env=cli_env(settings), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return started, int(time.time() * 1000)


def heartbeats(settings: Settings) -> dict[str, dict[str, Any]]:
    store = RealClients(settings).state()
    try:
        names = [f"worker-{slot}" for slot in (0, 1)]
        batch = Batch()
        for name in names:
            batch.get(keys.PIPELINE, keys.worker_status(settings.detector.group_id, name))
        blobs = store.execute(batch)
    finally:
        store.close()
    return {n: json.loads(b) for n, b in zip(names, blobs, strict=True) if b}


def models_of(settings: Settings) -> dict[str, tuple[str | None, str | None]]:
    """Each worker's (model version, model error) from its heartbeat."""
    return {
        n: (b["model"]["version"], b["model"]["error"]) for n, b in heartbeats(settings).items()
    }


class Traffic(threading.Thread):
    """Sends ``records`` at RATE per second, in small timed slices, until told to stop."""

    def __init__(self, settings: Settings, records: list[dict[str, Any]]) -> None:
        super().__init__(daemon=True)
        self.settings, self.records = settings, records
        self.stop = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            step = RATE // 4
            while not self.stop.is_set() and self.sent < len(self.records):
                began = time.monotonic()
                produce(self.settings, self.records[self.sent : self.sent + step])
                self.sent = min(self.sent + step, len(self.records))
                time.sleep(max(0.25 - (time.monotonic() - began), 0.0))
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_two_workers_follow_promote_corruption_and_rollback_deciding_each_payment_once(
    settings: Settings,
) -> None:
    create_topics(settings)
    store = RealClients(settings).state()
    registry = ModelRegistry(store)
    first, second, third = (
        registry.register(*draft_of(model(rounds), DAY_MS))[0].version for rounds in (10, 12, 14)
    )
    registry.promote(first, reason="before the detectors start", actor="test")
    sent = transactions(RATE * 120, users=3000, seed=21)
    traffic = Traffic(settings, sent)
    traffic.start()  # live traffic from before the workers start to after the last window
    detector = detect(settings, "--workers", "2", "--until-idle", "8")
    wait_until(
        lambda: worker_is_up(settings, 0) and worker_is_up(settings, 1),
        what="both workers to start",
    )
    wait_until(
        lambda: {v for v, _ in models_of(settings).values()} == {first},
        what="both workers to serve the first champion",
    )
    time.sleep(3)
    moves = [(cli(settings, "models", "promote", second, "--reason", "newer"), second)]
    wait_until(
        lambda: models_of(settings) == {"worker-0": (second, None), "worker-1": (second, None)},
        timeout_s=20,
        what="both workers to report the second model",
    )
    time.sleep(SWITCH_S + 1)
    # corrupt the third version's bytes in Redis, then promote it: refused, second keeps scoring
    [chunk] = registry.get(third).artifact.chunks[:1]
    store.execute(Batch().set(model_keys.MODELS, model_keys.chunk(chunk), b"not the model"))
    corrupt_at = cli(settings, "models", "promote", third, "--reason", "bad bytes")
    wait_until(
        lambda: all(
            error is not None and error.startswith(f"cannot load {third}: chunk 0 of artifact")
            for _, error in models_of(settings).values()
        ),
        timeout_s=20,
        what="both workers to report the corrupt version",
    )
    assert {v for v, _ in models_of(settings).values()} == {second}
    time.sleep(SWITCH_S + 1)
    back_to_second = cli(settings, "models", "rollback", "--reason", "corrupt")
    wait_until(  # the champion is what they serve again: the error is gone
        lambda: models_of(settings) == {"worker-0": (second, None), "worker-1": (second, None)},
        timeout_s=20,
        what="both workers to clear the corrupt version's error",
    )
    moves.append((cli(settings, "models", "rollback", "--reason", "back to the first"), first))
    wait_until(
        lambda: models_of(settings) == {"worker-0": (first, None), "worker-1": (first, None)},
        timeout_s=20,
        what="both workers to return to the first model",
    )
    time.sleep(SWITCH_S + 2)  # the last window holds decisions
    traffic.stop.set()
    traffic.join(timeout=120)
    assert traffic.error is None and not traffic.is_alive()
    sent = sent[: traffic.sent]
    output = finish(detector)
    beats = heartbeats(settings)
    pauses = [b["model"]["last_pause_ms"] for b in beats.values()]
    loads = [b["model"]["last_load_ms"] for b in beats.values()]
    print(f"swap pause per worker (ms): {pauses}; background load (ms): {loads}")
    assert "detector summary" in output
    scores = assert_exactly_once(settings, sent)
    _assert_switched(scores, moves, corrupt_at, back_to_second, second)
    assert registry.alias_state("champion") == (first, 5)
    store.close()
    assert len(read_all(settings, "model-events", expect=4)) == 4  # the first move: not announced


def _assert_switched(
    scores: list[dict[str, Any]],
    moves: list[tuple[tuple[int, int], str]],
    corrupt_at: tuple[int, int],
    back_to_second: tuple[int, int],
    second: str,
) -> None:
    """Every score decided more than SWITCH_S after a move's command ended, and before the next
    one started, carries that move's version (and none the corrupt one); each window holds
    scores, so both workers were deciding."""
    ends = [started for (started, _), _ in moves[1:]] + [2**62]
    for ((_, moved), version), until in zip(moves, ends, strict=True):
        window = [s for s in scores if moved + SWITCH_S * 1000 <= s["decided_time"] < until]
        assert window, f"no decisions in the {SWITCH_S:g} s after moving to {version}"
        assert {s["model_version"] for s in window} == {version}
        older = [
            s["decided_time"]
            for s in scores
            if s["decided_time"] < until and s["model_version"] != version
        ]
        print(f"{version}: last decision by the older model {max(older) - moved} ms after the move")
    refused = [s for s in scores if corrupt_at[0] <= s["decided_time"] < back_to_second[0]]
    assert refused and {s["model_version"] for s in refused} == {second}
