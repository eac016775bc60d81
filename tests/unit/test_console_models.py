"""The Models page on the embedded store: versions, one version, the alias history, read-only."""

from __future__ import annotations

import pytest

from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import FeatureSet, ModelDraft, TrainingWindow
from tests.unit.console_rig import NOW, ConsoleRig, make_console_rig

pytestmark = pytest.mark.unit

DAY = 86_400_000
BANDS = {
    "MEDIUM": {"threshold": 0.4, "alert_rate": 0.05, "precision": 0.5, "recall": 0.8},
    "HIGH": {"threshold": 0.8, "alert_rate": 0.01, "precision": 0.9, "recall": 0.4},
}


def _draft(parent: str | None = None, auc: float = 0.97) -> ModelDraft:
    return ModelDraft(
        kind="lightgbm",
        feature_set=FeatureSet.of("live", ("amount", "velocity_1h")),
        window=TrainingWindow(
            NOW - 10 * DAY, NOW - 2 * DAY, NOW - 2 * DAY, NOW - DAY, 800, 40, DAY
        ),
        params={"num_leaves": 15, "learning_rate": 0.05},
        metrics={"roc_auc": auc, "average_precision": 0.61, "bands": BANDS},
        bands={"MEDIUM": 0.4, "HIGH": 0.8},
        created_by="train" if parent is None else "learn",
        parent=parent,
    )


@pytest.fixture(scope="module")
def rig() -> ConsoleRig:
    rig = make_console_rig()
    registry = ModelRegistry(rig.clients.state(), rig.clock)
    first, _ = registry.register(_draft(), b"tree one\n")
    rig.clock.advance(60.0)
    second, _ = registry.register(_draft(first.version, 0.98), b"tree two\n")
    registry.promote(first.version, "champion", "first model", "cli:ana")
    rig.clock.advance(60.0)
    registry.promote(second.version, "champion", "better AUC", "cli:ana")
    registry.promote(first.version, "shadow", "", "cli:adam")
    return rig


def _versions(rig: ConsoleRig) -> tuple[str, str]:
    found = sorted(ModelRegistry(rig.clients.state()).versions(), key=lambda v: v.created_ms)
    return found[0].version, found[1].version


def test_the_models_json_lists_versions_newest_first_with_aliases_and_history(
    rig: ConsoleRig,
) -> None:
    first, second = _versions(rig)
    with rig.client() as client:
        models = client.get("/api/models").json()
    assert models["versions"] == [
        {
            "version": second,
            "kind": "lightgbm",
            "aliases": ["champion"],
            "created": NOW + 60_000,
            "created_by": "learn",
            "roc_auc": 0.98,
            "average_precision": 0.61,
            "rows": 800,
            "frauds": 40,
            "window": {"start_ms": NOW - 10 * DAY, "end_ms": NOW - 2 * DAY},
        },
        {
            "version": first,
            "kind": "lightgbm",
            "aliases": ["shadow"],
            "created": NOW,
            "created_by": "train",
            "roc_auc": 0.97,
            "average_precision": 0.61,
            "rows": 800,
            "frauds": 40,
            "window": {"start_ms": NOW - 10 * DAY, "end_ms": NOW - 2 * DAY},
        },
    ]
    assert models["aliases"] == {"champion": second, "shadow": first}
    moves = [
        (m["alias"], m["seq"], m["from"], m["to"], m["reason"], m["actor"])
        for m in models["history"]
    ]
    assert moves == [
        ("shadow", 1, None, first, "", "cli:adam"),
        ("champion", 2, first, second, "better AUC", "cli:ana"),
        ("champion", 1, None, first, "first model", "cli:ana"),
    ]
    assert [m["time"] for m in models["history"]] == [NOW + 120_000, NOW + 120_000, NOW + 60_000]


def test_a_version_shows_its_bands_params_features_lineage_and_moves(rig: ConsoleRig) -> None:
    first, second = _versions(rig)
    with rig.client() as client:
        model = client.get("/api/models/champion").json()
        page = client.get(f"/models/{second}").text
    assert (model["version"], model["parent"], model["aliases"]) == (second, first, ["champion"])
    assert model["band_metrics"] == [
        {"band": "MEDIUM", "threshold": 0.4, "alert_rate": 0.05, "precision": 0.5, "recall": 0.8},
        {"band": "HIGH", "threshold": 0.8, "alert_rate": 0.01, "precision": 0.9, "recall": 0.4},
    ]
    assert model["params"] == {"num_leaves": 15, "learning_rate": 0.05}
    assert model["feature_set"]["features"] == ["amount", "velocity_1h"]
    assert [(m["alias"], m["from"], m["to"]) for m in model["history"]] == [
        ("champion", first, second)
    ]
    assert f'<a href="/models/{first}">{first}</a>' in page  # the parent, linked
    assert '<tr><td>HIGH</td><td class="num">0.8000</td><td class="num">1.00%</td>' in page
    assert (
        "live " + model["feature_set"]["hash"] + " (2 features, float64): amount, velocity_1h"
        in page
    )
    assert "Read-only: promote and roll back with `stream-sentinel models promote" in page


def test_the_models_page_has_a_row_per_version_and_no_form(rig: ConsoleRig) -> None:
    _, second = _versions(rig)
    with rig.client() as client:
        page = client.get("/models").text
    assert page.count('<tr>\n  <td><a href="/models/m-') == 2
    assert f"<td>{second}</td>" not in page  # versions are links
    assert "<td>champion</td>" in page and "<td>shadow</td>" in page
    assert "<td>better AUC</td><td>cli:ana</td>" in page
    assert '<form method="post"' not in page.split("<main>")[1]


def test_an_unknown_version_is_a_usage_error(rig: ConsoleRig) -> None:
    with rig.client() as client:
        reply = client.get("/api/models/m-nope")
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("no model version or alias 'm-nope' in the registry")


def test_an_empty_registry_says_how_to_register_one() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        page = client.get("/models").text
        models = client.get("/api/models").json()
    assert (models["versions"], models["aliases"], models["history"]) == ([], {}, [])
    assert "No models registered yet: `stream-sentinel train FILE` registers one." in page
