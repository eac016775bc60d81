"""The champion mirrored into the detectors' model directory, until they follow model-events.

What is written is the champion the registry holds when the directory is written (re-read after
the move, never the move's own version), with that champion's move count in ``CHAMPION_MOVE``.
The read and the write happen under an exclusive lock on the directory, so two commands that
move the champion at once leave the directory at the registry's latest champion, whatever
order they finish in. A directory that already holds a later move than the registry's is left
alone (it follows another registry, or this one was reset).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from stream_sentinel.errors import ModelDirUnwritable
from stream_sentinel.learning.aliases import CHAMPION
from stream_sentinel.learning.exchange import export_version
from stream_sentinel.learning.registry import ModelRegistry

MOVE_FILE = "CHAMPION_MOVE"
LOCK_FILE = ".mirror.lock"


@dataclass(frozen=True, slots=True)
class Mirrored:
    """What the mirror found in the registry and did to the directory."""

    version: str | None  # the registry's champion (None: there is none)
    move: int  # its move count in the registry
    held: int  # the move count the directory held before (0: none)
    written: bool


def mirror_champion(registry: ModelRegistry, directory: Path) -> Mirrored:
    """Write the registry's champion into ``directory``; ModelDirUnwritable when it cannot."""
    try:
        return _mirror(registry, directory)
    except OSError as exc:
        version, move = registry.alias_state(CHAMPION)
        raise ModelDirUnwritable(
            f"cannot write the champion into the detectors' model directory {directory} "
            f"({exc.strerror or exc}); the registry's champion is {version} (move #{move}), "
            f"but detectors reading {directory} do not have it: make {directory} a writable "
            "directory (or set SENTINEL_DETECTOR_MODEL_DIR to one), then run "
            f"`stream-sentinel models promote {version}` to write it there"
        ) from exc


def held_move(directory: Path) -> int:
    """The champion move count the directory holds (0 when it holds none)."""
    try:
        return int((directory / MOVE_FILE).read_text().strip() or 0)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return 0


def _mirror(registry: ModelRegistry, directory: Path) -> Mirrored:
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        version, move = registry.alias_state(CHAMPION)
        held = held_move(directory)
        if version is None or held > move:
            return Mirrored(version, move, held, written=False)
        export_version(registry, version, directory)
        _replace(directory / MOVE_FILE, f"{move}\n")
        return Mirrored(version, move, held, written=True)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
