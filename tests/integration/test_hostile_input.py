"""The hostile corpus on real Kafka, Redis and the registry: a foreign producer writes every
hostile record class into `transactions` between valid ones; `stream-sentinel detect` dead-letters
each with its reason, decides every valid record exactly once, and never stops or stalls."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from confluent_kafka import Producer

from stream_sentinel.clients.registry import connect_registry
from stream_sentinel.config import Settings
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire.serde import frame
from tests.hostile import HOP, NULL_ARRAY, corpus, schema_text, v2_body, v3_with
from tests.integration.detector_support import (
    create_topics,
    detect,
    finish,
    profile_counts,
    read_all,
)


def _register(settings: Settings) -> tuple[list[int], int]:
    """Each case's writer schema: the v3s under the transaction subject, as a producer would
    evolve it; the others (not versions of Transaction) under subjects of their own."""
    registry = connect_registry(settings.registry)
    subject = f"{Topics.from_settings(settings).transactions}-value"
    valid = registry.register(subject, schema_text(corpus()[5].schema or {}))
    ids = []
    for n, case in enumerate(corpus()):
        if case.schema is None:
            ids.append(0)
        elif case.schema in (v3_with(HOP), v3_with(NULL_ARRAY)):
            ids.append(registry.register(subject, schema_text(case.schema)))
        else:
            ids.append(registry.register(f"hostile-{n}-value", schema_text(case.schema)))
    return ids, valid


def test_every_hostile_record_is_dead_lettered_and_every_valid_one_decided_once(
    settings: Settings, tmp_path: Path
) -> None:
    create_topics(settings)
    ids, valid_id = _register(settings)
    topic = Topics.from_settings(settings).transactions
    # a foreign producer: confluent-kafka as anyone would use it, not our wrappers
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    users = [f"user-{n}" for n in range(40)]  # spread over the 12 partitions
    cases = corpus()
    for n, user in enumerate(users):
        producer.produce(topic, frame(valid_id, v2_body(f"ok-{n}", user)), user.encode())
        case = cases[n % len(cases)]
        if n < len(cases):
            key = case.key if case.key is not None else user.encode()
            producer.produce(topic, case.build(ids[n]), key)
    # an upstream retry: the same payment again (the guarded write keeps the id window in Redis)
    producer.produce(topic, frame(valid_id, v2_body("ok-3", users[3])), users[3].encode())
    assert producer.flush(60) == 0
    output = finish(detect(settings, "--until-idle", "3"))
    # the summary's row "records | 58": every input record counted
    assert re.search(rf"\brecords\W+{len(users) + len(cases) + 1}\W", output), output[-2000:]
    decided = Counter(s["transaction_id"] for s in read_all(settings, "fraud-scores", 40))
    assert decided == Counter({f"ok-{n}": 1 for n in range(len(users))})
    assert profile_counts(settings, users) == dict.fromkeys(users, 1)
    letters = read_all(settings, "dead-letter", expect=len(cases) + 1)
    expected = Counter(c.error_type for c in cases) + Counter(["duplicate"])
    assert Counter(d["error_type"] for d in letters) == expected
    [big_key] = [d for d in letters if d["key_size"] is not None]
    assert (len(big_key["key"]), big_key["key_size"], big_key["value"]) == (1024, 600_000, b"junk")
    assert big_key["reason"].endswith("(key truncated to its first 1,024 of 600,000 bytes)")
