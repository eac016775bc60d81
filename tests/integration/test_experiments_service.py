"""Experiments end to end on real Kafka, Redis and the registry, as an operator runs them.

Shadow: `detect` (restarted half-way) scores with the champion and shadow-scores with a
challenger trained on shuffled labels, labels arrive on fraud-feedback, and `experiments run`
counts each decision once, settles each labelled fraud at its deadline, and retires the worse
challenger. Split: the challenger decides its users' payments, is better on the labels, is
promoted automatically, and the detectors decide everything with it from then on."""

from __future__ import annotations

import subprocess
import time
from dataclasses import replace
from typing import Any

import numpy as np

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.clock import SYSTEM_CLOCK
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.learning.aliases import CHALLENGER, SHADOW
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.experiments.tally import Buckets
from stream_sentinel.learning.models import draft_of
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.features import COLUMN
from stream_sentinel.logic.offline import Replayed
from stream_sentinel.scoring.train import train
from stream_sentinel.transport.kafka import KafkaBroker
from stream_sentinel.transport.topics import Topics
from tests.integration.detector_support import (
    SENTINEL,
    create_topics,
    detect,
    finish,
    produce,
    read_all,
    serde_for,
    transactions,
)
from tests.integration.stacks import cli_env

DAY = 86_400_000
DEADLINE_DAYS = 0.25  # six hours: most of a day of traffic passes its deadline


