"""The registry client a deployment's settings call for."""

from __future__ import annotations

from stream_sentinel.config import RegistrySettings
from stream_sentinel.errors import ConfigError
from stream_sentinel.registry.client import SchemaRegistryClient

MEMORY_SCHEME = "memory://"


def connect_registry(settings: RegistrySettings) -> SchemaRegistryClient:
    """HTTP for ``http(s)://`` URLs; the process-wide in-memory registry for ``memory://NAME``.

    No network call happens here: the HTTP client connects on first use.
    """
    url = settings.url
    if url.startswith(MEMORY_SCHEME):
        from stream_sentinel.registry_server.local_client import LocalRegistryClient

        return LocalRegistryClient.shared(url[len(MEMORY_SCHEME) :] or "default")
    if url.startswith(("http://", "https://")):
        from stream_sentinel.registry.http import HttpRegistryClient

        return HttpRegistryClient(settings)
    raise ConfigError(
        f"unsupported schema registry URL {url!r}: use http(s)://HOST:PORT or memory://NAME "
        "(SENTINEL_REGISTRY_URL)"
    )
