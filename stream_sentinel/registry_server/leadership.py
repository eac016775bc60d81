"""Who may write ``_schemas``: the interface the core asks, and the single-instance answer.

Several registry instances share one log; exactly one of them, the leader, decides ids and
versions and writes. The others forward writes to it (see ``forwarding.py``). A lone instance is
its own leader (:class:`SoleLeader`); instances on Kafka elect one (``election.py``).
"""

from __future__ import annotations

from typing import Protocol


class Leadership(Protocol):
    def is_leader(self) -> bool:
        """True while this instance holds the leadership (it may still be catching up)."""

    def is_writable(self) -> bool:
        """True while this instance leads and has caught up: it accepts writes now."""

    def require_writable(self) -> None:
        """Return once this instance may write (leader, caught up); else 50004."""

    def leader_url(self) -> str | None:
        """Where the leader serves HTTP, as it announced itself in the log."""

    def lost(self, reason: str, fenced: bool) -> None:
        """A write failed in the store: stop writing. ``fenced``: a newer leader exists;
        otherwise the writer is renewed (fenced again, caught up) before the next write."""

    def close(self) -> None: ...


class SoleLeader:
    """The only instance: always the leader."""

    def __init__(self, url: str | None = None) -> None:
        self._url = url

    def is_leader(self) -> bool:
        return True

    def is_writable(self) -> bool:
        return True

    def require_writable(self) -> None:
        return None

    def leader_url(self) -> str | None:
        return self._url

    def lost(self, reason: str, fenced: bool) -> None:
        return None

    def close(self) -> None:
        return None
