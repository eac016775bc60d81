"""Broker backends behind one interface: Kafka (real) and an in-process log (embedded)."""
