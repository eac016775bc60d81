"""Confluent-compatible Schema Registry service (placeholder until the schemas issue lands)."""
