"""Local infrastructure without Docker: Kafka (KRaft), Redis and the schema registry."""
