"""Operator checks: health, the start-up preflight, status."""
