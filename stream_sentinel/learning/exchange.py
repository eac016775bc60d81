"""`models export` and `models import`: the file model store as an exchange format.

An export is a model-store directory (``DIR/<version>/model.txt`` + ``model.json``, and
``DIR/CURRENT``), so `backtest --model DIR` and older detectors read it as they always have;
``model.json`` also carries the registry's record, with the artifact's sha256. An import checks
every version in the directory (content hash, sha256 and size, kind, the size limit, LightGBM
text, the recomputed feature-set hash) before it registers any: a bad directory changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream_sentinel.errors import ArtifactCorrupt, ModelError, SentinelError, UsageError
from stream_sentinel.learning.artifacts import verify
from stream_sentinel.learning.models import artifact_of, draft_of
from stream_sentinel.learning.registry import ModelRegistry, check_registrable
from stream_sentinel.learning.versions import FeatureSet, ModelDraft, ModelVersion, version_id
from stream_sentinel.scoring.model import META_FILE, MODEL_FILE, ModelArtifact
from stream_sentinel.scoring.store import ModelStore

REGISTRY_FIELD = "registry"


@dataclass(frozen=True)
class Importable:
    """One checked version of an import: its draft, its bytes, where it came from."""

    directory: Path
    draft: ModelDraft
    data: bytes


def export_version(registry: ModelRegistry, name: str, directory: Path) -> Path:
    """Write the version ``name`` names into the model store at ``directory``; its path."""
    version = registry.get(registry.resolve(name))
    data = registry.artifact(version)
    target = directory / version.version
    target.mkdir(parents=True, exist_ok=True)
    (target / MODEL_FILE).write_bytes(data)
    meta = {
        "version": version.version,
        "features": list(version.feature_set.features),
        "bands": dict(version.bands),
        REGISTRY_FIELD: version.to_json(),
    }
    (target / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    ModelStore(directory).promote(version.version)  # the pointer moves by an atomic rename
    return target


def import_directory(registry: ModelRegistry, directory: Path) -> list[tuple[ModelVersion, bool]]:
    """Register every version in ``directory`` (a model store, or one version's directory),
    once all of them passed every check `register` makes: a bad one registers none."""
    checked = [check_version(path) for path in version_dirs(directory)]
    return [registry.register(item.draft, item.data) for item in checked]


def version_dirs(directory: Path) -> list[Path]:
    if (directory / META_FILE).is_file():
        return [directory]
    found = (
        sorted(p for p in directory.iterdir() if (p / META_FILE).is_file())
        if directory.is_dir()
        else []
    )
    if not found:
        raise UsageError(
            f"{directory} holds no model: expected {META_FILE} and {MODEL_FILE} in it or in its "
            "subdirectories (what `stream-sentinel models export` writes)"
        )
    return found


def check_version(path: Path) -> Importable:
    """The version in ``path``, verified; ArtifactCorrupt or ModelError says what is wrong."""
    try:
        meta: dict[str, Any] = json.loads((path / META_FILE).read_text())
        data = (path / MODEL_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise ArtifactCorrupt(f"cannot import {path}: {exc}") from exc
    if version_id(data) != meta.get("version"):
        raise ArtifactCorrupt(
            f"cannot import {path}: {MODEL_FILE} hashes to {version_id(data)} but {META_FILE} "
            f"names {meta.get('version')!r}; the files were changed after export"
        )
    recorded = meta.get(REGISTRY_FIELD)
    draft = _draft(path, meta, data, recorded)
    try:
        check_registrable(draft.kind, len(data))
    except SentinelError as exc:
        raise ArtifactCorrupt(f"cannot import {path}: {exc}") from exc
    return Importable(path, draft, data)


def _draft(path: Path, meta: dict[str, Any], data: bytes, recorded: Any) -> ModelDraft:
    if recorded is None:  # a store `train` wrote before the registry: no record to keep
        try:
            return draft_of(ModelArtifact.load(path), 0, created_by="import")[0]
        except (KeyError, TypeError) as exc:
            raise ArtifactCorrupt(f"cannot import {path}: {META_FILE} lacks {exc}") from exc
    try:
        version = ModelVersion.from_json(recorded)
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactCorrupt(f"cannot import {path}: its registry record lacks {exc}") from exc
    verify(version.artifact, data)
    _check_feature_set(path, version.feature_set)
    try:
        check_registrable(version.kind, len(data))  # an unknown kind is named as such
        artifact_of(version, data)  # a model of a served kind and this feature set, or refused
    except (ModelError, UsageError) as exc:
        raise ArtifactCorrupt(f"cannot import {path}: {exc}") from exc
    tags = {**version.tags, "exported_by": version.created_by}
    return ModelDraft.of(version, created_by="import", tags=tags)


def _check_feature_set(path: Path, recorded: FeatureSet) -> None:
    """The recorded hash must be the one the feature names and encoding hash to."""
    found = FeatureSet.of(recorded.name, recorded.features, recorded.encoding).hash
    if found != recorded.hash:
        raise ArtifactCorrupt(
            f"cannot import {path}: its feature set hashes to {found} but {META_FILE} records "
            f"{recorded.hash}; the record was changed after export"
        )
