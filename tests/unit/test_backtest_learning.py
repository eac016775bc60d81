"""The backtest learns as the learner does: its join, time-ordered validation, candidates,
promotion policy and registry, on a small seeded history (embedded backends, no process)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from stream_sentinel.backtest.ingest import Loaded, load_history
from stream_sentinel.backtest.mapping import ColumnMap
from stream_sentinel.backtest.report import iso
from stream_sentinel.backtest.run import Backtest, BacktestOptions, backtest_history
from stream_sentinel.backtest.timeparse import TimeSpec
from stream_sentinel.backtest.training import released_until
from stream_sentinel.cli import cli
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.learning.learner.online import online_summary
from stream_sentinel.learning.learner.retrain import Retrainer
from stream_sentinel.learning.learner.trainingset import TrainingSet

HOUR = 3_600_000
DAY = 24 * HOUR
RETRAINS = [
    "2024-12-21T22:16:11Z",
    "2024-12-23T22:16:11Z",
    "2024-12-25T22:16:11Z",
    "2024-12-27T22:16:11Z",
    "2024-12-29T22:16:11Z",
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """~15 days of 200 users (3% fraud), made by the generator."""
    path = tmp_path_factory.mktemp("history") / "history.csv"
    args = ["--count", "12000", "--users", "200", "--fraud-rate", "0.03", "--seed", "5"]
    result = CliRunner().invoke(cli, ["generate", *args, "-o", str(path)])
    assert result.exit_code == 0, result.output
    return load_history(path, ColumnMap({}), "is_fraud", TimeSpec())


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings("test", environ={})


def _run(loaded: Loaded, settings: Settings, learner: str) -> Backtest:
    options = BacktestOptions(
        path=Path("history.csv"),
        mapping=ColumnMap({}),
        label_column="is_fraud",
        label_delay_ms=2 * DAY,
        warmup_ms=6 * DAY,
        retrain_every_ms=2 * DAY,
        batch_rows=3000,
        batch_span_ms=6 * HOUR,
        validation_ms=DAY,
    )
    return backtest_history(loaded, replace(options, learner=learner), settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def batch(loaded: Loaded, settings: Settings) -> Backtest:
    return _run(loaded, settings, "batch")


@pytest.fixture(scope="module")
def online(loaded: Loaded, settings: Settings) -> Backtest:
    return _run(loaded, settings, "online")


@pytest.fixture(scope="module")
def both(loaded: Loaded, settings: Settings) -> Backtest:
    return _run(loaded, settings, "both")


def _decisions(run: Backtest) -> list[tuple[Any, ...]]:
    return [
        (m["trained_at"], m["kind"], m["decision"], m["promoted"], m["reason"].split(":")[0])
        for m in run.report["models"]
    ]


def test_every_batch_retrain_is_listed_with_its_window_metrics_and_decision(
    batch: Backtest,
) -> None:
    models = batch.report["models"]
    assert _decisions(batch) == [
        (RETRAINS[0], "lightgbm", "challenger", False, "kept as challenger"),
        (RETRAINS[1], "lightgbm", "challenger", False, "kept as challenger"),
        (RETRAINS[2], "lightgbm", "champion", True, "promoted"),
        (RETRAINS[3], "lightgbm", "challenger", False, "kept as challenger"),
        (RETRAINS[4], "lightgbm", "champion", True, "promoted"),
    ]
    assert [(m["training"]["rows"], m["training"]["frauds"]) for m in models] == [
        (2474, 69),
        (4077, 99),
        (5742, 169),
        (7338, 216),
        (8978, 283),
    ]
    assert [(m["validation"]["rows"], m["validation"]["frauds"]) for m in models] == [
        (818, 21),
        (867, 50),
        (792, 26),
        (835, 37),
        (843, 15),
    ]
    first = models[0]
    assert first["validation"] == {
        "from": "2024-12-18T22:16:11Z",
        "until": "2024-12-19T22:16:11Z",
        "rows": 818,
        "frauds": 21,
    }
    assert first["reason"] == (
        "kept as challenger: band CRITICAL alerts on 0.73% of the validation window, above its "
        "target 0.10% (+50% allowed)"
    )
    assert models[2]["reason"] == (
        "promoted: no champion yet (AP 0.9563, ROC AUC 0.9975, band alert rates within targets)"
    )
    metrics = models[2]["metrics"]
    assert (round(metrics["roc_auc"], 4), round(metrics["average_precision"], 4)) == (
        0.9975,
        0.9563,
    )
    assert sorted(metrics["bands"]) == ["CRITICAL", "HIGH", "LOW", "MEDIUM"]
    assert sorted(metrics["bands"]["HIGH"]) == ["alert_rate", "precision", "recall", "threshold"]


def test_the_models_are_registered_by_the_backtest_and_promoted_by_its_policy(
    batch: Backtest,
) -> None:
    registry = batch.replay.registry
    versions = [m["version"] for m in batch.report["models"]]
    assert {registry.get(v).created_by for v in versions} == {"backtest"}
    promoted = [m["version"] for m in batch.report["models"] if m["promoted"]]
    moves = registry.history("champion")[::-1]  # oldest first
    assert [(m.version, m.actor) for m in moves] == [(v, "backtest") for v in promoted]
    assert [m.reason for m in moves] == [
        m["reason"] for m in batch.report["models"] if m["promoted"]
    ]
    assert registry.get(promoted[1]).parent == promoted[0]  # lineage: the champion it beat


def test_the_champion_scores_each_period_until_the_next_promotion(
    loaded: Loaded, batch: Backtest
) -> None:
    promoted = [m["version"] for m in batch.report["models"] if m["promoted"]]
    assert batch.report["scored_by"] == [
        {"from": RETRAINS[0], "until": RETRAINS[2], "version": None, "kind": "rules only"},
        {"from": RETRAINS[2], "until": RETRAINS[4], "version": promoted[0], "kind": "lightgbm"},
        {"from": RETRAINS[4], "until": None, "version": promoted[1], "kind": "lightgbm"},
    ]
    _assert_scored_as_reported(loaded, batch)


def _assert_scored_as_reported(loaded: Loaded, run: Backtest) -> None:
    ts, outcomes = loaded.history.timestamp, run.replay.outcomes
    versions = [*outcomes.versions, ""]
    used = np.array([versions[i] for i in outcomes.model.tolist()])
    for period in run.report["scored_by"]:
        since = _ms(period["from"])
        until = _ms(period["until"]) if period["until"] else int(ts[-1]) + 1
        rows = (ts >= since) & (ts < until)
        assert set(used[rows].tolist()) == {period["version"] or ""}


def _ms(stamp: str) -> int:
    return int(np.datetime64(stamp.rstrip("Z"), "ms").astype(np.int64))


def test_no_label_is_used_before_its_release_time(
    loaded: Loaded, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[TrainingSet] = []
    join = Retrainer.training_set

    def spy(self: Retrainer, now_ms: int) -> TrainingSet:
        seen.append(join(self, now_ms))
        return seen[-1]

    monkeypatch.setattr(Retrainer, "training_set", spy)
    _run(loaded, settings, "batch")
    history = loaded.history
    truth = dict(zip(history.transaction_id, history.labels.tolist(), strict=True))
    assert [iso(found.cut.now_ms) for found in seen] == RETRAINS
    for found in seen:
        now, delay = found.cut.now_ms, 2 * DAY
        train, validation = found.train, found.validation
        for part in (train, validation):
            labelled = part.label_time >= 0
            assert (part.label_time[labelled] <= now).all()  # known by the retrain
            assert (part.label_time[labelled] == part.event_time[labelled] + delay).all()
            assert (part.event_time + delay < now).all()  # every fraud's label released
            assert [truth[t] for t in part.transactions] == part.labels.tolist()
        assert train.event_time.max() < validation.event_time.min()  # time-ordered split
        assert int(found.pending.labels.sum()) == 0  # younger rows wait, unlabelled


def test_online_registers_the_river_kind_and_its_champion_scores_the_next_period(
    loaded: Loaded, online: Backtest
) -> None:
    assert _decisions(online) == [
        (RETRAINS[0], "river-logreg", "challenger", False, "kept as challenger"),
        (RETRAINS[1], "river-logreg", "challenger", False, "kept as challenger"),
        (RETRAINS[2], "river-logreg", "champion", True, "promoted"),
        (RETRAINS[3], "river-logreg", "challenger", False, "kept as challenger"),
        (RETRAINS[4], "river-logreg", "challenger", False, "kept as challenger"),
    ]
    assert online.report["models"][4]["reason"].startswith(
        "kept as challenger: the comparison involves an online model"
    )
    [promoted] = [m["version"] for m in online.report["models"] if m["promoted"]]
    assert online.replay.registry.get(promoted).kind == "river-logreg"
    assert online.report["scored_by"][1:] == [
        {"from": RETRAINS[2], "until": None, "version": promoted, "kind": "river-logreg"}
    ]
    _assert_scored_as_reported(loaded, online)
    # by the last retrain it had learned every chargeback released by then as a fraud (each is
    # due when its row matures), and nothing after it (no later retrain would read it)
    learned = online_summary(online.replay.state)
    assert learned is not None
    history = loaded.history
    last_retrain = online.evaluation_start_ms + 4 * 2 * DAY
    released = released_until(history.timestamp, last_retrain, 2 * DAY)
    assert learned["frauds"] == int(history.labels[:released].sum()) == 298


def test_both_trains_one_of_each_kind_and_the_policy_compares_them(
    batch: Backtest, online: Backtest, both: Backtest
) -> None:
    models = both.report["models"]
    assert [(m["trained_at"], m["kind"]) for m in models] == [
        (at, kind) for at in RETRAINS for kind in ("lightgbm", "river-logreg")
    ]
    # each candidate is the one its own kind's run trained (the same join, the same model)
    assert [m["version"] for m in models[::2]] == [m["version"] for m in batch.report["models"]]
    assert [m["version"] for m in models[1::2]] == [m["version"] for m in online.report["models"]]
    champion = models[4]["version"]
    assert models[4]["promoted"] and not models[5]["promoted"]
    assert models[5]["reason"].startswith(
        f"kept as challenger: AP 0.8455 is 0.1107 below champion {champion}'s 0.9563 on the "
        "same validation window"
    )
    assert both.report["scored_by"] == batch.report["scored_by"]


def test_the_printed_tables_list_each_model_and_each_period(batch: Backtest) -> None:
    from rich.console import Console

    from stream_sentinel.backtest.render import models_table, scored_by_table

    console = Console(width=80, record=True)
    console.print(models_table(batch.report))
    console.print(scored_by_table(batch.report))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    versions = [m["version"] for m in batch.report["models"]]
    assert lines[1].split() == ["trained", "kind", "version", "rows/fraud", "AUC", "AP", "decision"]
    assert lines[2].split() == [
        "12-21", "22:16", "lightgbm", versions[0], "2,474/69", "0.9920", "0.9434", "challenger"
    ]  # fmt: skip
    assert lines[4].split()[-1] == "promoted" and lines[6].split()[-1] == "promoted"
    assert f"│ {RETRAINS[2]} │ {RETRAINS[4]} │ {versions[2]} │ lightgbm" in "\n".join(lines)


def _learn_keys(run: Backtest) -> list[str]:
    from stream_sentinel.learning.learner.store import NS

    return sorted(run.replay.state.scan(NS, "learn:*"))


def test_the_training_set_is_dropped_after_the_last_retrain(
    batch: Backtest, online: Backtest
) -> None:
    # no --train-window: nothing was evicted before; after the last retrain no later one reads
    # the rows, labels or online scores, so none stays in memory for the rest of the replay
    assert _learn_keys(batch) == []
    assert _learn_keys(online) == ["learn:online"]  # the online model's own state (bounded)


def test_the_tables_name_the_rule_only_period_and_the_model_setting(batch: Backtest) -> None:
    from rich.console import Console

    from stream_sentinel.backtest.render import report_table

    console = Console(width=200, record=True)
    console.print(report_table(batch.report))
    text = console.export_text()
    assert (
        f"│ rules only          │ {RETRAINS[0]} .. {RETRAINS[2]} (no champion: the metrics "
        "include rule-only scores)"
    ) in text
    assert batch.report["settings"]["model"] == (
        "the learner's champion after each retrain (see models and scored_by)"
    )


def test_the_models_line_names_the_given_model_when_nothing_was_trained(
    batch: Backtest,
) -> None:
    from rich.console import Console

    from stream_sentinel.backtest.render import report_table

    given = {"from": RETRAINS[0], "until": None, "version": "m-given", "kind": "lightgbm"}
    report = dict(batch.report, models=[], scored_by=[given])
    console = Console(width=200, record=True)
    console.print(report_table(report))
    text = console.export_text()
    assert "│ models              │ m-given (lightgbm)" in text
    assert "│ rules only          │ none" in text


def test_each_online_update_sees_only_the_labels_released_by_then(
    loaded: Loaded, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stream_sentinel.backtest.learning import BacktestLearner

    seen: list[tuple[int, list[Any]]] = []
    update = BacktestLearner.learn_online

    def spy(self: BacktestLearner, now_ms: int) -> int:
        _, labels = self.store.snapshot(0, 2**62)
        seen.append((now_ms, [label for found in labels.values() for label in found]))
        return update(self, now_ms)

    monkeypatch.setattr(BacktestLearner, "learn_online", spy)
    _run(loaded, settings, "online")
    history = loaded.history
    assert len(seen) == 61  # before every slice up to the last retrain, and at each retrain
    for now, labels in seen:
        assert all(label.label_time <= now for label in labels)
        released = released_until(history.timestamp, now, 2 * DAY)
        assert len(labels) == int(history.labels[:released].sum())
