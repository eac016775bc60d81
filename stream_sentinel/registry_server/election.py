"""Leader election through Kafka: the member of a consumer group that owns partition 0 leads.

Every instance joins one consumer group on a one-partition election topic; Kafka's group
coordinator gives the partition to exactly one live member. The member that receives it:

1. fences every earlier writer (a transactional producer with the registry's one
   ``transactional.id``: Kafka refuses the previous leader's writes from then on);
2. announces itself in ``_schemas`` (a ``NOOP`` record carrying its URL, which Confluent's
   registries ignore);
3. waits until its replica has applied that announcement. Every write committed before the
   fence precedes it in the log, so the new leader's state is complete before it assigns an id.

Only then does it accept writes. A member that loses the partition (revoked, or its session
expired) stops writing at once; if it is a zombie that missed that, its next write is fenced.
"""

from __future__ import annotations

import logging
import threading

from stream_sentinel.errors import SentinelError
from stream_sentinel.registry_server import errors
from stream_sentinel.registry_server.follower import Follower
from stream_sentinel.registry_server.replica import Replica
from stream_sentinel.registry_server.state import leader_record
from stream_sentinel.registry_server.store import TopicLog
from stream_sentinel.transport.base import Broker, Consumer, TopicPartition

log = logging.getLogger(__name__)
POLL_S = 0.5
RETRY_S = 1.0
#: How long a write waits for a rebalance in progress to hand this instance the partition back.
REBALANCE_GRACE_S = 5.0


class GroupElection:
    """:class:`~.leadership.Leadership` decided by a Kafka consumer group."""

    def __init__(
        self,
        broker: Broker,
        topic: str,
        url: str,
        schema_log: TopicLog,
        follower: Follower,
        replica: Replica,
        wait_s: float = 30.0,
        grace_s: float = REBALANCE_GRACE_S,
    ) -> None:
        self.topic = topic
        self.url = url
        self._broker = broker
        self._log = schema_log
        self._follower = follower
        self._replica = replica
        self._wait_s = wait_s
        self._grace_s = grace_s
        self._assigned = False
        self._writable = False
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry-election", daemon=True)

    @property
    def group_id(self) -> str:
        return f"{self.topic}-group"

    def start(self) -> GroupElection:
        self._thread.start()
        return self

    # -- Leadership -------------------------------------------------------------------------

    def is_leader(self) -> bool:
        with self._changed:
            return self._assigned

    def is_writable(self) -> bool:
        with self._changed:
            return self._writable

    def require_writable(self) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._assigned, self._grace_s):
                raise errors.unknown_leader(f"{self.url} is not the leader")
            if not self._changed.wait_for(lambda: self._writable, self._wait_s):
                raise errors.unknown_leader(f"{self.url} is still taking over the leadership")

    def leader_url(self) -> str | None:
        if self.is_writable():
            return self.url
        with self._replica.reading() as state:
            return state.leader

    def lost(self, reason: str, fenced: bool) -> None:
        if fenced:
            # Only a newer leader fences this one: a zombie until the group assigns it again.
            log.warning("this registry was fenced and stops writing: %s", reason)
            self._set(assigned=False, writable=False)
            return
        # The writer may be unusable (an abort failed): take over afresh before writing again.
        log.warning("a write to _schemas failed (%s); renewing the leader's writer", reason)
        with self._changed:
            self._writable = False

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15.0)

    # -- the group member -------------------------------------------------------------------

    def on_assign(self, partitions: list[TopicPartition]) -> None:
        if any(p.partition == 0 for p in partitions):
            log.info("%s was assigned the leadership", self.url)
            self._set(assigned=True, writable=False)

    def on_revoke(self, partitions: list[TopicPartition]) -> None:
        if any(p.partition == 0 for p in partitions):
            log.info("%s gives up the leadership", self.url)
            self._set(assigned=False, writable=False)

    def on_lost(self, partitions: list[TopicPartition]) -> None:
        self.on_revoke(partitions)

    def _run(self) -> None:
        consumer: Consumer | None = None
        while not self._stop.is_set():
            try:
                if consumer is None:
                    consumer = self._broker.consumer(self.group_id, isolation="read_committed")
                    consumer.subscribe([self.topic], listener=self)
                consumer.consume(1, POLL_S)  # keeps the membership; serves the callbacks
                if self.is_leader() and not self.is_writable():
                    self._take_over()
            except Exception as exc:  # the election thread must outlive any one failure
                log.warning(
                    "leader election: %s; retrying",
                    exc,
                    exc_info=not isinstance(exc, SentinelError),
                )
                self._stop.wait(RETRY_S)
        self._set(assigned=False, writable=False)
        if consumer is not None:
            consumer.close()  # leaves the group: another member takes over at once

    def _take_over(self) -> None:
        self._log.fence()
        end = self._log.append([leader_record(self.url)])
        self._follower.sync(end)
        with self._changed:
            if self._assigned:
                self._writable = True
                self._changed.notify_all()
                log.info("%s leads the schema registry from offset %d", self.url, end)

    def _set(self, assigned: bool, writable: bool) -> None:
        with self._changed:
            self._assigned, self._writable = assigned, writable
            self._changed.notify_all()
