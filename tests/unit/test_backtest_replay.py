"""The event-time replay through the embedded detector: no leakage, determinism, training on
released labels only, model swaps on schedule, a given model, rejected rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from stream_sentinel.backtest.ingest import Loaded, load_history
from stream_sentinel.backtest.mapping import ColumnMap
from stream_sentinel.backtest.replay import plan_slices
from stream_sentinel.backtest.run import Backtest, BacktestOptions, backtest_history
from stream_sentinel.backtest.timeparse import TimeSpec
from stream_sentinel.cli import cli
from stream_sentinel.config import Settings, load_settings
from stream_sentinel.errors import UsageError
from stream_sentinel.scoring.model import ModelArtifact

HOUR = 3_600_000
DAY = 24 * HOUR


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


def _options(loaded: Loaded, **changes: object) -> BacktestOptions:
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
    return replace(options, **changes)  # type: ignore[arg-type]


def _run(loaded: Loaded, settings: Settings, **changes: object) -> Backtest:
    return backtest_history(loaded, _options(loaded, **changes), settings)


@pytest.fixture(scope="module")
def baseline(loaded: Loaded, settings: Settings) -> Backtest:
    return _run(loaded, settings)


def _same_outcomes(a: Backtest, b: Backtest, rows: np.ndarray) -> bool:
    oa, ob = a.replay.outcomes, b.replay.outcomes
    versions_a = [([*oa.versions, ""])[i] for i in oa.model[rows].tolist()]
    versions_b = [([*ob.versions, ""])[i] for i in ob.model[rows].tolist()]
    return (
        np.array_equal(oa.score[rows], ob.score[rows], equal_nan=True)
        and np.array_equal(oa.level[rows], ob.level[rows])
        and np.array_equal(oa.decision[rows], ob.decision[rows])
        and [oa.reasons[i] for i in rows.tolist()] == [ob.reasons[i] for i in rows.tolist()]
        and versions_a == versions_b
    )


def test_two_runs_give_the_same_scores(
    loaded: Loaded, settings: Settings, baseline: Backtest
) -> None:
    again = _run(loaded, settings)
    assert _same_outcomes(baseline, again, np.arange(len(loaded.history)))
    assert again.report["evaluation"] == baseline.report["evaluation"]
    assert [m["version"] for m in again.report["models"]] == [
        m["version"] for m in baseline.report["models"]
    ]


def test_changing_evaluation_labels_leaves_every_earlier_score_unchanged(
    loaded: Loaded, settings: Settings, baseline: Backtest
) -> None:
    history = loaded.history
    changed_from = baseline.evaluation_start_ms + 3 * DAY
    flipped = history.labels.copy()
    period = history.timestamp >= changed_from
    flipped[period] = 1 - flipped[period]  # every label of the later period changes
    other = replace(loaded, history=replace(history, labels=flipped))
    changed = _run(other, settings)

    released = changed_from + 2 * DAY  # the first changed label's release time
    before = np.flatnonzero(history.timestamp < released)
    after = np.flatnonzero(history.timestamp >= released)
    assert len(before) > 5000 and len(after) > 1000
    assert _same_outcomes(baseline, changed, before)
    # The guard has teeth: once the changed labels are out, state and models do change.
    assert not _same_outcomes(baseline, changed, after)
    models_a, models_b = _models(baseline), _models(changed)
    trained_before = [m for m in models_a if m["trained_at"] < _iso(released)]
    assert models_b[: len(trained_before)] == trained_before
    # (The next model's booster may still match: train() fits on the earliest 80% of its rows
    # and picks the score bands on the rest, where the changed labels are.)
    assert models_b[len(trained_before)] != models_a[len(trained_before)]


def _models(run: Backtest) -> list[dict[str, Any]]:
    """The report's models without their (wall-clock) training times."""
    return [{k: v for k, v in m.items() if k != "seconds"} for m in run.report["models"]]


def _iso(ms: int) -> str:
    from stream_sentinel.backtest.report import iso

    return iso(ms)


def test_models_are_trained_on_schedule_and_the_champion_scores(
    loaded: Loaded, baseline: Backtest
) -> None:
    history, outcomes = loaded.history, baseline.replay.outcomes
    start = baseline.evaluation_start_ms
    times = [start + k * 2 * DAY for k in range(5) if start + k * 2 * DAY <= history.timestamp[-1]]
    models = baseline.report["models"]
    assert [m["trained_at"] for m in models] == [_iso(t) for t in times]
    for model, at in zip(models, times, strict=True):
        lo = np.searchsorted(history.timestamp, at - 2 * DAY, side="left")
        labelled = model["training"]["rows"] + model["validation"]["rows"]
        assert labelled == lo  # every row older than the label delay (no window)
        frauds = model["training"]["frauds"] + model["validation"]["frauds"]
        assert frauds == int(history.labels[:lo].sum())
    versions = [*outcomes.versions, ""]
    used = np.array([versions[i] for i in outcomes.model.tolist()])
    assert set(used[history.timestamp < start].tolist()) == {""}  # warmup: rules only
    for period in baseline.report["scored_by"]:
        since = _ms(period["from"])
        until = _ms(period["until"]) if period["until"] else history.timestamp[-1] + 1
        rows = (history.timestamp >= since) & (history.timestamp < until)
        assert set(used[rows].tolist()) == {period["version"] or ""}


