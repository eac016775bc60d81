"""One registry instance's copy of the ``_schemas`` log: its state and how far it has read.

The replica is the only place state changes: every record, whoever wrote it, is applied here in
log order, so every instance that has read to the same offset holds the same state. Writers wait
for their own record to come back (read-your-writes) through :meth:`Replica.wait_for`.

>>> replica = Replica()
>>> replica.apply(0, b'{"keytype":"MODE","subject":null,"magic":0}', b'{"mode":"READONLY"}')
>>> replica.position, replica.state.mode
(1, 'READONLY')
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from stream_sentinel.registry_server.state import RegistryState


class Replica:
    """Registry state at a log position; safe to read and apply from several threads."""

    def __init__(self) -> None:
        self.state = RegistryState()
        self.position = 0  # the next offset to apply
        self._changed = threading.Condition(threading.RLock())

    def apply(self, offset: int, key: bytes, value: bytes | None) -> None:
        """Apply the record at ``offset`` (one already applied is ignored)."""
        with self._changed:
            if offset < self.position:
                return
            self.state.apply(key, value)
            self.position = offset + 1
            self._changed.notify_all()

    def advance(self, position: int) -> None:
        """Move past offsets that hold no record (transaction markers, aborted records)."""
        with self._changed:
            if position > self.position:
                self.position = position
                self._changed.notify_all()

    def reset(self) -> None:
        """Forget everything (to replay the log from its start)."""
        with self._changed:
            self.state = RegistryState()
            self.position = 0

    def wait_for(self, position: int, timeout_s: float) -> bool:
        """True once everything before ``position`` is applied; False after ``timeout_s``."""
        with self._changed:
            return self._changed.wait_for(lambda: self.position >= position, timeout_s)

    @contextmanager
    def reading(self) -> Iterator[RegistryState]:
        """The state, unchanged by the follower while the block runs."""
        with self._changed:
            yield self.state
