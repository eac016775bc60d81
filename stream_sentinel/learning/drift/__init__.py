"""Drift detection as a service: `stream-sentinel drift` on the feature log, its state in DB4."""
