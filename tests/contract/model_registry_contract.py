"""One behavioural suite for the model registry over every StateStore implementation.

Subclass :class:`ModelRegistryContract` and provide a ``store`` fixture (an empty store). The
embedded store runs it in the unit tier, Redis in the integration tier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.errors import ArtifactCorrupt, StateError, UsageError
from stream_sentinel.learning import keys
from stream_sentinel.learning.registry import MOVE_ATTEMPTS, ModelRegistry
from stream_sentinel.learning.versions import (
    FeatureSet,
    ModelDraft,
    TrainingWindow,
    sha256_hex,
    version_id,
)
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore

T0 = 1_700_000_000_000


def draft(**changes: object) -> ModelDraft:
    base = ModelDraft(
        kind="lightgbm",
        feature_set=FeatureSet.of("live", ("amount", "velocity_1h")),
        window=TrainingWindow(T0, T0 + 1000, T0 + 1001, T0 + 2000, 800, 40, 86_400_000),
        params={"num_leaves": 15},
        metrics={"roc_auc": 0.97, "average_precision": 0.61, "bands": {}},
        bands={"MEDIUM": 0.4, "HIGH": 0.8},
        created_by="train",
    )
    return ModelDraft.of(base, **changes) if changes else base  # type: ignore[arg-type]


class Meddling:
    """A store on which another writer moves an alias between a move's read and its write:
    ``meddle`` runs (once) just before the first guarded alias write, then the write goes on."""

    def __init__(self, store: StateStore, meddle: Callable[[], object]) -> None:
        self._store, self._meddle = store, meddle
        self.meddled = 0

    def apply_guarded(self, guard: Guard, batch: Batch) -> Outcome:
        if guard.key == keys.ALIAS_SEQ and not self.meddled:
            self.meddled += 1
            self._meddle()
        return self._store.apply_guarded(guard, batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class AlwaysLosing(Meddling):
    """A store on which every guarded alias write finds the alias moved (and writes nothing)."""

    def __init__(self, store: StateStore) -> None:
        super().__init__(store, lambda: None)

    def apply_guarded(self, guard: Guard, batch: Batch) -> Outcome:
        if guard.key == keys.ALIAS_SEQ:
            return Outcome.REPLAYED
        return self._store.apply_guarded(guard, batch)


@pytest.mark.contract
class ModelRegistryContract:
    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(T0)

    @pytest.fixture
    def registry(self, store: StateStore, clock: ManualClock) -> ModelRegistry:
        return ModelRegistry(store, clock, chunk_size=16)

    def register(self, registry: ModelRegistry, artifact: bytes) -> str:
        return registry.register(draft(), artifact)[0].version

    def test_a_version_is_named_by_its_content_and_registered_once(
        self, registry: ModelRegistry, clock: ManualClock
    ) -> None:
        version, new = registry.register(draft(), b"tree model A")
        assert (version.version, new) == (version_id(b"tree model A"), True)
        assert (version.created_ms, version.artifact.size) == (T0, 12)
        clock.advance(5)
        again, new_again = registry.register(draft(tags={"x": "y"}), b"tree model A")
        assert (again, new_again) == (version, False)
        later, _ = registry.register(draft(parent=version.version), b"tree model B")
        assert [v.version for v in registry.versions()] == [version.version, later.version]
        assert registry.get(later.version) == later
        assert later.parent == version.version and later.created_ms == T0 + 5000

    def test_an_artifact_comes_back_byte_for_byte_across_chunks(
        self, registry: ModelRegistry
    ) -> None:
        data = bytes(range(256)) * 3 + b"tail"  # 772 bytes: 48 chunks of 16 and one of 4
        version, _ = registry.register(draft(), data)
        assert len(version.artifact.chunks) == 49
        assert version.artifact.sha256 == sha256_hex(data)
        assert registry.artifact(version) == data

    def test_a_tampered_chunk_is_refused(self, registry: ModelRegistry, store: StateStore) -> None:
        version, _ = registry.register(draft(), b"0123456789abcdef" * 2)
        first = version.artifact.chunks[0]
        store.execute(Batch().set(keys.MODELS, keys.chunk(first), b"0123456789abcdeX"))
        with pytest.raises(ArtifactCorrupt) as refused:
            registry.artifact(version)
        assert str(refused.value) == (
            f"chunk 0 of artifact {version.artifact.sha256[:12]} is corrupt: sha256 "
            f"{sha256_hex(b'0123456789abcdeX')[:12]} where {first[:12]} was stored; refusing to "
            "load it (import the model again)"
        )

    def test_a_missing_chunk_is_refused(self, registry: ModelRegistry, store: StateStore) -> None:
        version, _ = registry.register(draft(), b"x" * 40)
        store.execute(Batch().delete(keys.MODELS, keys.chunk(version.artifact.chunks[2])))
        with pytest.raises(ArtifactCorrupt, match=r"chunk 2 .* is missing from the registry"):
            registry.artifact(version)

    def test_promotes_are_recorded_with_previous_version_reason_and_actor(
        self, registry: ModelRegistry, clock: ManualClock
    ) -> None:
        a, b = self.register(registry, b"model a"), self.register(registry, b"model b")
        first = registry.promote(a, "champion", "first model", "train")
        clock.advance(60)
        second = registry.promote(b, "champion", "better AP", "cli:ana")
        registry.promote(a, "shadow", "", "cli:ana")
        assert registry.aliases() == {"champion": b, "shadow": a}
        assert (first.previous, first.seq, first.time_ms) == (None, 1, T0)
        assert (second.previous, second.seq, second.time_ms) == (a, 2, T0 + 60_000)
        assert registry.history("champion") == [second, first]
        assert [m.alias for m in registry.history()] == ["shadow", "champion", "champion"]

    def test_rollback_walks_the_lineage_back_like_an_undo(self, registry: ModelRegistry) -> None:
        a, b, c = (self.register(registry, name) for name in (b"a", b"b", b"c"))
        for version in (a, b, c):
            registry.promote(version, "champion")
        back = registry.rollback("champion", "AP dropped", "cli:ana")
        assert (back.kind, back.previous, back.version, back.seq) == ("rollback", c, b, 4)
        assert registry.rollback().version == a
        with pytest.raises(UsageError) as nothing:
            registry.rollback()
        assert str(nothing.value) == (
            f"nothing to roll champion back to: it points at {a} with no earlier version in its "
            "history (stream-sentinel models history); promote a version instead"
        )
        assert registry.aliases() == {"champion": a}
        assert len(registry.history()) == 5

    def test_unknown_versions_and_bad_aliases_change_nothing(self, registry: ModelRegistry) -> None:
        a = self.register(registry, b"a")
        with pytest.raises(UsageError) as unknown:
            registry.promote("m-000000000000")
        assert str(unknown.value) == (
            "no model version 'm-000000000000' in the registry; "
            "`stream-sentinel models list` shows the registered ones"
        )
        with pytest.raises(UsageError, match="'Champion!' cannot be an alias"):
            registry.promote(a, "Champion!")
        with pytest.raises(UsageError, match="nothing to roll champion back to: it was never set"):
            registry.rollback()
        with pytest.raises(UsageError) as kind:
            registry.register(draft(kind="xgboost"), b"xgb")
        assert (
            str(kind.value)
            == "unknown model kind 'xgboost': the registry knows ('lightgbm', 'river-logreg')"
        )
        registry.promote(a)
        with pytest.raises(UsageError, match=f"^{a} is already champion; nothing changed$"):
            registry.promote(a)
        assert registry.aliases() == {"champion": a}
        assert len(registry.history()) == 1 and len(registry.versions()) == 1

    def test_names_resolve_as_versions_prefixes_and_aliases(self, registry: ModelRegistry) -> None:
        a = self.register(registry, b"a")
        registry.promote(a, "challenger")
        assert registry.resolve(a) == a
        assert registry.resolve(a[:8]) == a
        assert registry.resolve("challenger") == a
        with pytest.raises(UsageError, match=r"no model version or alias 'm-ff' .*nothing matches"):
            registry.resolve("m-ff")

    def test_a_promote_that_loses_a_race_re_reads_and_the_later_one_wins(
        self, store: StateStore, clock: ManualClock
    ) -> None:
        a, b, c = (self.register(ModelRegistry(store, clock), n) for n in (b"a", b"b", b"c"))
        other = ModelRegistry(store, clock)
        other.promote(a, reason="first")
        meddling = Meddling(store, lambda: other.promote(b, reason="theirs", actor="bob"))
        mine = ModelRegistry(meddling, clock).promote(c, reason="mine", actor="ana")
        assert meddling.meddled == 1  # their move landed between this promote's read and write
        assert (mine.previous, mine.version, mine.seq) == (b, c, 3)
        history = other.history("champion")
        assert [(m.seq, m.previous, m.version, m.actor) for m in history] == [
            (3, b, c, "ana"),
            (2, a, b, "bob"),
            (1, None, a, ""),
        ]
        assert other.aliases() == {"champion": c}

    def test_two_racing_rollbacks_undo_one_move_and_the_loser_says_so(
        self, store: StateStore, clock: ManualClock
    ) -> None:
        other = ModelRegistry(store, clock)
        a, b, c = (self.register(other, n) for n in (b"a", b"b", b"c"))
        for version in (a, b, c):
            other.promote(version)
        meddling = Meddling(store, lambda: other.rollback(reason="ops2", actor="bob"))
        with pytest.raises(StateError) as lost:
            ModelRegistry(meddling, clock).rollback(reason="ops1", actor="ana")
        assert str(lost.value) == (
            f"champion moved to {b} meanwhile (`stream-sentinel models history`); nothing was "
            "rolled back: run rollback again if still wanted"
        )
        assert other.aliases() == {"champion": b}
        assert [(m.kind, m.actor) for m in other.history()][:2] == [
            ("rollback", "bob"),
            ("promote", ""),
        ]

    def test_a_move_that_always_loses_gives_up_and_writes_nothing(
        self, store: StateStore, clock: ManualClock
    ) -> None:
        a = self.register(ModelRegistry(store, clock), b"a")
        losing = ModelRegistry(AlwaysLosing(store), clock)
        with pytest.raises(StateError) as gave_up:
            losing.promote(a)
        assert str(gave_up.value) == (
            f"alias champion was moved by other writers on each of {MOVE_ATTEMPTS} attempts, so "
            "this promote changed nothing; see `stream-sentinel models history` and promote "
            "again once they are done"
        )
        assert (losing.aliases(), losing.history(), losing.alias_state("champion")) == (
            {},
            [],
            (None, 0),
        )

    def test_registering_again_rewrites_missing_and_corrupt_chunks(
        self, registry: ModelRegistry, store: StateStore
    ) -> None:
        data = bytes(range(48))  # three chunks of 16
        version, _ = registry.register(draft(), data)
        lost, bad = (keys.chunk(h) for h in version.artifact.chunks[1:])
        store.execute(Batch().delete(keys.MODELS, lost).set(keys.MODELS, bad, b"X" * 16))
        with pytest.raises(ArtifactCorrupt, match=r"chunk 1 .* is missing from the registry"):
            registry.artifact(version)
        assert registry.register(draft(), data) == (version, False)
        assert registry.artifact(version) == data
        assert registry.repair(version, data) == 0  # nothing left to repair

    def test_nothing_in_the_registry_can_expire(
        self, registry: ModelRegistry, store: StateStore
    ) -> None:
        a = self.register(registry, b"a" * 40)
        registry.promote(a)
        names = sorted(store.scan(keys.MODELS))
        chunks = sorted(keys.chunk(h) for h in set(registry.get(a).artifact.chunks))
        assert len(chunks) == 2  # 16 + 16 + 8 bytes: the two equal chunks share one key
        singles = ["aliases", "aliases:moves", "aliases:seq", "models", "models:registered"]
        assert names == sorted([keys.model(a), *chunks, *singles])
        batch = Batch()
        for name in names:
            batch.pttl(keys.MODELS, name)
        assert store.execute(batch) == [-1] * len(names)
