"""Backtesting: a labelled history replayed through the live detector in event time.

Ingestion (:mod:`.reader`, :mod:`.mapping`, :mod:`.timeparse`, :mod:`.ingest`) turns any CSV or
JSON Lines file into a typed :class:`~.history.History`; :mod:`.replay` drives the detector
process through it with labels released after a delay; :mod:`.training` trains on the labels
released so far; :mod:`.report` measures the evaluation period. :func:`.run.run_backtest` ties
them together; `stream-sentinel backtest` is its command line.
"""
