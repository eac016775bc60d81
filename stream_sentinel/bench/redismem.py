"""Redis memory per user: the server's used_memory delta, and MEMORY USAGE of sampled profiles.

``used_memory`` (INFO) moves with everything the detector stores (profiles, merchant counters,
watermarks, heartbeats) and with the allocator's own overhead, so ``delta / users`` is the whole
cost of a user's state. It also moves with anything else writing to the same server: on a shared
server run with ``--own-stack`` for a clean figure. ``MEMORY USAGE`` of sampled ``user:{id}`` keys
is exact for the profile itself (key, value, TTL and the allocator's rounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.state.base import Namespace

SAMPLE_KEYS = 200


@dataclass(frozen=True, slots=True)
class MemoryFigures:
    users: int  # user:{id} keys in the namespace
    used_memory_delta: int
    sampled_keys: int
    key_bytes_mean: float | None  # MEMORY USAGE of a user:{id} key

    @property
    def bytes_per_user(self) -> float | None:
        return round(self.used_memory_delta / self.users, 1) if self.users else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "users_with_state": self.users,
            "used_memory_delta": self.used_memory_delta,
            "redis_bytes_per_user": self.bytes_per_user,
            "profile_key_bytes": self.key_bytes_mean,
            "profile_keys_sampled": self.sampled_keys,
        }


class RedisMemory:
    """Takes the baseline before a run and the figures after it, for one key namespace."""

    def __init__(self, settings: Settings) -> None:
        self.store = RealClients(settings).state()
        self.prefix = f"{settings.redis.key_namespace}:" if settings.redis.key_namespace else ""
        self.baseline = self.used_memory()

    def used_memory(self) -> int:
        return self.store.info().used_memory

    def maxmemory(self) -> int:
        return self.store.info().maxmemory

    def figures(self) -> MemoryFigures:
        delta = self.used_memory() - self.baseline
        users = sum(1 for _ in self.store.scan(Namespace.PROFILES, "user:*"))
        sizes = self._sample_sizes()
        mean = round(sum(sizes) / len(sizes), 1) if sizes else None
        return MemoryFigures(users, delta, len(sizes), mean)

    def _sample_sizes(self) -> list[int]:
        client = self.store.client  # MEMORY USAGE is a diagnostic the state interface lacks
        sizes = []
        for n, key in enumerate(self.store.scan(Namespace.PROFILES, "user:*")):
            if n >= SAMPLE_KEYS:
                break
            size = client.memory_usage(self.prefix + key, samples=0)
            if size is not None:
                sizes.append(int(size))
        return sizes

    def close(self) -> None:
        self.store.close()
