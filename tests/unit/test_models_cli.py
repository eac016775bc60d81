"""`stream-sentinel models` and `feedback stats` as a user drives them, on the embedded store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from stream_sentinel.cli import cli
from stream_sentinel.clients.backends import EmbeddedClients
from stream_sentinel.clock import ManualClock
from stream_sentinel.commands.context import CliContext
from stream_sentinel.learning import keys
from stream_sentinel.learning.feedback import FeedbackStore
from stream_sentinel.learning.models import draft_of
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import sha256_hex, version_id
from stream_sentinel.scoring.model import ModelArtifact
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import Serde
from tests.contract.feedback_store_contract import STREAM
from tests.contract.model_registry_contract import draft
from tests.unit.test_model_store import tiny_model

pytestmark = pytest.mark.unit
T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


class Desk:
    """One embedded backend shared by every command of a test, and a manual clock."""

    def __init__(self) -> None:
        self.clock = ManualClock(T0)
        self.clients = EmbeddedClients(self.clock)
        self.clients.broker().admin().create_topics(Topics().specs())
        self.registry = ModelRegistry(self.clients.state(), self.clock)

    def events(self) -> list[tuple[str, int, str | None]]:
        """What model-events holds: (alias, move, version) per record, in order."""
        consumer = self.clients.broker().consumer(None)
        consumer.assign({TopicPartition("model-events", 0): 0})
        decoder = Serde(self.clients.registry()).decoder("model-events")
        events = [decoder.decode(r.value()) for r in consumer.consume(1000, 0.05)]
        return [(e["alias"], e["move"], e["model_version"]) for e in events]

    def run(self, *args: str, store: object = None) -> Result:
        """One command; with ``store``, it uses that store (a wrapper of the shared one)."""
        clients = self.clients if store is None else WithStore(self.clients, store)
        context = CliContext(clients=clients, clock=self.clock)
        return CliRunner().invoke(cli, list(args), obj=context)


class WithStore:
    """The desk's embedded clients with another state store."""

    def __init__(self, clients: EmbeddedClients, store: object) -> None:
        self._clients, self._store = clients, store

    def state(self) -> object:
        return self._store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clients, name)


class AfterMove:
    """A store on which ``then`` (another command) runs right after the first alias move."""

    def __init__(self, store: StateStore, then: Callable[[], None]) -> None:
        self._store, self._then = store, then
        self.ran = False

    def apply_guarded(self, guard: Guard, batch: Batch) -> Outcome:
        outcome = self._store.apply_guarded(guard, batch)
        if guard.key == keys.ALIAS_SEQ and not self.ran:
            self.ran = True
            self._then()
        return outcome

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def desk() -> Desk:
    return Desk()


def two_models(desk: Desk) -> tuple[str, str]:
    model = tiny_model()
    first = desk.registry.register(*draft_of(model, 86_400_000))[0].version
    desk.clock.advance(3600)
    second = desk.registry.register(draft(parent=first), b"another model")[0].version
    return first, second


def test_list_says_how_to_register_the_first_model(desk: Desk) -> None:
    result = desk.run("models", "list")
    assert (result.exit_code, result.output) == (
        0,
        "no models registered yet: `stream-sentinel train FILE` registers one\n",
    )
    assert json.loads(desk.run("models", "list", "--json").output) == []


