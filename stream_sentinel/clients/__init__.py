"""Settings to clients: the broker, the state store and the registry, real or embedded."""
