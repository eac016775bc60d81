"""`stream-sentinel demo`: the whole system in one process, watched live (see docs/demo.md).

The generator streams synthetic card payments with six injected fraud patterns and delayed
labels; the detector scores every one exactly-once (rules + the LightGBM model, the production
code), the alert processor turns alerts into blocks, step-ups and cases that the detector then
enforces, and labels flow back into the merchant state. Default backends are embedded (an
in-process log with Kafka's semantics and an in-process state store); ``--backend local`` runs
the same scenario on a running `infra up` stack.

Modules: :mod:`.options` (flags), :mod:`.scenario` (simulated time, settings),
:mod:`.model` (the demo model, trained once), :mod:`.pipeline` (the three components on their
threads), :mod:`.observer` and :mod:`.ledger` (ground truth joined to verdicts and labels),
:mod:`.quality` and :mod:`.summary` (the numbers), :mod:`.enforcement` (what the alert
processor did), :mod:`.view` and :mod:`.report` (what is shown), :mod:`.local` (the real stack),
:mod:`.run` (one run, start to finish).
"""

from __future__ import annotations

from stream_sentinel.demo.options import DemoOptions

__all__ = ["DemoOptions"]
