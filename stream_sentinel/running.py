"""What every long-running consumer of ours shares: the idle check and the heartbeat."""

from __future__ import annotations

import json
import logging
from typing import Any

from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch, StateStore
from stream_sentinel.transport.base import Consumer, TopicPartition

log = logging.getLogger(__name__)
HEARTBEAT_S = 2.0
STATUS_TTL_MS = 60_000
#: A worker that got no partitions at all counts as idle once it has waited this long.
UNASSIGNED_GRACE_S = 15.0


def consumer_caught_up(consumer: Consumer) -> bool:
    """True when the consumer has read every assigned partition to its high watermark.

    Watermarks come from what the fetches reported (no request per check). A partition it has
    not read from yet counts from its committed offset (its position is unknown until a record
    arrives), so a partition someone else already finished is done."""
    unread: list[TopicPartition] = []
    for tp in consumer.assignment():
        low, high = consumer.watermarks(tp, 5.0, cached=True)
        position = consumer.position(tp)
        if position is None:
            if high > low:
                unread.append(tp)
        elif high > position:
            return False
    if not unread:
        return True
    committed = consumer.committed(unread, 5.0)
    return all(
        (committed.get(tp) or 0) >= consumer.watermarks(tp, 5.0, cached=True)[1] for tp in unread
    )


def publish_heartbeat(store: StateStore, group_id: str, worker: str, summary: Any) -> None:
    """A worker's figures for `stream-sentinel status` (a key with a TTL); never raises."""
    key = keys.worker_status(group_id, worker)
    try:
        blob = json.dumps(summary).encode()
        store.execute(Batch().set(keys.PIPELINE, key, blob, STATUS_TTL_MS))
    except Exception as exc:  # a heartbeat must never stop the pipeline
        log.warning("heartbeat not written: %s", exc)


def consumer_lag(consumer: Consumer) -> dict[int, int]:
    """Records not yet consumed per assigned partition, from the fetches' high watermarks."""
    lag = {}
    for tp in consumer.assignment():
        low, high = consumer.watermarks(tp, 5.0, cached=True)
        position = consumer.position(tp)
        lag[tp.partition] = max(high - (low if position is None else position), 0)
    return lag
