"""The model store: versioned artifact directories and a "current" pointer.

``<dir>/<version>/`` holds each artifact; ``<dir>/CURRENT`` names the current one. It is the
model registry's export and import format (`models export`, `models import`) and what
`backtest --model DIR` reads; the detectors serve from the registry (Redis DB3). Publishing
writes the artifact first and switches the pointer with an atomic rename, so a reader never
sees half an artifact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from stream_sentinel.errors import ModelError
from stream_sentinel.scoring.model import META_FILE, ModelArtifact

POINTER = "CURRENT"


class ModelStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def versions(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if (p / META_FILE).is_file())

    def current_version(self) -> str | None:
        try:
            version = (self.directory / POINTER).read_text().strip()
        except FileNotFoundError:
            return None
        return version or None

    def load(self, version: str) -> ModelArtifact:
        path = self.directory / version
        if not (path / META_FILE).is_file():
            raise ModelError(f"no model {version!r} in {self.directory} (have: {self.versions()})")
        return ModelArtifact.load(path)

    def load_current(self) -> ModelArtifact | None:
        version = self.current_version()
        return None if version is None else self.load(version)

    def publish(self, artifact: ModelArtifact, make_current: bool = True) -> Path:
        path = self.directory / artifact.version
        artifact.save(path)
        if make_current:
            self.promote(artifact.version)
        return path

    def promote(self, version: str) -> None:
        if version not in self.versions():
            raise ModelError(f"cannot promote {version!r}: not in {self.directory}")
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".current-")
        with os.fdopen(fd, "w") as handle:
            handle.write(version + "\n")
        os.replace(tmp, self.directory / POINTER)
