"""Every console page and JSON endpoint on the real stack (Kafka, Redis, our registry)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.console.app import create_app
from stream_sentinel.console.settings import load_console_settings
from stream_sentinel.console.users import UserBook
from stream_sentinel.wire import records
from tests.console_support import PAGES, Seeded, csrf_of
from tests.e2e.console_stack import seed_stack

pytestmark = pytest.mark.integration

JSON = [
    "/api/overview",
    "/api/overview/series",
    "/api/kafka",
    "/api/kafka/topics/fraud-alerts/messages",
    "/api/schemas",
    "/api/redis",
    "/api/redis/pipeline/keys?pattern=*",
    "/api/redis/profiles/key?key=user:u-crit",
    "/api/alerts",
    "/api/cases",
    "/api/cases/al-crit",
    "/api/trace/tx-crit?user_id=u-crit",
    "/api/audit",
]


@pytest.fixture(scope="module")
def real(stack_settings: Settings) -> Iterator[tuple[TestClient, Settings, Seeded]]:
    settings = stack_settings.with_overrides(
        kafka={"topic_prefix": "console-"}, redis={"key_namespace": "console"}
    )
    seeded = seed_stack(settings)
    console = load_console_settings({"SENTINEL_CONSOLE_SAMPLE_INTERVAL_S": "0"})
    app = create_app(RealClients(settings), settings, console, UserBook())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, settings, seeded


@pytest.mark.parametrize(
    "path", [p.replace("transactions-value", "console-transactions-value") for p in PAGES]
)
def test_every_page_renders_on_the_real_stack(
    real: tuple[TestClient, Settings, Seeded], path: str
) -> None:
    client, _, _ = real
    reply = client.get(path)
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize("path", JSON)
def test_every_json_endpoint_answers_on_the_real_stack(
    real: tuple[TestClient, Settings, Seeded], path: str
) -> None:
    client, _, _ = real
    reply = client.get(path)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"


def test_the_real_browser_decodes_and_traces_what_the_pipeline_wrote(
    real: tuple[TestClient, Settings, Seeded],
) -> None:
    client, _, seeded = real
    [record] = client.get(
        "/api/kafka/topics/transactions/messages", params={"key": "u-crit"}
    ).json()["records"]
    assert record["value"] == records.to_dict(seeded.transaction)
    trace = client.get("/api/trace/tx-crit").json()
    assert (trace["user_id"], trace["alert"]["value"]["alert_id"]) == ("u-crit", "al-crit")
    assert trace["score"]["value"]["decision"] == "DECLINE"
    kafka = client.get("/api/kafka").json()
    topics = {t["logical"]: t for t in kafka["topics"]}
    assert topics["transactions"]["problems"] == [] and topics["transactions"]["partitions"] == 12
    assert kafka["cluster"]["brokers"] == 1
    subjects = [s["subject"] for s in client.get("/api/schemas").json()["subjects"]]
    assert "console-transactions-value" in subjects
    assert client.get("/api/redis").json()["info"]["backend"] == "redis"


def test_resolving_on_the_real_stack_closes_the_case(
    real: tuple[TestClient, Settings, Seeded],
) -> None:
    client, _, _ = real
    token = csrf_of(client.get("/cases/al-high").text)
    reply = client.post(
        "/cases/al-high/resolve",
        data={"csrf_token": token, "label": "legit"},
        follow_redirects=False,
    )
    assert reply.status_code == 303
    case = client.get("/api/cases/al-high").json()
    assert (case["case"], case["label"]) == ("closed", "LEGIT")
    feedback = client.get(
        "/api/kafka/topics/fraud-feedback/messages", params={"key": "u-high"}
    ).json()["records"]
    assert [(r["value"]["label"], r["value"]["source"]) for r in feedback] == [("LEGIT", "ANALYST")]
