"""Files are complete or absent: a failed run leaves nothing, Ctrl-C keeps what was flushed."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from stream_sentinel.clock import ManualClock
from stream_sentinel.generator import SimulationConfig, Simulator, TransactionBatch
from stream_sentinel.generator.file_sink import FileSink
from stream_sentinel.generator.run import GenerationRun, RunLimits
from stream_sentinel.generator.timing import TokenBucket


class _Breaking(Simulator):
    """Fails (or is interrupted) on its third batch."""

    def __init__(self, failure: BaseException) -> None:
        super().__init__(SimulationConfig(users=200), seed=1)
        self.failure, self.calls = failure, 0

    def next_batch(self, count: int) -> TransactionBatch:
        self.calls += 1
        if self.calls == 3:
            raise self.failure
        return super().next_batch(count)


def _run(simulator: Simulator, path: Path) -> GenerationRun:
    clock = ManualClock()
    sink = FileSink(path, simulator.id_prefix)
    return GenerationRun(
        simulator, sink, TokenBucket(0, 1, clock), clock, clock.advance, RunLimits(count=100_000)
    )


@pytest.mark.parametrize("name", ["tx.csv", "tx.jsonl.gz"])
def test_a_failed_run_leaves_nothing_behind(tmp_path: Path, name: str) -> None:
    run = _run(_Breaking(RuntimeError("disk on fire")), tmp_path / name)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run.run()
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_keeps_the_complete_rows_written_so_far(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv.gz"
    outcome = _run(_Breaking(KeyboardInterrupt()), path).run()
    assert outcome.interrupted
    assert outcome.stop_reason == "interrupted (Ctrl-C)"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert len(lines) == 1 + outcome.sent == 1 + 2 * 16_384
    assert list(tmp_path.iterdir()) == [path]


def test_a_directory_is_not_a_file_name(tmp_path: Path) -> None:
    from stream_sentinel.errors import UsageError

    folder = tmp_path / "out.csv"
    folder.mkdir()
    with pytest.raises(UsageError, match="is a directory: give a file name"):
        FileSink(folder, "t1-")
