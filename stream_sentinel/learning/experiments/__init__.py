"""Champion/challenger experiments, the stateful half: definitions, status, per-arm counters and
history in Redis DB5, behind the state-store interface."""
