"""Pure detection logic: numpy and the standard library only (no I/O, no settings)."""
