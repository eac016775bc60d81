"""Drift detection, the pure half: reference profiles, window counts, statistics, thresholds,
performance monitors and the label-free performance estimate (numpy, scipy and River only)."""
