"""The drift command's loops: both handlers report their committed batches to the metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import pytest

from stream_sentinel.commands.drift import _loops
from stream_sentinel.config import load_settings
from stream_sentinel.learning.drift.decisions import KeepingDecisions
from stream_sentinel.learning.drift.labelled import LabelledHandler
from stream_sentinel.learning.drift.metrics import DriftMetrics
from tests.unit.drift_support import DriftBench

if TYPE_CHECKING:
    from stream_sentinel.clients.backends import RealClients

pytestmark = pytest.mark.unit


def test_the_commands_loops_hand_the_labelled_handler_the_metrics_observer() -> None:
    bench, metrics = DriftBench(), DriftMetrics()
    clients = cast("RealClients", bench.clients)  # _loops only asks it for the registry
    decisions, labels, _ = _loops(
        load_settings("test", environ={}), clients, bench.backends, metrics, 0
    )
    try:
        assert isinstance(labels.handler, LabelledHandler)
        assert labels.handler.on_committed is metrics
        assert isinstance(decisions.handler, KeepingDecisions)
        assert decisions.handler.settler is labels.handler
    finally:
        decisions.close()
        labels.close()
