"""The model registry (DB3): versions, their artifacts, aliases and every alias move.

Built only on the StateStore interface, so the embedded store and Redis run the same code.
Registering writes the artifact's chunks first (content-addressed, so a retry rewrites the same
bytes), then the version record and its index entry in one atomic step. An alias move writes
the alias and its history entry in one guarded step whose watermark is the alias's move count:
two promotes racing on one alias both land, one after the other, and the later one wins; a
rollback that loses a race fails instead of undoing a move its caller never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stream_sentinel.clock import SYSTEM_CLOCK, Clock
from stream_sentinel.errors import AliasUnchanged, StateError, UsageError
from stream_sentinel.learning import keys
from stream_sentinel.learning.aliases import CHAMPION, AliasMove, MoveKind, check_alias
from stream_sentinel.learning.aliases import rollback_target as _rollback_target
from stream_sentinel.learning.artifacts import (
    CHUNK_SIZE,
    assemble,
    check_size,
    damaged,
    split,
    verify,
)
from stream_sentinel.learning.versions import (
    FORMATS,
    KINDS,
    ArtifactRef,
    ModelDraft,
    ModelVersion,
    version_id,
)
from stream_sentinel.state.base import Batch, Guard, Outcome, StateStore

#: Chunks per pipeline when writing an artifact (8 MiB per round trip with 1 MiB chunks).
CHUNKS_PER_WRITE = 8
#: Attempts of an alias move that keeps losing races before it gives up.
MOVE_ATTEMPTS = 50


def check_registrable(kind: str, size: int) -> None:
    """Raise unless the registry takes an artifact of this kind and size (a UsageError for
    the kind, ArtifactCorrupt for the size), so an import can check before it registers."""
    if kind not in KINDS:
        raise UsageError(f"unknown model kind {kind!r}: the registry knows {KINDS}")
    check_size(size)


class ModelRegistry:
    """Register, look up, load and alias model versions."""

    def __init__(
        self,
        store: StateStore,
        clock: Clock = SYSTEM_CLOCK,
        chunk_size: int = CHUNK_SIZE,
        announce: Callable[[AliasMove], None] | None = None,
    ) -> None:
        """``announce`` is called after every alias move lands (the model-events publisher;
        None: moves are not announced, e.g. in a process no detector follows)."""
        self._store = store
        self._clock = clock
        self._chunk_size = chunk_size
        self._announce = announce

    # -- versions ---------------------------------------------------------------------------------
    def register(self, draft: ModelDraft, artifact: bytes) -> tuple[ModelVersion, bool]:
        """The registered version, and whether this call registered it (False: it existed).

        When it existed, its stored chunks are checked and any missing or corrupt one is
        rewritten from ``artifact``: registering (or importing) the model again repairs it."""
        check_registrable(draft.kind, len(artifact))
        version = version_id(artifact)
        existing = self.find(version)
        if existing is not None:
            self.repair(existing, artifact)
            return existing, False
        ref, chunks = split(artifact, FORMATS[draft.kind], self._chunk_size)
        self._write_chunks(chunks)
        record = draft.complete(version, ref, self._clock.now_ms())
        writes = (
            Batch()
            .set(keys.MODELS, keys.model(version), record.encode())
            .zadd(keys.MODELS, keys.MODEL_INDEX, {version: record.created_ms})
        )
        guard = Guard(keys.MODELS, keys.REGISTERED, version, 1, expect=None)
        if self._store.apply_guarded(guard, writes) is not Outcome.APPLIED:
            return self.get(version), False  # registered by a concurrent caller meanwhile
        return record, True

    def repair(self, version: ModelVersion, artifact: bytes) -> int:
        """Rewrite ``version``'s missing or corrupt chunks from ``artifact``; how many."""
        ref = version.artifact
        verify(ref, artifact)  # the whole sha256, not only the 12 digits of the version id
        bad = damaged(ref, self._chunks(ref))
        if bad:
            _, chunks = split(artifact, ref.format, ref.chunk_size)
            self._write_chunks([chunks[index] for index in bad])
        return len(bad)

    def _write_chunks(self, chunks: list[tuple[str, bytes]]) -> None:
        for start in range(0, len(chunks), CHUNKS_PER_WRITE):
            batch = Batch()
            for sha, data in chunks[start : start + CHUNKS_PER_WRITE]:
                batch.set(keys.MODELS, keys.chunk(sha), data)
            self._store.execute(batch)

    def _chunks(self, ref: ArtifactRef) -> list[bytes | None]:
        [pieces] = self._store.execute(
            Batch().mget(keys.MODELS, [keys.chunk(h) for h in ref.chunks])
        )
        return list(pieces)

    def find(self, version: str) -> ModelVersion | None:
        [blob] = self._store.execute(Batch().get(keys.MODELS, keys.model(version)))
        return None if blob is None else ModelVersion.decode(blob)

    def get(self, version: str) -> ModelVersion:
        found = self.find(version)
        if found is None:
            raise UsageError(
                f"no model version {version!r} in the registry; "
                "`stream-sentinel models list` shows the registered ones"
            )
        return found

    def versions(self) -> list[ModelVersion]:
        """Every registered version, oldest first."""
        index = Batch().zrangebyscore(keys.MODELS, keys.MODEL_INDEX, float("-inf"), float("inf"))
        [pairs] = self._store.execute(index)
        if not pairs:
            return []
        blobs = self._store.execute(Batch().mget(keys.MODELS, [keys.model(v) for v, _ in pairs]))[0]
        return [ModelVersion.decode(blob) for blob in blobs if blob is not None]

    def resolve(self, name: str) -> str:
        """The version ``name`` means: a version id, a unique prefix of one, or an alias."""
        aliases = self.aliases()
        if name in aliases:
            return aliases[name]
        if self.find(name) is not None:
            return name
        matches = [v.version for v in self.versions() if v.version.startswith(name)]
        if len(name) >= 6 and len(matches) == 1:
            return matches[0]
        hint = f"it starts {len(matches)} versions" if len(matches) > 1 else "nothing matches it"
        raise UsageError(
            f"no model version or alias {name!r} in the registry ({hint}); "
            "`stream-sentinel models list` shows versions and aliases"
        )

    def artifact(self, version: ModelVersion) -> bytes:
        """The artifact's bytes, verified chunk by chunk and whole (ArtifactCorrupt if not)."""
        return assemble(version.artifact, self._chunks(version.artifact))

    # -- aliases ----------------------------------------------------------------------------------
    def aliases(self) -> dict[str, str]:
        [found] = self._store.execute(Batch().hgetall(keys.MODELS, keys.ALIASES))
        return {alias: version.decode() for alias, version in sorted(found.items())}

    def history(self, alias: str | None = None) -> list[AliasMove]:
        """Alias moves, newest first (of one alias, or of all)."""
        [blobs] = self._store.execute(Batch().lrange(keys.MODELS, keys.ALIAS_MOVES, 0, -1))
        moves = [AliasMove.decode(blob) for blob in blobs]
        return [m for m in moves if alias is None or m.alias == alias]

    def promote(
        self, version: str, alias: str = CHAMPION, reason: str = "", actor: str = ""
    ) -> AliasMove:
        """Point ``alias`` at ``version`` (which must be registered), recording the move.

        A promote that loses a race re-reads and tries again: the later promote wins."""
        check_alias(alias)
        self.get(version)
        for _ in range(MOVE_ATTEMPTS):
            current, seq = self.alias_state(alias)
            if current == version:
                raise AliasUnchanged(f"{version} is already {alias}; nothing changed")
            entry = self._entry(alias, version, current, seq, reason, actor, "promote")
            if self._apply(entry):
                return self._announced(entry)
        raise StateError(
            f"alias {alias} was moved by other writers on each of {MOVE_ATTEMPTS} attempts, so "
            "this promote changed nothing; see `stream-sentinel models history` and promote "
            "again once they are done"
        )

    def rollback(self, alias: str = CHAMPION, reason: str = "", actor: str = "") -> AliasMove:
        """Move ``alias`` back to the version before its latest move still in effect.

        Never retried: a rollback chosen from a history that changed meanwhile would undo a
        move its caller has not seen (two rollbacks racing would undo two moves)."""
        check_alias(alias)
        current, seq = self.alias_state(alias)
        target = _rollback_target(self.history(alias), alias)
        entry = self._entry(alias, target, current, seq, reason, actor, "rollback")
        if self._apply(entry):
            return self._announced(entry)
        now, _ = self.alias_state(alias)
        raise StateError(
            f"{alias} moved to {now or '-'} meanwhile (`stream-sentinel models history`); "
            "nothing was rolled back: run rollback again if still wanted"
        )

    def announce_latest(self, alias: str = CHAMPION) -> AliasMove:
        """Announce ``alias``'s latest move again (after an announcement failed)."""
        check_alias(alias)
        moves = self.history(alias)
        if not moves:
            raise UsageError(f"{alias} was never set: there is no move to announce")
        latest = max(moves, key=lambda m: m.seq)
        if self._announce is None:
            raise UsageError("this registry has no model-events publisher to announce with")
        self._announce(latest)
        return latest

    def _announced(self, entry: AliasMove) -> AliasMove:
        if self._announce is not None:
            self._announce(entry)
        return entry

    def alias_state(self, alias: str) -> tuple[str | None, int]:
        """The version ``alias`` points at (None: never set) and how many moves it has had."""
        current, seq = self._store.execute(
            Batch().hget(keys.MODELS, keys.ALIASES, alias).hget(keys.MODELS, keys.ALIAS_SEQ, alias)
        )
        return (None if current is None else current.decode()), int(seq or 0)

    def _entry(
        self,
        alias: str,
        version: str,
        current: str | None,
        seq: int,
        reason: str,
        actor: str,
        kind: MoveKind,
    ) -> AliasMove:
        return AliasMove(
            alias, version, current, seq + 1, self._clock.now_ms(), reason, actor, kind
        )

    def _apply(self, entry: AliasMove) -> bool:
        """Write the move if the alias has had exactly ``entry.seq - 1`` moves (else nothing)."""
        writes = (
            Batch()
            .hset(keys.MODELS, keys.ALIASES, {entry.alias: entry.version})
            .lpush(keys.MODELS, keys.ALIAS_MOVES, entry.encode())
        )
        previous = entry.seq - 1
        guard = Guard(keys.MODELS, keys.ALIAS_SEQ, entry.alias, entry.seq, expect=previous or None)
        return self._store.apply_guarded(guard, writes) is Outcome.APPLIED


def describe(version: ModelVersion, aliases: dict[str, str]) -> dict[str, Any]:
    """A version as `models list --json` and `models show --json` print it."""
    return {
        "version": version.version,
        "kind": version.kind,
        "aliases": sorted(a for a, v in aliases.items() if v == version.version),
        "created": version.created_ms,
        "metrics": dict(version.metrics),
        **{k: v for k, v in version.to_json().items() if k not in ("version", "kind", "metrics")},
    }
