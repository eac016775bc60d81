"""Every console page and JSON endpoint on the embedded backends, with a seeded pipeline."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.console.kafka_view import broker_problems, expected_broker_config
from stream_sentinel.console.trace import NOT_RECORDED_FEATURES, NOT_RECORDED_PROFILE
from stream_sentinel.domain import (
    Decision,
    DecisionFeatures,
    Feedback,
    FeedbackSource,
    Label,
    RiskLevel,
    UserAction,
)
from stream_sentinel.logic.feature_set import LIVE, LIVE_HASH
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.transport.base import TopicPartition, TopicSpec
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records
from tests.console_support import PAGES, csrf_of, publish, users
from tests.unit.console_rig import NOW, ConsoleRig, log_in, make_console_rig

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def rig() -> ConsoleRig:
    return make_console_rig()


@pytest.fixture
def client(rig: ConsoleRig) -> Iterator[TestClient]:
    with rig.client() as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders(client: TestClient, path: str) -> None:
    reply = client.get(path)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert '<a class="brand" href="/">Stream-Sentinel</a>' in reply.text


def test_the_overview_counts_what_the_pipeline_recorded(client: TestClient) -> None:
    overview = client.get("/api/overview").json()
    assert overview["alerts"] == {"CRITICAL": 1, "HIGH": 1}
    assert overview["dead_letters"] == {"schema_mismatch": 2}
    assert overview["latency_ms"] == {"p50": 10.0, "p99": 10.0, "sample": 2}
    lags = {g["group"]: g["lag"] for g in overview["groups"]}
    assert lags == {
        "fraud-detection-group": 2,
        "fraud-detection-feedback": 0,
        "alert-response-group": 0,
        "feedback-store-group": 0,
        "learning-group": 0,
        "drift-group": 0,
    }
    assert overview["redis"]["backend"] == "memory"


def test_throughput_is_the_offset_delta_between_two_samples() -> None:
    rig = make_console_rig()
    with rig.client() as client:
        _throughput_is_measured(rig, client)


def _throughput_is_measured(rig: ConsoleRig, client: TestClient) -> None:
    sampler = client.app.state.console.sampler
    sampler.sample()
    producer = rig.clients.broker().producer()
    for n in range(30):
        producer.produce("transactions", b"{}", f"u{n}".encode())
    producer.flush(5.0)
    rig.clock.advance(10.0)
    sampler.sample()
    assert sampler.rates()[:2] == (3.0, 0.0)
    series = client.get("/api/overview/series").json()
    assert series["in_per_s"][-1] == 3.0 and series["out_per_s"][-1] == 0.0
    assert sorted(series["lag"]) == [
        "alert-response-group",
        "drift-group",
        "feedback-store-group",
        "fraud-detection-feedback",
        "fraud-detection-group",
        "learning-group",
    ]


def test_the_kafka_page_flags_a_topic_that_differs_from_the_layout(rig: ConsoleRig) -> None:
    rig.clients.admin().create_topics([TopicSpec("other-dead-letter", 1)])
    prefixed = rig.settings.with_overrides(kafka={"topic_prefix": "other-"})
    from stream_sentinel.console.kafka_view import read_topics
    from stream_sentinel.console.sources import ConsoleSources

    topics = {t.logical: t for t in read_topics(ConsoleSources(rig.clients, prefixed, rig.clock))}
    assert topics["dead-letter"].problems[0] == "1 partitions, the layout has 3"
    assert "compression.type is the default, the layout sets lz4" in topics["dead-letter"].problems
    assert topics["transactions"].problems == [
        "missing: `stream-sentinel topics create` creates it"
    ]


def test_the_kafka_json_lists_topics_offsets_and_groups(client: TestClient) -> None:
    kafka = client.get("/api/kafka").json()
    assert kafka["cluster"] == {
        "brokers": 1,
        "controller_id": 0,
        "cluster_id": "embedded",
        "bootstrap": "embedded",
    }
    expected = {
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
    }
    assert kafka["brokers"] == [
        {
            "id": 0,
            "host": "embedded",
            "port": 0,
            "config": expected,
            "expected": expected,
            "problems": [],
        }
    ]
    topics = {t["logical"]: t for t in kafka["topics"]}
    assert (topics["fraud-alerts"]["partitions"], topics["fraud-alerts"]["records"]) == (6, 2)
    assert topics["transactions"]["problems"] == []
    groups = {g["group"]: g for g in kafka["groups"]}
    assert groups["alert-response-group"]["committed"] == {"1": 1, "4": 1}


def test_a_broker_is_flagged_where_its_configs_differ_from_the_expected_ones() -> None:
    expected = expected_broker_config(3)
    assert expected == {
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "3",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
    }
    config = {**expected, "auto.create.topics.enable": "true", "transaction.state.log.min.isr": "1"}
    del config["offsets.topic.replication.factor"]
    assert broker_problems(expected, config) == [
        "auto.create.topics.enable is true, expected false",
        "offsets.topic.replication.factor is not reported, expected 3",
        "transaction.state.log.min.isr is 1, expected at least 2",
    ]
    # one broker of three down: the two left hold logs replicated three times, as they should
    assert broker_problems(expected_broker_config(2), expected) == []


def test_the_kafka_page_shows_the_brokers_configs(client: TestClient) -> None:
    page = client.get("/kafka").text
    assert (
        '<tr class="">\n  <td class="num">0</td>\n  <td>embedded:0</td>\n  '
        "<td>false</td><td>1</td><td>1</td><td>1</td>\n  <td>as expected</td>"
    ) in page


def test_the_browser_decodes_a_transaction_and_keeps_its_raw_bytes(
    client: TestClient, rig: ConsoleRig
) -> None:
    found = client.get("/api/kafka/topics/transactions/messages", params={"key": "u-crit"}).json()
    [record] = found["records"]
    assert record["value"] == records.to_dict(rig.seeded.transaction)
    assert (record["partition"], record["offset"], record["key"], record["schema_id"]) == (
        4,
        0,
        "u-crit",
        1,
    )
    assert record["raw_hex"].startswith("00 00 00 00 01 0e 74 78 2d 63 72 69 74")
    page = client.get("/kafka/topics/transactions", params={"key": "u-crit"}).text
    assert "&#34;transaction_id&#34;: &#34;tx-crit&#34;" in page


def test_the_browser_filters_on_a_decoded_field_and_reads_from_an_offset(
    client: TestClient,
) -> None:
    path = "/api/kafka/topics/fraud-scores/messages"
    declined = client.get(path, params={"field": "decision=DECLINE"}).json()["records"]
    assert [r["value"]["transaction_id"] for r in declined] == ["tx-crit"]
    from_offset = client.get(path, params={"partition": "1", "offset": "0"}).json()["records"]
    assert [(r["partition"], r["offset"], r["key"]) for r in from_offset] == [(1, 0, "u-high")]
    bad = client.get(path, params={"offset": "0"})
    assert (bad.status_code, bad.json()) == (
        400,
        {"error": "an offset needs a partition: choose one to read from an offset"},
    )
    assert client.get(path, params={"field": "nonsense"}).status_code == 400


def test_the_schemas_pages_show_subjects_text_diff_and_a_compatibility_test(
    client: TestClient,
) -> None:
    found = client.get("/api/schemas").json()
    subjects = {s["subject"]: s for s in found["subjects"]}
    assert found["global_compatibility"] == "BACKWARD"
    assert subjects["transactions-value"] == {
        "subject": "transactions-value",
        "versions": [1],
        "compatibility": "BACKWARD",
    }
    version = client.get("/api/schemas/transactions-value/versions/1").json()
    assert (version["version"], version["id"], json.loads(version["schema"])["name"]) == (
        1,
        1,
        "Transaction",
    )
    page = client.get("/schemas/transactions-value")
    token = csrf_of(page.text)
    incompatible = {
        "type": "record",
        "name": "Transaction",
        "namespace": "io.streamsentinel",
        "fields": [{"name": "must_have", "type": "string"}],
    }
    reply = client.post(
        "/schemas/transactions-value/test",
        data={"csrf_token": token, "schema": json.dumps(incompatible)},
    )
    assert reply.status_code == 200
    assert '<p id="verdict" class="flag">not compatible' in reply.text
    reply = client.post(
        "/schemas/transactions-value/test", data={"csrf_token": token, "schema": version["schema"]}
    )
    assert '<p id="verdict" class="ok">compatible' in reply.text


def test_the_redis_page_counts_keys_and_decodes_our_records(client: TestClient) -> None:
    redis = client.get("/api/redis").json()
    counts = {n["name"]: n["keys"] for n in redis["namespaces"]}
    assert counts["profiles"] == 1 and counts["feedback"] == 0
    control = client.get("/api/redis/pipeline/keys", params={"pattern": "control:*"}).json()
    assert [k["key"] for k in control["keys"]] == ["control:blocked", "control:step_up"]
    assert control["ttl_histogram"]["no TTL"] == 2 and control["truncated"] is False
    blocked = client.get("/api/redis/pipeline/key", params={"key": "control:blocked"}).json()
    assert blocked["kind"] == "control" and [m["member"] for m in blocked["members"]] == ["u-crit"]
    merchant = client.get("/api/redis/pipeline/key", params={"key": "merchant:m7"}).json()
    assert merchant["days"] == [
        {"day": NOW // 86_400_000, "transactions": 2, "fraud_labels": 1, "labels": 0}
    ]
    history = client.get("/api/redis/pipeline/key", params={"key": "alerts:u-crit"}).json()
    assert [e["alert_id"] for e in history["entries"]] == ["al-crit"]
    unknown = client.get("/api/redis/pipeline/key", params={"key": "something:else"}).json()
    assert unknown["kind"] == "unknown"
    assert client.get("/api/redis/nowhere/keys").status_code == 400


def test_the_case_queues_show_age_and_sla(client: TestClient, rig: ConsoleRig) -> None:
    cases = client.get("/api/cases").json()
    assert cases["depths"] == {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 0, "LOW": 0}
    [critical] = cases["cases"]["CRITICAL"]
    assert (critical["alert_id"], critical["age_ms"], critical["sla_ms"], critical["over_sla"]) == (
        "al-crit",
        780,
        900_000,
        False,
    )


def test_a_case_older_than_its_tiers_sla_is_shown_over_it() -> None:
    rig = make_console_rig()
    rig.clock.advance(3_600.0)
    with rig.client() as client:
        cases = client.get("/api/cases").json()["cases"]
        assert [(c["alert_id"], c["over_sla"]) for c in cases["CRITICAL"] + cases["HIGH"]] == [
            ("al-crit", True),
            ("al-high", True),
        ]
        assert client.get("/cases").text.count('<tr class="flagged">') == 2


def test_the_trace_follows_a_transaction_from_input_to_alert(
    client: TestClient, rig: ConsoleRig
) -> None:
    trace = client.get("/api/trace/tx-crit").json()
    assert trace["user_id"] == "u-crit"
    assert trace["transaction"]["value"] == records.to_dict(rig.seeded.transaction)
    assert trace["score"]["value"]["reasons"] == ["impossible_travel", "high_amount"]
    assert trace["score"]["value"]["model_version"] == "m-test-1"
    assert trace["alert"]["value"]["alert_id"] == "al-crit"
    assert sorted(a["value"]["action"] for a in trace["actions"]) == [
        "BLOCK_USER",
        "INVESTIGATE",
        "OPEN_CASE",
    ]
    assert trace["feedback"] == [] and trace["features"] is None
    assert trace["profile"]["fields"]["transactions"] == 3
    assert trace["notes"] == [NOT_RECORDED_FEATURES, NOT_RECORDED_PROFILE]
    assert NOT_RECORDED_FEATURES == (
        "no feature-log row found in the newest records of the user's partition of "
        "decision-features (the feature log is off, or the row is older than that window)"
    )


def test_the_drift_page_on_a_stack_where_drift_never_ran_says_how_to_start_it(
    client: TestClient,
) -> None:
    assert "Start it with `stream-sentinel drift run`" in client.get("/drift").text
    assert client.get("/api/drift").json()["ran"] is False


def test_static_assets_are_served_from_the_package(client: TestClient) -> None:
    for path in (
        "/static/vendor/htmx-2.0.11.min.js",
        "/static/vendor/uPlot-1.6.32.iife.min.js",
        "/static/console.js",
    ):
        assert client.get(path).status_code == 200
    assert "cdn" not in client.get("/").text.lower()


def _read(rig: ConsoleRig, topic: str) -> list[bytes]:
    consumer = rig.clients.broker().consumer(None)
    count = rig.clients.admin().describe_topics([topic])[topic].partitions
    consumer.assign({TopicPartition(topic, p): 0 for p in range(count)})
    return [r.value() or b"" for r in consumer.consume(100, 0.1)]


def test_resolving_publishes_analyst_feedback_and_lands_in_the_audit_log() -> None:
    rig = make_console_rig()
    with rig.client(users()) as client:
        log_in(client, "ana")
        token = csrf_of(client.get("/cases/al-crit").text)
        reply = client.post(
            "/cases/al-crit/resolve",
            data={"csrf_token": token, "label": "fraud", "note": "card stolen"},
            follow_redirects=False,
        )
        assert (reply.status_code, reply.headers["location"]) == (303, "/cases/al-crit")
        [value] = _read(rig, "fraud-feedback")
        feedback = records.from_dict(Feedback, rig.serde.decoder("fraud-feedback").decode(value))
        assert feedback == Feedback(
            "tx-crit",
            "u-crit",
            "m7",
            NOW - 900,
            Label.FRAUD,
            FeedbackSource.ANALYST,
            1.0,
            None,
            NOW,
        )
        case = client.get("/api/cases/al-crit").json()
        assert (case["case"], case["label"], case["note"]) == ("closed", "FRAUD", "card stolen")
        [entry] = [
            e for e in client.get("/api/audit").json()["entries"] if e["action"] == "resolve_case"
        ]
        assert entry == {
            "time": NOW,
            "user": "ana",
            "role": "analyst",
            "action": "resolve_case",
            "target": "al-crit",
            "before": {"case": "open", "label": None},
            "after": {"case": "closed", "label": "FRAUD", "note": "card stolen"},
        }
        again = client.post("/cases/al-crit/resolve", data={"csrf_token": token, "label": "legit"})
        assert again.status_code == 400 and "was already resolved as FRAUD" in again.text


def test_unblocking_publishes_an_unblock_action_and_lifts_the_block() -> None:
    rig = make_console_rig()
    with rig.client(users()) as client:
        log_in(client, "adam")
        page = client.get("/cases/al-crit").text
        assert 'id="unblock"' in page
        reply = client.post(
            "/users/u-crit/unblock",
            data={"csrf_token": csrf_of(page), "next": "/cases/al-crit"},
            follow_redirects=False,
        )
        assert (reply.status_code, reply.headers["location"]) == (303, "/cases/al-crit")
        actions = [
            records.from_dict(UserAction, rig.serde.decoder("user-actions").decode(v))
            for v in _read(rig, "user-actions")
        ]
        assert [a.action.value for a in actions if a.user_id == "u-crit"][-1] == "UNBLOCK_USER"
        assert 'id="unblock"' not in client.get("/cases/al-crit").text
        entry = client.get("/api/audit").json()["entries"][0]
        assert (
            entry["user"],
            entry["action"],
            entry["target"],
            entry["after"]["blocked_until"],
        ) == ("adam", "unblock_user", "u-crit", None)


def test_a_pattern_without_wildcards_is_one_key_looked_up(client: TestClient) -> None:
    path = "/api/redis/profiles/keys"
    assert [
        k["key"] for k in client.get(path, params={"pattern": "user:u-crit"}).json()["keys"]
    ] == ["user:u-crit"]
    assert client.get(path, params={"pattern": "user:nobody"}).json()["keys"] == []


def test_the_trace_names_each_logged_feature_from_the_feature_log() -> None:
    rig = make_console_rig()  # its own: the shared rig's tx-high stays without a row
    vector = [float(n) for n in range(len(FEATURES))]
    row = DecisionFeatures(
        "tx-high",
        "u-high",
        NOW,
        NOW + 5,
        "m-test-1",
        LIVE,
        LIVE_HASH,
        vector,
        0.42,
        RiskLevel.HIGH,
        Decision.REVIEW,
        3,
        17,
    )
    publish(rig.clients.backends(), rig.serde, Topics(), "decision-features", [row])
    with rig.client() as client:
        trace = client.get("/api/trace/tx-high").json()
        page = client.get("/trace", params={"transaction_id": "tx-high"}).text
    assert trace["named_features"] == [[name, float(n)] for n, name in enumerate(FEATURES)]
    assert trace["features"]["value"]["features"] == vector
    assert NOT_RECORDED_FEATURES not in trace["notes"]
    assert f'<tr><td>{FEATURES[2]}</td><td class="num">2.0</td></tr>' in page