def test_promote_list_history_and_rollback(desk: Desk) -> None:
    first, second = two_models(desk)
    promoted = desk.run("models", "promote", first, "--reason", "first", "--actor", "ana")
    assert promoted.exit_code == 0, promoted.output
    assert promoted.output == (
        f"champion: - -> {first} (promote #1, by ana); announced on model-events\n"
    )
    assert desk.events() == [("champion", 1, first)]
    desk.clock.advance(60)
    desk.run("models", "promote", second[:8], "--actor", "ana", "--reason", "try b")
    desk.run("models", "promote", first, "--alias", "shadow", "--actor", "ana")
    auc = f"{tiny_model().metadata['report']['roc_auc']:.4f}"
    ap = f"{tiny_model().metadata['report']['average_precision']:.4f}"
    assert desk.run("models", "list").output.splitlines() == [
        "version         kind      aliases               created (UTC)        by      AUC     AP",
        f"{second}  lightgbm  champion              2023-11-14 23:13:20  train   0.9700  0.6100",
        f"{first}  lightgbm  shadow                2023-11-14 22:13:20  train   {auc}  {ap}",
    ]
    back = desk.run("models", "rollback", "--actor", "bob")
    assert back.output == (
        f"champion: {second} -> {first} (rollback #3, by bob); announced on model-events\n"
    )
    assert desk.events() == [
        ("champion", 1, first),
        ("champion", 2, second),
        ("shadow", 1, first),
        ("champion", 3, first),
    ]
    assert desk.run("models", "history").output.splitlines() == [
        f"2023-11-14 23:14:20  champion #3 rollback {second} -> {first}  by bob: rollback",
        f"2023-11-14 23:14:20  shadow #1 promote - -> {first}  by ana",
        f"2023-11-14 23:14:20  champion #2 promote {first} -> {second}  by ana: try b",
        f"2023-11-14 23:13:20  champion #1 promote - -> {first}  by ana: first",
    ]


def test_racing_promotes_are_both_announced_and_the_registry_says_who_won(desk: Desk) -> None:
    first, second = two_models(desk)

    def theirs() -> None:  # a second operator's promote, between our move and its event
        assert desk.run("models", "promote", second, "--actor", "bob").exit_code == 0

    racing = AfterMove(desk.clients.state(), theirs)
    mine = desk.run("models", "promote", first, "--actor", "ana", store=racing)
    assert (racing.ran, mine.exit_code) == (True, 0)
    assert (
        mine.output == f"champion: - -> {first} (promote #1, by ana); announced on model-events\n"
    )
    # the events arrive out of order; a detector re-reads the registry on each, so it ends at
    # the later move whatever the order
    assert desk.events() == [("champion", 2, second), ("champion", 1, first)]
    assert desk.registry.alias_state("champion") == (second, 2)


def test_announce_publishes_the_latest_move_again(desk: Desk) -> None:
    first, _ = two_models(desk)
    desk.registry.promote(first, actor="ana")  # a registry without a publisher: no event
    assert desk.events() == []
    again = desk.run("models", "announce")
    assert (again.exit_code, again.output) == (0, f"announced champion -> {first} (move #1)\n")
    assert desk.events() == [("champion", 1, first)]
    never = desk.run("models", "announce", "--alias", "shadow")
    assert never.exit_code == 2
    assert never.output == "error: shadow was never set: there is no move to announce\n"


def test_list_and_show_print_json_for_machines(desk: Desk) -> None:
    first, second = two_models(desk)
    desk.registry.promote(first)
    listed = json.loads(desk.run("models", "list", "--json").output)
    assert [(v["version"], v["kind"], v["aliases"], v["created"]) for v in listed] == [
        (second, "lightgbm", [], T0 + 3_600_000),
        (first, "lightgbm", ["champion"], T0),
    ]
    assert listed[1]["metrics"]["roc_auc"] == tiny_model().metadata["report"]["roc_auc"]
    shown = json.loads(desk.run("models", "show", "champion", "--json").output)
    assert shown == listed[1]
    assert shown["artifact"]["format"] == "lightgbm-text"
    assert shown["window"]["label_delay_ms"] == 86_400_000


def test_show_prints_the_version_in_full(desk: Desk) -> None:
    _, second = two_models(desk)
    version = desk.registry.get(second)
    assert desk.run("models", "show", second).output.splitlines() == [
        f"version       {second}",
        "kind          lightgbm",
        "aliases       -",
        "created       2023-11-14 23:13:20 UTC by train",
        f"parent        {version.parent}",
        f"feature set   live {version.feature_set.hash} (2 features, float64)",
        "trained on    2023-11-14 22:13:20 .. 2023-11-14 22:13:21: 800 rows, 40 fraud",
        "validated on  2023-11-14 22:13:21 .. 2023-11-14 22:13:22",
        "label delay   24 h",
        f"artifact      lightgbm-text, 13 bytes, sha256 {version.artifact.sha256}",
        "metrics       ROC AUC 0.9700, AP 0.6100",
        "tags          -",
    ]


