"""Schema references (issue 15, item 2): named types resolved across registered versions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.errors import RegistryError
from stream_sentinel.registry_server.app import create_app
from stream_sentinel.registry_server.core import RegistryCore
from stream_sentinel.registry_server.references import Reference, resolution_order
from stream_sentinel.registry_server.store import MemoryLog

MEDIA = "application/vnd.schemaregistry.v1+json"
MONEY = json.dumps(
    {
        "type": "record",
        "name": "Money",
        "namespace": "pay",
        "fields": [{"name": "amount", "type": "double"}, {"name": "currency", "type": "string"}],
    },
    separators=(",", ":"),
)
ORDER = json.dumps(
    {
        "type": "record",
        "name": "Order",
        "namespace": "pay",
        "fields": [{"name": "id", "type": "string"}, {"name": "total", "type": "pay.Money"}],
    },
    separators=(",", ":"),
)
MONEY_REF = {"name": "pay.Money", "subject": "money/v", "version": 1}


@pytest.fixture
def log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
def client(log: MemoryLog) -> TestClient:
    return TestClient(create_app(RegistryCore(log)))


def post(client: TestClient, path: str, body: Any) -> Any:
    response = client.post(path, content=json.dumps(body), headers={"Content-Type": MEDIA})
    return response.status_code, response.json()


def registered_pair(client: TestClient) -> None:
    assert post(client, "/subjects/money%2Fv/versions", {"schema": MONEY}) == (200, {"id": 1})
    body = {"schema": ORDER, "references": [MONEY_REF]}
    assert post(client, "/subjects/order-value/versions", body) == (200, {"id": 2})


def test_a_schema_using_a_referenced_named_type_registers_and_reads_back(
    client: TestClient,
) -> None:
    registered_pair(client)
    assert client.get("/schemas/ids/2").json() == {"schema": ORDER, "references": [MONEY_REF]}
    assert client.get("/schemas/ids/1").json() == {"schema": MONEY}
    version = client.get("/subjects/order-value/versions/1").json()
    assert version == {
        "subject": "order-value",
        "version": 1,
        "id": 2,
        "schema": ORDER,
        "references": [MONEY_REF],
    }
    assert client.get("/schemas/ids/1/versions").json() == [{"subject": "money/v", "version": 1}]
    assert client.get("/subjects/money%2Fv/versions/1/referencedby").json() == [2]
    assert client.get("/subjects/order-value/versions/1/referencedby").json() == []


def test_without_its_reference_the_named_type_is_unknown(client: TestClient) -> None:
    post(client, "/subjects/money%2Fv/versions", {"schema": MONEY})
    status, body = post(client, "/subjects/order-value/versions", {"schema": ORDER})
    assert (status, body["error_code"]) == (422, 42201)
    assert "pay.Money" in body["message"]


def test_lookup_and_compatibility_take_references_too(client: TestClient) -> None:
    registered_pair(client)
    found = post(client, "/subjects/order-value", {"schema": ORDER, "references": [MONEY_REF]})
    assert found[1]["id"] == 2
    evolved = json.loads(ORDER)
    evolved["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    check = {"schema": json.dumps(evolved), "references": [MONEY_REF]}
    path = "/compatibility/subjects/order-value/versions/latest"
    assert post(client, path, check) == (200, {"is_compatible": True})
    assert post(client, "/subjects/order-value/versions", check) == (200, {"id": 3})


def test_the_same_text_with_other_references_is_another_schema(client: TestClient) -> None:
    registered_pair(client)
    other_money = MONEY.replace(
        '"currency","type":"string"', '"currency","type":"string","doc":"x"'
    )
    assert post(client, "/subjects/money%2Fv/versions", {"schema": other_money}) == (200, {"id": 3})
    body = {"schema": ORDER, "references": [{**MONEY_REF, "version": 2}]}
    assert post(client, "/subjects/order2-value/versions", body) == (200, {"id": 4})


def test_a_referenced_version_cannot_be_deleted_until_its_referrer_is_gone(
    client: TestClient,
) -> None:
    registered_pair(client)
    refused = {
        "error_code": 42206,
        "message": "One or more references exist to the schema "
        "{magic=1,keytype=SCHEMA,subject=money/v,version=1}.",
    }
    response = client.delete("/subjects/money%2Fv/versions/1")
    assert (response.status_code, response.json()) == (422, refused)
    assert client.delete("/subjects/money%2Fv").json() == refused
    assert client.delete("/subjects/order-value").json() == [1]
    assert client.get("/subjects/money%2Fv/versions/1/referencedby").json() == []
    assert client.delete("/subjects/money%2Fv").json() == [1]
    # Hard-deleting it would leave the soft-deleted referrer unreadable: refused until that goes.
    assert client.delete("/subjects/money%2Fv?permanent=true").json() == refused
    assert client.delete("/subjects/order-value?permanent=true").json() == [1]
    assert client.delete("/subjects/money%2Fv?permanent=true").json() == [1]


def test_a_reference_to_latest_is_stored_as_the_version_it_means(client: TestClient) -> None:
    post(client, "/subjects/money%2Fv/versions", {"schema": MONEY})
    body = {"schema": ORDER, "references": [{**MONEY_REF, "version": -1}]}
    assert post(client, "/subjects/order-value/versions", body) == (200, {"id": 2})
    assert client.get("/schemas/ids/2").json()["references"] == [MONEY_REF]


@pytest.mark.parametrize(
    "references",
    [
        {"name": "x"},
        [{"name": "x", "subject": "y"}],
        ["x"],
        [{"name": "", "subject": "y", "version": 1}],
    ],
)
def test_malformed_references_are_422(client: TestClient, references: Any) -> None:
    status, body = post(
        client, "/subjects/a-value/versions", {"schema": ORDER, "references": references}
    )
    assert (status, body["error_code"]) == (422, 422)


def test_references_survive_a_restart(log: MemoryLog, client: TestClient) -> None:
    registered_pair(client)
    again = RegistryCore(log)
    assert again.references(2) == (Reference("pay.Money", "money/v", 1),)
    assert again.lookup("order-value", ORDER, None, [MONEY_REF]).schema_id == 2


def test_resolution_visits_dependencies_first_and_each_once() -> None:
    graph = {
        ("a", 1): ("A", ()),
        ("b", 1): ("B", (Reference("A", "a", 1),)),
        ("c", 1): ("C", (Reference("A", "a", 1), Reference("B", "b", 1))),
    }
    order = resolution_order(
        (Reference("C", "c", 1), Reference("B", "b", 1)),
        lambda ref: graph[ref.subject, ref.version],
    )
    assert order == ["A", "B", "C"]


def test_a_reference_cycle_is_refused_not_followed_forever() -> None:
    loop = {("a", 1): ("A", (Reference("B", "b", 1),)), ("b", 1): ("B", (Reference("A", "a", 1),))}
    with pytest.raises(RegistryError) as caught:
        resolution_order((Reference("A", "a", 1),), lambda ref: loop[ref.subject, ref.version])
    assert caught.value.error_code == 42201
    assert "cycle" in str(caught.value)
