"""The exactly-once batch loop every consumer group of ours runs on, and what it shares."""