def test_bad_names_fail_at_once_and_change_nothing(desk: Desk) -> None:
    first, _ = two_models(desk)
    unknown = desk.run("models", "promote", "m-000000000000")
    assert unknown.exit_code == 2
    assert unknown.output == (
        "error: no model version or alias 'm-000000000000' in the registry (nothing matches it); "
        "`stream-sentinel models list` shows versions and aliases\n"
    )
    alias = desk.run("models", "promote", first, "--alias", "Best")
    assert alias.exit_code == 2 and "error: 'Best' cannot be an alias" in alias.output
    nothing = desk.run("models", "rollback")
    assert nothing.exit_code == 2
    assert "nothing to roll champion back to: it was never set" in nothing.output
    assert desk.registry.aliases() == {} and desk.registry.history() == []
    assert desk.events() == []


def test_diff_puts_two_versions_side_by_side(desk: Desk) -> None:
    first, second = two_models(desk)
    lines = desk.run("models", "diff", first, second).output.splitlines()
    a, b = desk.registry.get(first), desk.registry.get(second)
    width = len(f"{a.feature_set.name} {a.feature_set.hash} (29)") + 2  # the widest short cell
    # names: "param min_data_in_leaf" is the longest (22) + 2
    assert lines[0] == f"  {'version':<24}{first:<{width}}{second}"
    assert lines[1] == f"  {'kind':<24}{'lightgbm':<{width}}lightgbm"
    assert lines[4] == f"* {'parent':<24}{'-':<{width}}{first}"
    assert lines[-1].startswith("* features only here      log_amount, channel, ")
    assert f"  {'param num_leaves':<24}{'15':<{width}}15" in lines
    assert f"* {'param rounds':<24}{'10':<{width}}-" in lines
    assert lines[-1].endswith("merchant_fraud_rate_30d  velocity_1h")
    assert b.feature_set.features == ("amount", "velocity_1h")


def test_export_then_import_into_another_registry(desk: Desk, tmp_path: Path) -> None:
    first, _ = two_models(desk)
    exported = desk.run("models", "export", first, str(tmp_path / "out"))
    assert exported.output == f"exported {first} to {tmp_path / 'out' / first}\n"
    assert ModelArtifact.load(tmp_path / "out" / first).version == first
    other = Desk()
    imported = other.run("models", "import", str(tmp_path / "out"))
    assert imported.output == f"{first}: imported\n"
    version = other.registry.get(first)
    assert (version.created_by, version.tags["exported_by"]) == ("import", "train")
    assert other.registry.artifact(version) == desk.registry.artifact(desk.registry.get(first))
    again = other.run("models", "import", str(tmp_path / "out"))
    assert again.output == f"{first}: already registered\n"


def test_a_tampered_export_is_refused_and_nothing_is_imported(desk: Desk, tmp_path: Path) -> None:
    first, _ = two_models(desk)
    desk.run("models", "export", first, str(tmp_path / "out"))
    text = tmp_path / "out" / first / "model.txt"
    text.write_text(text.read_text().replace("tree", "TREE", 1))
    other = Desk()
    refused = other.run("models", "import", str(tmp_path / "out"))
    assert refused.exit_code == 1
    assert refused.output.startswith(f"error: cannot import {tmp_path / 'out' / first}: model.txt")
    assert refused.output.endswith(
        f"but model.json names '{first}'; the files were changed after export\n"
    )
    assert other.registry.versions() == []
    empty = other.run("models", "import", str(tmp_path))
    assert empty.exit_code == 2 and "holds no model: expected model.json" in empty.output


