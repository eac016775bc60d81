"""Schema registry clients: the protocol, an HTTP client and an in-process one."""

from stream_sentinel.registry.client import (
    LATEST,
    CompatibilityVerdict,
    RegisteredSchema,
    SchemaRegistryClient,
)

__all__ = ["LATEST", "CompatibilityVerdict", "RegisteredSchema", "SchemaRegistryClient"]
