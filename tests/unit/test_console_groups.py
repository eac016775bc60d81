"""A consumer group's page on the embedded backends: members, assignment, lag in seconds from
record timestamps, and the sampled lag series."""

from __future__ import annotations

import pytest

from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.memory import CLIENT_ID, HOST
from stream_sentinel.transport.partitioner import partition_for
from tests.unit.console_rig import NOW, make_console_rig

pytestmark = pytest.mark.unit

GROUP = "fraud-detection-group"


def test_a_groups_members_their_partitions_and_lag_in_seconds() -> None:
    rig = make_console_rig()
    member = rig.clients.broker().consumer(GROUP)
    member.subscribe(["transactions"])
    member.consume(1, 0.0)  # joins; the rebalance completes inside consume()
    member_id = member.group_metadata().member_id
    rig.clock.advance(90.0)
    with rig.client() as client:
        group = client.get(f"/api/kafka/groups/{GROUP}").json()
        page = client.get(f"/kafka/groups/{GROUP}").text
    lagging = sorted(partition_for(u.encode(), 12) for u in ("u-crit", "u-high"))
    assert (group["topic"], group["state"], group["total_lag"]) == ("transactions", "stable", 2)
    assert group["members"] == [
        {
            "member_id": member_id,
            "client_id": CLIENT_ID,
            "host": HOST,
            "partitions": list(range(12)),
        }
    ]
    assert group["lag_seconds"] == 90.0
    rows = {r["partition"]: r for r in group["partitions"]}
    assert sorted(rows) == list(range(12))
    for p in lagging:
        assert rows[p] == {
            "partition": p,
            "committed": None,
            "end": 1,
            "lag": 1,
            "oldest_unread_ms": NOW,
            "lag_seconds": 90.0,
            "member_id": member_id,
        }
    quiet = next(p for p in range(12) if p not in lagging)
    assert (rows[quiet]["lag"], rows[quiet]["lag_seconds"], rows[quiet]["oldest_unread_ms"]) == (
        0,
        0.0,
        None,
    )
    assert f"<td>{member_id}</td><td>{CLIENT_ID}</td><td>{HOST}</td>" in page
    assert "lag 2 record(s), oldest unread 90.0 s old" in page
    assert f'data-group="{GROUP}"' in page
    member.close()


def test_a_committed_group_has_no_lag_and_nobody_left_has_no_members() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        group = client.get("/api/kafka/groups/alert-response-group").json()
    # the seeded alert worker consumed both alerts, committed and left
    assert (group["state"], group["members"], group["total_lag"]) == ("empty", [], 0)
    assert group["lag_seconds"] == 0.0
    committed = {r["partition"]: r["committed"] for r in group["partitions"] if r["committed"]}
    assert committed == {1: 1, 4: 1}


def test_a_group_that_is_not_ours_is_refused() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        reply = client.get("/api/kafka/groups/someone-else")
    assert (reply.status_code, reply.json()) == (
        400,
        {
            "error": "unknown consumer group 'someone-else': the console shows "
            "fraud-detection-group, fraud-detection-feedback, alert-response-group, "
            "feedback-store-group, learning-group, drift-group"
        },
    )


def test_the_group_series_is_its_lag_at_every_sample() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        sampler = client.app.state.console.sampler
        sampler.sample()
        producer = rig.clients.broker().producer()
        producer.produce("transactions", b"{}", b"u-new")
        producer.flush(5.0)
        rig.clock.advance(5.0)
        sampler.sample()
        series = client.get(f"/api/kafka/groups/{GROUP}/series").json()
    # the seeded records and u-new were written at NOW: their age is the clock's move
    assert series == {
        "group": GROUP,
        "time": [NOW / 1000, NOW / 1000 + 5],
        "lag": [2, 3],
        "lag_seconds": [0.0, 5.0],
    }


