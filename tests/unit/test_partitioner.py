from __future__ import annotations

import pytest

from stream_sentinel.transport.partitioner import murmur2, partition_for


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # the vectors of Kafka's own UtilsTest
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        ("abc", 479470107),
    ],
)
def test_murmur2_matches_kafka(text: str, expected: int) -> None:
    assert murmur2(text.encode()) == expected


def test_partition_is_positive_hash_modulo_count() -> None:
    assert partition_for(b"foobar", 12) == (-790332482 & 0x7FFFFFFF) % 12 == 6
