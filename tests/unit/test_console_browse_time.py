"""The message browser by time and its live tail, on the embedded backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.console_rig import NOW, ConsoleRig, make_console_rig

pytestmark = pytest.mark.unit

TOPIC = "dead-letter"  # three partitions, empty after the seed
PATH = f"/api/kafka/topics/{TOPIC}"


def _write(rig: ConsoleRig, items: list[tuple[int, int, int]]) -> None:
    """(partition, n, timestamp) records whose JSON value is {"n": n}."""
    producer = rig.clients.broker().producer()
    for partition, n, timestamp in items:
        producer.produce(
            TOPIC, json.dumps({"n": n}).encode(), b"k", partition=partition, timestamp_ms=timestamp
        )
    assert producer.flush(5.0) == 0


def _ns(reply: dict[str, Any]) -> list[tuple[int, int, int]]:
    """(partition, offset, n) of each record, in the order given."""
    return [(r["partition"], r["offset"], r["value"]["n"]) for r in reply["records"]]


@pytest.fixture
def rig() -> ConsoleRig:
    rig = make_console_rig()
    _write(rig, [(0, 1, NOW - 3000), (1, 2, NOW - 2000), (0, 3, NOW - 1000), (2, 4, NOW)])
    return rig


def test_a_browse_from_a_time_reads_each_partition_from_there_oldest_first(
    rig: ConsoleRig,
) -> None:
    with rig.client() as client:
        found = client.get(f"{PATH}/messages", params={"since": str(NOW - 2500)}).json()
        one = client.get(f"{PATH}/messages", params={"since": str(NOW - 2500), "partition": "0"})
        # NOW - 1000, written as an ISO time
        iso = client.get(f"{PATH}/messages", params={"since": "2023-11-14T23:13:19Z"}).json()
        page = client.get(f"/kafka/topics/{TOPIC}", params={"since": str(NOW - 2500)}).text
    assert _ns(found) == [(1, 0, 2), (0, 1, 3), (2, 0, 4)]
    assert _ns(one.json()) == [(0, 1, 3)]
    assert _ns(iso) == [(0, 1, 3), (2, 0, 4)]
    assert "3 record(s), from 2023-11-14T23:13:17Z, oldest first" in page


def test_a_time_after_every_record_finds_nothing_and_a_bad_time_is_refused(
    rig: ConsoleRig,
) -> None:
    with rig.client() as client:
        later = client.get(f"{PATH}/messages", params={"since": str(NOW + 1)}).json()
        bad = client.get(f"{PATH}/messages", params={"since": "yesterday"})
        both = client.get(
            f"{PATH}/messages", params={"since": str(NOW), "offset": "0", "partition": "0"}
        )
    assert later["records"] == []
    assert (bad.status_code, bad.json()) == (
        400,
        {
            "error": "since 'yesterday': write a time as 2026-12-04T18:30:00 (UTC) or in "
            "epoch milliseconds"
        },
    )
    assert (both.status_code, both.json()) == (
        400,
        {"error": "read from an offset or from a time, not both"},
    )


def test_the_live_tail_starts_now_and_then_brings_only_what_arrived_after_its_cursor(
    rig: ConsoleRig,
) -> None:
    with rig.client() as client:
        start = client.get(f"{PATH}/tail").json()
        assert (start["records"], start["after"]) == ([], "0:2,1:1,2:1")
        quiet = client.get(f"{PATH}/tail", params={"after": start["after"]}).json()
        assert (quiet["records"], quiet["after"]) == ([], "0:2,1:1,2:1")
        _write(rig, [(1, 5, NOW + 1000), (0, 6, NOW + 2000)])
        new = client.get(f"{PATH}/tail", params={"after": start["after"]}).json()
        assert (_ns(new), new["after"]) == ([(0, 2, 6), (1, 1, 5)], "0:3,1:2,2:1")
        again = client.get(f"{PATH}/tail", params={"after": new["after"]}).json()
        assert again["records"] == []


def test_the_live_tail_is_bounded_per_poll_and_resumes_where_it_stopped(rig: ConsoleRig) -> None:
    with rig.client() as client:
        _write(rig, [(2, 10 + n, NOW + n) for n in range(5)])
        first = client.get(f"{PATH}/tail", params={"after": "2:1", "limit": "3"}).json()
        rest = client.get(f"{PATH}/tail", params={"after": first["after"], "limit": "3"}).json()
    # partitions missing from the cursor are tailed from now on
    assert (_ns(first), first["after"]) == ([(2, 3, 12), (2, 2, 11), (2, 1, 10)], "0:2,1:1,2:4")
    assert (_ns(rest), rest["after"]) == ([(2, 5, 14), (2, 4, 13)], "0:2,1:1,2:6")


def test_the_tail_page_polls_its_fragment_with_the_cursor(rig: ConsoleRig) -> None:
    with rig.client() as client:
        page = client.get(f"/kafka/topics/{TOPIC}", params={"tail": "1"}).text
        _write(rig, [(1, 7, NOW + 5000)])
        fragment = _fragment(client, "0:2,1:1,2:1")
    poller = (
        f'hx-get="/fragments/kafka/topics/{TOPIC}/tail?after=0%3A2%2C1%3A1%2C2%3A1'
        '&amp;partition=&amp;key=&amp;field=&amp;limit=50" hx-trigger="every 2s"'
    )
    assert poller in page
    assert 'data-after="0:2,1:2,2:1" data-keep="500"' in fragment
    assert fragment.count('class="record"') == 1
    assert "p1 @1 · 2023-11-14T23:13:25Z · key k" in fragment


def _fragment(client: TestClient, after: str) -> str:
    reply = client.get(f"/fragments/kafka/topics/{TOPIC}/tail", params={"after": after})
    assert reply.status_code == 200, reply.text
    return reply.text


def test_a_malformed_cursor_is_refused(rig: ConsoleRig) -> None:
    with rig.client() as client:
        reply = client.get(f"{PATH}/tail", params={"after": "zero"})
    assert (reply.status_code, reply.json()) == (
        400,
        {"error": "cursor 'zero': write it as partition:offset pairs, e.g. 0:5,3:12"},
    )
