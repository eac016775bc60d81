"""Confluent-compatible Schema Registry service: core rules, `_schemas` log store and REST app."""
