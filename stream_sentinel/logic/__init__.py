"""Pure detection logic: numpy, scipy, River and the standard library (no I/O, no settings)."""
