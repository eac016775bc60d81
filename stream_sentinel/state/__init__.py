"""State-store backends behind one interface: Redis (real) and an in-process store (embedded)."""
