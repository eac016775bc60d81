"""Artifacts as content-addressed chunks: split on the way in, verified on the way out.

An artifact is cut into chunks of ``CHUNK_SIZE`` bytes, each stored under its own sha256, so a
large model never needs one huge Redis value and two versions sharing bytes share chunks.
Reassembly checks every chunk's hash, then the whole artifact's size and hash: a single flipped
byte is refused with :class:`ArtifactCorrupt`, never loaded.

>>> ref, chunks = split(b"abcdef", "lightgbm-text", chunk_size=4)
>>> ref.size, len(ref.chunks), assemble(ref, [data for _, data in chunks])
(6, 2, b'abcdef')
"""

from __future__ import annotations

from collections.abc import Sequence

from stream_sentinel.errors import ArtifactCorrupt
from stream_sentinel.learning.versions import ArtifactRef, sha256_hex

CHUNK_SIZE = 1 << 20  # 1 MiB: well under Redis's 512 MB value limit, cheap to pipeline
MAX_ARTIFACT_BYTES = 256 << 20  # registry memory is never evicted: refuse absurd artifacts


def split(
    data: bytes, artifact_format: str, chunk_size: int = CHUNK_SIZE
) -> tuple[ArtifactRef, list[tuple[str, bytes]]]:
    """The artifact's reference and its ``(sha256, bytes)`` chunks, in order."""
    check_size(len(data))
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]
    chunks = [(sha256_hex(piece), piece) for piece in pieces]
    ref = ArtifactRef(
        sha256_hex(data), len(data), artifact_format, chunk_size, tuple(h for h, _ in chunks)
    )
    return ref, chunks


def check_size(size: int) -> None:
    """Raise :class:`ArtifactCorrupt` for an artifact too large for the registry."""
    if size > MAX_ARTIFACT_BYTES:
        raise ArtifactCorrupt(
            f"an artifact of {size:,} bytes is over the registry's limit of "
            f"{MAX_ARTIFACT_BYTES:,} bytes; the registry keeps models, not data sets"
        )


def damaged(ref: ArtifactRef, pieces: Sequence[bytes | None]) -> list[int]:
    """The indexes of the chunks that are missing or do not hash to what ``ref`` recorded."""
    return [
        index
        for index, (expected, piece) in enumerate(zip(ref.chunks, pieces, strict=True))
        if piece is None or sha256_hex(piece) != expected
    ]


def assemble(ref: ArtifactRef, pieces: Sequence[bytes | None]) -> bytes:
    """The artifact's bytes, once every chunk and the whole have been verified."""
    for index, (expected, piece) in enumerate(zip(ref.chunks, pieces, strict=True)):
        if piece is None:
            raise ArtifactCorrupt(
                f"chunk {index} ({expected[:12]}) of artifact {ref.sha256[:12]} is missing "
                "from the registry; import the model again (stream-sentinel models import)"
            )
        verify_chunk(ref, index, expected, piece)
    data = b"".join(p for p in pieces if p is not None)
    verify(ref, data)
    return data


def verify_chunk(ref: ArtifactRef, index: int, expected: str, piece: bytes) -> None:
    found = sha256_hex(piece)
    if found != expected:
        raise ArtifactCorrupt(
            f"chunk {index} of artifact {ref.sha256[:12]} is corrupt: sha256 {found[:12]} "
            f"where {expected[:12]} was stored; refusing to load it (import the model again)"
        )


def verify(ref: ArtifactRef, data: bytes) -> None:
    """Raise :class:`ArtifactCorrupt` unless ``data`` has the reference's size and sha256."""
    if len(data) != ref.size:
        raise ArtifactCorrupt(
            f"artifact {ref.sha256[:12]} has {len(data):,} bytes where {ref.size:,} were "
            "recorded; refusing to load it"
        )
    found = sha256_hex(data)
    if found != ref.sha256:
        raise ArtifactCorrupt(
            f"artifact sha256 {found[:12]} does not match the recorded {ref.sha256[:12]}; "
            "refusing to load it"
        )