def test_an_import_checks_every_version_before_it_registers_any(desk: Desk, tmp_path: Path) -> None:
    first, _ = two_models(desk)
    out = tmp_path / "out"
    desk.run("models", "export", first, str(out))
    data = (out / first / "model.txt").read_bytes() + b"\n"  # still LightGBM text
    meta = json.loads((out / first / "model.json").read_text())
    record = meta["registry"]
    record["artifact"].update(sha256=sha256_hex(data), size=len(data))
    meta["version"] = record["version"] = version_id(data)
    bad = out / "zz-tampered"  # sorts after the good version: it is checked last
    bad.mkdir()
    (bad / "model.txt").write_bytes(data)
    other = Desk()

    def refused_with(changes: dict[str, object]) -> str:
        (bad / "model.json").write_text(json.dumps({**meta, "registry": {**record, **changes}}))
        refused = other.run("models", "import", str(out))
        assert refused.exit_code == 1 and other.registry.versions() == []
        return refused.output

    assert refused_with({"kind": "xgboost"}) == (
        f"error: cannot import {bad}: unknown model kind 'xgboost': the registry knows "
        "('lightgbm', 'river-logreg')\n"
    )
    features = record["feature_set"]
    assert refused_with({"feature_set": {**features, "hash": "0" * 16}}) == (
        f"error: cannot import {bad}: its feature set hashes to {features['hash']} but "
        "model.json records 0000000000000000; the record was changed after export\n"
    )


def test_feedback_stats_reports_the_labels(desk: Desk) -> None:
    assert desk.run("feedback", "stats").output == (
        "no labels in the feedback store yet (they arrive on fraud-feedback)\n"
    )
    FeedbackStore(desk.clients.state()).ingest(STREAM)
    lines = desk.run("feedback", "stats").output.splitlines()
    assert lines[1] == "2023-11-15 ANALYST           2      0    0.0%  <= 6h/<= 6h/<= 6h"
    assert lines[-2:] == [
        "conflicts: ANALYST>CUSTOMER 1, CHARGEBACK>ANALYST 1",
        "transactions by effective label (all time; relabelled after expiry counts "
        "again): FRAUD 1, LEGIT 1",
    ]
    found = json.loads(desk.run("feedback", "stats", "--json", "--days", "1").output)
    assert (found["labels"], [r["source"] for r in found["by_day"]]) == (1, ["CHARGEBACK"])


@pytest.fixture(scope="module")
def labelled_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.csv"
    args = ["generate", "--count", "4000", "--seed", "7", "--output", str(path)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    return path


def test_train_registers_its_model_and_the_first_one_becomes_champion(
    desk: Desk, labelled_history: Path
) -> None:
    trained = desk.run("train", str(labelled_history), "--label-column", "is_fraud")
    assert trained.exit_code == 0, trained.output
    [version] = desk.registry.versions()
    assert trained.output.splitlines()[-2:] == [
        f"model {version.version} registered",
        f"champion: - -> {version.version}; announced on model-events",
    ]
    assert (version.created_by, version.tags) == ("train", {"source": str(labelled_history)})
    assert version.window.label_delay_ms == 86_400_000 and version.window.rows == 3200
    [move] = desk.registry.history()
    assert (move.actor, move.reason) == ("train", "trained on history.csv (first model)")
    assert desk.events() == [("champion", 1, version.version)]
    again = desk.run("train", str(labelled_history), "--promote")
    assert again.output.splitlines()[-2:] == [
        f"model {version.version} was already registered",
        f"champion stays {version.version} (`stream-sentinel models promote` moves it)",
    ]
    other = desk.run("train", str(labelled_history), "--holdout", "0.3")
    assert other.output.splitlines()[-1] == (
        f"champion stays {version.version} (`stream-sentinel models promote` moves it)"
    )
    assert len(desk.registry.versions()) == 2 and len(desk.registry.history()) == 1


@pytest.mark.parametrize("group", ["models", "feedback"])
def test_every_command_has_a_one_sentence_help(group: str) -> None:
    command = cli.commands[group]
    assert isinstance(command, click.Group)
    for sub in [command, *command.commands.values()]:
        text = (sub.help or "").strip()
        assert text.endswith(".") and text.count(". ") == 0 and "\n" not in text, sub.name
        for param in sub.params:
            if isinstance(param, click.Option):
                assert param.help, f"{sub.name} {param.name} has no help"
