"""An in-process registry client: calls the registry core directly (embedded mode, unit tests).

``memory://NAME`` URLs share one in-memory registry per name within a process, like Confluent's
``mock://`` scope, so the producer and consumer sides of an embedded pipeline see the same ids.
"""

from __future__ import annotations

import threading

from stream_sentinel.registry.client import LATEST, CompatibilityVerdict, RegisteredSchema
from stream_sentinel.registry_server.core import RegistryCore, in_memory_core

_SHARED: dict[str, RegistryCore] = {}
_SHARED_LOCK = threading.Lock()


class LocalRegistryClient:
    """:class:`~stream_sentinel.registry.client.SchemaRegistryClient` over a RegistryCore."""

    def __init__(self, core: RegistryCore) -> None:
        self.core = core

    @classmethod
    def in_memory(cls) -> LocalRegistryClient:
        """A client of a fresh, private in-memory registry."""
        return cls(in_memory_core())

    @classmethod
    def shared(cls, name: str) -> LocalRegistryClient:
        """A client of the process-wide in-memory registry called ``name``."""
        with _SHARED_LOCK:
            core = _SHARED.get(name)
            if core is None:
                core = _SHARED[name] = in_memory_core()
        return cls(core)

    def register(self, subject: str, schema: str) -> int:
        return self.core.register(subject, schema).schema_id

    def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        return self.core.lookup(subject, schema)

    def schema_by_id(self, schema_id: int) -> str:
        return self.core.schema_by_id(schema_id)

    def get_version(self, subject: str, version: int | str = LATEST) -> RegisteredSchema:
        return self.core.get_version(subject, version)

    def subjects(self) -> list[str]:
        return self.core.subjects()

    def versions(self, subject: str) -> list[int]:
        return self.core.versions(subject)

    def check_compatibility(
        self, subject: str, schema: str, version: int | str | None = None
    ) -> CompatibilityVerdict:
        return self.core.test_compatibility(subject, schema, version)

    def get_compatibility(self, subject: str | None = None) -> str:
        if subject is None:
            return self.core.get_config().value
        return self.core.get_config(subject, default_to_global=True).value

    def set_compatibility(self, level: str, subject: str | None = None) -> str:
        return self.core.set_config(level, subject).value

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        return self.core.delete_subject(subject, permanent)

    def close(self) -> None:
        return None