def _ms(stamp: str) -> int:
    return int(np.datetime64(stamp.rstrip("Z"), "ms").astype(np.int64))


def test_a_train_window_keeps_only_the_latest_released_labels(
    loaded: Loaded, settings: Settings
) -> None:
    run = _run(loaded, settings, train_window_ms=3 * DAY)
    ts = loaded.history.timestamp
    for model in run.report["models"]:
        at = _ms(model["trained_at"])
        lo = np.searchsorted(ts, at - 5 * DAY, side="left")
        hi = np.searchsorted(ts, at - 2 * DAY, side="left")
        assert model["training"]["rows"] + model["validation"]["rows"] == hi - lo


def test_a_given_model_scores_the_evaluation_period(
    loaded: Loaded, settings: Settings, baseline: Backtest, tmp_path: Path
) -> None:
    artifact = baseline.replay.models.current
    assert artifact is not None
    assert isinstance(artifact, ModelArtifact)
    artifact.save(tmp_path / "model")
    run = _run(loaded, settings, model_path=tmp_path / "model", retrain_every_ms=None)
    outcomes, ts = run.replay.outcomes, loaded.history.timestamp
    assert outcomes.versions == [artifact.version]
    assert set(outcomes.model[ts >= run.evaluation_start_ms].tolist()) == {0}
    assert set(outcomes.model[ts < run.evaluation_start_ms].tolist()) == {-1}
    assert run.report["models"] == []
    assert run.report["scored_by"] == [
        {
            "from": _iso(int(ts[np.searchsorted(ts, run.evaluation_start_ms)])),
            "until": None,
            "version": artifact.version,
            "kind": "lightgbm",
        }
    ]


def test_a_warmup_without_a_released_fraud_label_says_what_to_change(
    loaded: Loaded, settings: Settings
) -> None:
    with pytest.raises(UsageError) as error:
        _run(loaded, settings, label_delay_ms=30 * DAY)
    message = str(error.value)
    assert message.startswith("no fraud label is released by the end of the warmup")
    assert message.endswith(
        "with --label-delay 30d, only transactions older than that have labels when the warmup "
        "ends: use a shorter --label-delay or a longer --warmup"
    )


def test_too_few_released_frauds_to_train_say_what_to_change(
    loaded: Loaded, settings: Settings
) -> None:
    labels = np.zeros(len(loaded.history), dtype=np.int8)
    labels[:2] = 1
    sparse = replace(loaded, history=replace(loaded.history, labels=labels))
    with pytest.raises(UsageError) as error:
        _run(sparse, settings)
    assert str(error.value).startswith(
        "no model could be trained at 2024-12-21T22:16:11Z (skipped: not enough labelled rows: "
    )
    assert str(error.value).endswith(
        "use a shorter --label-delay or a longer --warmup, or a shorter --validation (the "
        "latest 1d of the labelled rows validate, only the rest train)"
    )


def test_rows_the_detector_rejects_are_reported_not_scored(
    loaded: Loaded, settings: Settings
) -> None:
    history = loaded.history.window(0, 4000)
    amount = history.amount.copy()
    amount[[10, 3500]] = -5.0
    small = replace(loaded, history=replace(history, amount=amount))
    run = _run(small, settings, warmup_ms=4 * DAY, retrain_every_ms=None, label_delay_ms=DAY)
    outcomes = run.replay.outcomes
    assert outcomes.rejected == {10: "invalid_amount", 3500: "invalid_amount"}
    assert outcomes.reasons[10] == "invalid_amount"
    assert int(outcomes.scored.sum()) == 3998
    assert run.report["dead_letters"] == {"invalid_amount": 2}
    evaluation = run.report["evaluation"]
    in_period = int((history.timestamp >= run.evaluation_start_ms).sum())
    rejected_in_period = int(history.timestamp[3500] >= run.evaluation_start_ms)
    assert evaluation["transactions"] == in_period
    assert (evaluation["scored"], evaluation["rejected"]) == (
        in_period - rejected_in_period,
        rejected_in_period,
    )


def test_slices_respect_size_span_and_cuts() -> None:
    ts = np.array([0, 1, 2, 3, 10, 11, 12, 30, 31, 32], dtype=np.int64) * HOUR
    assert plan_slices(ts, 3, None, [5]) == [(0, 3), (3, 5), (5, 8), (8, 10)]
    assert plan_slices(ts, 100, 6 * HOUR, []) == [(0, 4), (4, 7), (7, 10)]
    assert plan_slices(ts, 100, None, [0, 10, 7]) == [(0, 7), (7, 10)]
