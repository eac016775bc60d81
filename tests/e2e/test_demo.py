"""`stream-sentinel demo` as CI runs it: no terminal, a fresh machine (no model yet), 10 seconds.

The summary is read back line by line and checked against itself: every transaction decided,
caught <= injected for every pattern, the causes adding up to the caught, the totals matching
the rows, and precision/recall computed from the labels that were published.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stream_sentinel.generator.catalog import PATTERNS

SENTINEL = [sys.executable, "-m", "stream_sentinel"]
NUMBER = r"([\d,]+)"


def _demo(*args: str, cache: Path, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the demo; ``timeout_s`` only guards against a hang (no test asserts on time)."""
    env = {**os.environ, "SENTINEL_INFRA_CACHE_DIR": str(cache)}
    env.pop("SENTINEL_ENV", None)
    return subprocess.run(
        [*SENTINEL, "demo", *args],
        cwd=cache,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _line(output: str, pattern: str) -> re.Match[str]:
    match = re.search(pattern, output, re.MULTILINE)
    assert match, f"no line matching {pattern!r} in:\n{output}"
    return match


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    cache = tmp_path_factory.mktemp("demo-cache")
    result = _demo("--duration", "10", cache=cache)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, cache


def test_a_fresh_machine_trains_the_model_first_and_says_so(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, cache = run
    assert "no demo model in" in result.stdout and "training one first" in result.stdout
    model = _line(result.stdout, r"^model (m-[0-9a-f]{12}) trained on " + NUMBER + " transactions")
    assert (cache / "demo-models" / model.group(1) / "model.json").is_file()
    assert (cache / "demo-models" / "CURRENT").read_text().strip() == model.group(1)
    assert f"model {model.group(1)}" in _line(result.stdout, r"^Stream-Sentinel demo: .*$").group(0)


def test_plain_progress_lines_replace_the_live_view(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, _ = run
    lines = re.findall(r"^demo generating .*decided ([\d,]+)", result.stdout, re.MULTILINE)
    assert lines, result.stdout
    assert "\x1b[" not in result.stdout  # no terminal control codes off a terminal


def test_every_transaction_is_decided_and_alerts_are_acted_on(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    out = run[0].stdout
    tx = _line(
        out,
        rf"^transactions\s+{NUMBER} generated, {NUMBER} decided \(([\d,]+)/s\), "
        rf"{NUMBER} dead letters, {NUMBER} undecided at the end",
    )
    generated, decided, _, dead, undecided = (_int(g) for g in tx.groups())
    assert generated > 5_000  # about 10 s at 2,000/s
    assert decided + dead + undecided == generated
    assert (dead, undecided) == (0, 0)
    alerts = _line(
        out, rf"^alerts\s+CRITICAL {NUMBER}, HIGH {NUMBER}, MEDIUM {NUMBER}, LOW {NUMBER}"
    )
    assert sum(_int(g) for g in alerts.groups()) > 0
    decisions = _line(
        out,
        rf"^decisions\s+APPROVE {NUMBER} \(.*\), REVIEW {NUMBER} \(.*\), "
        rf"CHALLENGE {NUMBER} \(.*\), DECLINE {NUMBER}",
    )
    assert sum(_int(g) for g in decisions.groups()) == decided
    actions = _line(out, rf"^actions\s+BLOCK_USER {NUMBER}, INVESTIGATE {NUMBER}, STEP_UP")
    assert _int(actions.group(1)) == _int(actions.group(2))  # every block opens an investigation
    latency = _line(out, r"^latency\s+p50 ([\d.,]+) ms, p90 ([\d.,]+) ms, p99 ([\d.,]+) ms")
    p50, p90, p99 = (float(g.replace(",", "")) for g in latency.groups())
    assert 0 < p50 <= p90 <= p99


def test_caught_by_pattern_adds_up(run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    out = run[0].stdout
    row = rf"\s+{NUMBER}\s+{NUMBER}\s+([\d.]+%|-)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}"
    injected = caught = 0
    for pattern in PATTERNS:
        cells = _line(out, rf"^\s*{pattern}{row}").groups()
        n, hit, rules, model, enforced = (_int(cells[i]) for i in (0, 1, 3, 4, 5))
        assert hit <= n, pattern
        assert rules + model + enforced == hit, pattern
        injected, caught = injected + n, caught + hit
    total = _line(out, rf"^\s*all fraud{row}").groups()
    assert (_int(total[0]), _int(total[1])) == (injected, caught)
    assert injected > 0 and caught / injected > 0.5  # most injected fraud is caught
    legit = _line(out, rf"^\s*legitimate \(false alarms\){row}").groups()
    generated = _int(_line(out, rf"^transactions\s+{NUMBER} generated").group(1))
    assert _int(legit[0]) + injected == generated
    flagged = _line(out, rf"^\s*flagged\s+{NUMBER}\s+{NUMBER}\s*$").group(2)
    assert _int(legit[1]) + caught == _int(flagged)  # every flag is a catch or a false alarm


def test_quality_comes_from_the_published_labels(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    out = run[0].stdout
    labels = _line(
        out, rf"^labels\s+{NUMBER} published to fraud-feedback \(FRAUD {NUMBER}, LEGIT {NUMBER}\)"
    )
    published, fraud_labels, legit_labels = (_int(g) for g in labels.groups())
    assert published == fraud_labels + legit_labels and fraud_labels > 0

    def pair(name: str, value: str) -> tuple[str, str]:
        match = _line(out, rf"^\s*{name}\s+{value}\s+{value}\s*$")
        return match.group(1), match.group(2)

    labelled_tx, all_tx = (_int(v) for v in pair("transactions", NUMBER))
    labelled_fraud, _ = (_int(v) for v in pair("fraud", NUMBER))
    assert 0 < labelled_tx <= published and labelled_tx < all_tx
    assert 0 < labelled_fraud <= fraud_labels
    for measure in ("precision", "recall", "ROC AUC"):
        labelled, overall = (float(v) for v in pair(measure, r"(\d\.\d{3})"))
        assert 0.0 < labelled <= 1.0 and 0.0 < overall <= 1.0, measure
    total = _line(out, rf"^\s*all fraud\s+{NUMBER}\s+{NUMBER}").groups()
    recall_all = float(pair("recall", r"(\d\.\d{3})")[1])
    assert recall_all == pytest.approx(_int(total[1]) / _int(total[0]), abs=0.0006)


def test_where_to_go_next_names_the_real_stack_commands(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    out = run[0].stdout
    for command in ("stream-sentinel infra up", "stream-sentinel demo --backend local"):
        assert command in out


def test_bad_input_fails_at_once_without_training(tmp_path: Path) -> None:
    result = _demo("--rate", "0", cache=tmp_path, timeout_s=120)
    assert result.returncode == 2
    assert "--rate must be between 10 and 20,000" in result.stderr
    # "at once": before any work, so nothing was trained, generated or started
    assert "training" not in result.stdout + result.stderr
    assert not (tmp_path / "demo-models").exists()
    assert "Stream-Sentinel demo" not in result.stdout