def test_a_group_that_lags_on_nothing_has_a_zero_lag_in_seconds_at_every_sample() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        sampler = client.app.state.console.sampler
        sampler.sample()
        rig.clock.advance(5.0)
        sampler.sample()
        series = client.get("/api/kafka/groups/alert-response-group/series").json()
    assert (series["lag"], series["lag_seconds"]) == ([0, 0], [0.0, 0.0])


def test_the_kafka_page_links_each_group_to_its_page() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        page = client.get("/kafka").text
    assert f'<a href="/kafka/groups/{GROUP}">{GROUP}</a> on transactions' in page


def test_the_overview_shows_the_oldest_unread_records_age_beside_the_commit_rate_figure() -> None:
    rig = make_console_rig()
    rig.clock.advance(90.0)
    with rig.client() as client:
        groups = {g["group"]: g for g in client.get("/api/overview").json()["groups"]}
        page = client.get("/").text
    ages = {name: g["oldest_unread_seconds"] for name, g in groups.items()}
    assert ages == {
        GROUP: 90.0,
        "fraud-detection-feedback": 0.0,
        "alert-response-group": 0.0,
        "feedback-store-group": 0.0,
        "learning-group": 0.0,
        "drift-group": 0.0,
    }
    assert groups[GROUP]["lag_seconds"] is None  # no commit rate before two samples
    assert f'<td><a href="/kafka/groups/{GROUP}">{GROUP}</a></td><td>transactions</td>' in page


def test_the_overview_series_has_every_groups_lag_in_records_and_in_seconds() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        sampler = client.app.state.console.sampler
        sampler.sample()
        rig.clock.advance(5.0)
        sampler.sample()
        producer = rig.clients.broker().producer()
        producer.produce("transactions", b"{}", b"u-new")
        producer.flush(5.0)
        rig.clock.advance(5.0)
        sampler.sample()
        series = client.get("/api/overview/series").json()
        page = client.get("/").text
    # one point per pair of samples; the seeded records (and u-new) were written at NOW
    assert series["time"] == [NOW / 1000 + 5, NOW / 1000 + 10]
    assert series["lag"][GROUP] == [2, 3]
    assert series["lag_seconds"] == {
        GROUP: [5.0, 10.0],
        "fraud-detection-feedback": [0.0, 0.0],
        "alert-response-group": [0.0, 0.0],
        "feedback-store-group": [0.0, 0.0],
        "learning-group": [0.0, 0.0],
        "drift-group": [0.0, 0.0],
    }
    assert "<h3>Consumer lag (records, left; seconds, dashed, right)</h3>" in page


def test_two_groups_on_one_topic_each_have_their_own_oldest_unread_age() -> None:
    rig = make_console_rig()
    topic, tp = "fraud-feedback", TopicPartition("fraud-feedback", 0)
    start = rig.clients.admin().end_offsets([tp])[tp]
    producer = rig.clients.broker().producer()
    for n in range(3):  # at NOW, NOW + 1 s, NOW + 2 s
        producer.produce(topic, b"{}", b"k", partition=0, timestamp_ms=NOW + n * 1000)
    assert producer.flush(5.0) == 0
    for group, offset in (("fraud-detection-feedback", start), ("feedback-store-group", start + 2)):
        committer = rig.clients.broker().consumer(group)
        committer.assign({tp: offset})
        committer.commit({tp: offset})
        committer.close()
    rig.clock.advance(10.0)
    with rig.client() as client:
        sample = client.app.state.console.sampler.sample()
        groups = {g["group"]: g for g in client.get("/api/overview").json()["groups"]}
    assert (sample.lag["fraud-detection-feedback"], sample.lag["feedback-store-group"]) == (3, 1)
    assert sample.lag_s["fraud-detection-feedback"] == 10.0
    assert sample.lag_s["feedback-store-group"] == 8.0
    assert groups["feedback-store-group"]["oldest_unread_seconds"] == 8.0
