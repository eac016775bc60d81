"""`stream-sentinel bench`: our detector measured on the real stack beside two references.

``run`` assembles one invocation (``session``: the stack and the model; ``throughput``,
``latency``, ``scaling``: the modes); ``drive`` runs one participant in child processes
(``children``) while ``reader`` times its outputs and ``cpu`` samples every process's CPU;
``ceiling`` and ``naive`` are the two references; ``workspace`` keeps each measurement's topics,
keys and groups apart and deletes them afterwards. See docs/benchmarks.md.
"""