def _decided(settings: Settings, sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The feature-log rows of ``sent``: exactly one per transaction, as many as were sent."""
    ours = {t["transaction_id"] for t in sent}
    rows = [r for r in read_all(settings, "decision-features") if r["transaction_id"] in ours]
    assert sorted(r["transaction_id"] for r in rows) == sorted(ours)
    return rows


def _live_models(settings: Settings, registry: ModelRegistry) -> tuple[Any, Any]:
    """A strong model and a weak one trained on this stack's own feature log: a day of traffic
    (three days ago) decided by the rules alone, the frauds the 3% largest amounts; the strong
    one learns them, the weak one the same rows with the labels shuffled."""
    now = int(time.time() * 1000)
    produce(settings, transactions(2500, users=600, seed=40, now_ms=now - 3 * DAY))
    finish(detect(settings, "--until-idle", "3"))
    logged = read_all(settings, "decision-features", expect=2500)
    logged.sort(key=lambda r: r["event_time"])
    x = np.array([r["features"] for r in logged], dtype=np.float64)
    amounts = x[:, COLUMN["amount"]]
    y = (amounts > np.quantile(amounts, 0.97)).astype(np.int8)
    times = np.array([r["event_time"] for r in logged], dtype=np.int64)
    data = Replayed(x, y, times)
    shuffled = replace(data, labels=np.random.default_rng(5).permutation(y))
    rates = load_settings(environ={}).detector.band_rates
    strong, weak = (
        registry.register(*draft_of(train(d, rates, rounds=20)[0], DAY))[0]
        for d in (data, shuffled)
    )
    return strong, weak


def _run(settings: Settings, min_labels: int, **more: str) -> str:
    env = cli_env(settings) | {f"SENTINEL_EXPERIMENTS_{k.upper()}": v for k, v in more.items()}
    env |= {
        "SENTINEL_EXPERIMENTS_LABEL_DEADLINE_DAYS": str(DEADLINE_DAYS),
        "SENTINEL_EXPERIMENTS_MIN_LABELS": str(min_labels),
        "SENTINEL_EXPERIMENTS_GUARD_MIN_ROWS": "1000000",  # the rails have their own tests
    }
    process = subprocess.Popen(
        [SENTINEL, "experiments", "run", "--until-idle", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return finish(process)


def _labels(settings: Settings, rows: list[dict[str, Any]], frauds: set[str]) -> None:
    """A chargeback an hour after each fraud, and an analyst's LEGIT for every tenth row."""
    encode = serde_for(settings).encoder("fraud-feedback")
    producer = KafkaBroker(settings.kafka).producer()
    topic = Topics.from_settings(settings).fraud_feedback
    for n, row in enumerate(rows):
        fraud = row["transaction_id"] in frauds
        if not fraud and n % 10:
            continue
        record = {
            "transaction_id": row["transaction_id"],
            "user_id": row["user_id"],
            "merchant_id": "m1",
            "event_time": row["event_time"],
            "label": "FRAUD" if fraud else "LEGIT",
            "source": "CHARGEBACK" if fraud else "ANALYST",
            "confidence": 1.0,
            "pattern": None,
            "label_time": row["event_time"] + 3_600_000,
        }
        producer.produce(topic, encode(record), row["user_id"].encode())
    assert producer.flush(60) == 0


def test_a_worse_shadow_challenger_is_counted_exactly_and_retired(settings: Settings) -> None:
    store = RealClients(settings).state()
    registry = ModelRegistry(store)
    create_topics(settings)
    champion, challenger = _live_models(settings, registry)
    registry.promote(champion.version, actor="test")
    started = int(time.time() * 1000) - 2 * DAY  # before the day of traffic below
    experiment = Experiment.new(
        "exp-it", "shadow", champion.version, challenger.version, None, started, "test", ""
    )
    experiments = ExperimentStore(store, SYSTEM_CLOCK)
    experiments.start(replace(experiment, label_deadline_ms=int(DEADLINE_DAYS * DAY)))
    registry.promote(challenger.version, SHADOW, "experiment exp-it", "test")
    sent = transactions(2000, users=600, seed=33)
    for half in (sent[:1000], sent[1000:]):  # the detector restarts half-way
        produce(settings, half)
        finish(detect(settings, "--until-idle", "3"))
    logged = _decided(settings, sent)
    rows = [r for r in logged if r["shadow_model_version"] == challenger.version]
    unscored = len(logged) - len(rows)  # decided before the challenger was loaded, if any
    level = "MEDIUM"  # the alert level of these settings
    ours = {r["transaction_id"] for r in rows if r["score"] >= champion.bands[level]}
    theirs = {r["transaction_id"] for r in rows if r["shadow_score"] >= challenger.bands[level]}
    # the frauds: what the champion flags, and 20 rows neither flags
    missed = [r["transaction_id"] for r in rows if r["transaction_id"] not in ours | theirs]
    frauds = ours | set(missed[::50][:20])
    _labels(settings, rows, frauds)

    # first without a verdict (more labels needed than there are): the counts, exactly
    _run(settings, min_labels=10_000)
    buckets = Buckets(int(DEADLINE_DAYS * DAY))
    due = buckets.due_until(max(r["event_time"] for r in rows))
    settled = [r for r in rows if buckets.of(r["event_time"]) <= due]
    settled_ids = {r["transaction_id"] for r in settled}
    counted = settled_ids & frauds
    diffs = [int(t in theirs) - int(t in ours) for t in counted]
    counts = experiments.counts("exp-it")
    assert {k: v for k, v in counts.items() if not k.startswith("pair:sum")} == {
        k: float(v)
        for k, v in {
            "0:rows": len(rows),
            "1:rows": len(rows),
            "0:alerts": len(ours),
            "1:alerts": len(theirs),
            "0:declines": sum(r["decision"] == "DECLINE" for r in rows),
            "0:frauds": len(counted),
            "1:frauds": len(counted),
            "0:caught": len(counted & ours),
            "1:caught": len(counted & theirs),
            "0:flagged": len(settled_ids & ours),
            "1:flagged": len(settled_ids & theirs),
            "pair:n": len(counted),
            "pair:squares": sum(d * d for d in diffs),
            "unscored:rows": unscored,
        }.items()
        if v
    }
    assert counts.get("pair:sum", 0.0) == sum(diffs)
    assert experiments.get("exp-it").running
    assert len(counted & ours) - len(counted & theirs) >= 10  # the setup is as intended

    # then with the rule's usual minimum: the challenger is retired, nothing counted again
    output = _run(settings, min_labels=10)
    ended = experiments.get("exp-it")
    assert ended.status == "retired", output
    assert ended.outcome.startswith("challenger worse: recall -")
    assert f"exp-it retired: {ended.outcome}" in output
    assert registry.aliases()["retired"] == challenger.version
    assert registry.aliases()["champion"] == champion.version
    assert experiments.counts("exp-it") == counts
    shown = subprocess.run(
        [SENTINEL, "experiments", "status", "exp-it"],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(shown)  # (docs/experiments.md shows one)
    lines = shown.splitlines()
    assert lines[0] == f"experiment exp-it: retired ({ended.outcome})"
    assert lines[4].split()[:2] == ["champion", str(len(rows))]
    assert lines[7].startswith("  labels: transactions up to ")
    assert lines[3].split()[-1] == "precision"
    assert "    " in lines[-1] and "retire" in lines[-2] and "start" in lines[-1]
    store.close()


def test_a_better_split_challenger_is_promoted_and_the_detectors_switch(
    settings: Settings,
) -> None:
    store = RealClients(settings).state()
    registry = ModelRegistry(store)
    create_topics(settings)
    strong, weak = _live_models(settings, registry)
    registry.promote(weak.version, actor="test")  # the champion has learned nothing
    started = int(time.time() * 1000) - 2 * DAY
    experiment = Experiment.new(
        "exp-it-split", "split", weak.version, strong.version, 0.5, started, "test", ""
    )
    experiments = ExperimentStore(store, SYSTEM_CLOCK)
    experiments.start(replace(experiment, label_deadline_ms=int(DEADLINE_DAYS * DAY)))
    registry.promote(strong.version, CHALLENGER, "experiment exp-it-split", "test")
    sent = transactions(4000, users=600, seed=34)
    produce(settings, sent)
    finish(detect(settings, "--until-idle", "3"))
    rows = _decided(settings, sent)
    assert {r["arm"] for r in rows} == {0, 1}
    # the labels make the challenger the better one on this traffic: in its arm, the frauds
    # are what it flags; in the champion's, a share of what the champion lets through
    level = "MEDIUM"
    caught = {
        r["transaction_id"] for r in rows if r["arm"] == 1 and r["score"] >= strong.bands[level]
    }
    let_through = [r for r in rows if r["arm"] == 0 and r["score"] < weak.bands[level]]
    _labels(settings, rows, caught | {r["transaction_id"] for r in let_through[::20]})
    output = _run(settings, min_labels=10, promotion="automatic")
    ended = experiments.get("exp-it-split")
    assert ended.status == "promoted", (output, sorted(experiments.counts("exp-it-split").items()))
    assert ended.outcome.startswith("challenger better: recall +")
    assert registry.aliases()["champion"] == strong.version
    counts = experiments.counts("exp-it-split")
    assert counts["0:frauds"] >= 10 and counts["1:frauds"] >= 10
    store.close()
    # the detectors decide with the new champion, outside any experiment
    more = transactions(300, users=600, seed=35)
    produce(settings, more)
    finish(detect(settings, "--until-idle", "3"))
    wanted = {t["transaction_id"] for t in more}
    later = [s for s in read_all(settings, "fraud-scores") if s["transaction_id"] in wanted]
    assert len(later) == len(more)
    assert {(s["model_version"], s["experiment_id"], s["arm"]) for s in later} == {
        (strong.version, None, None)
    }
