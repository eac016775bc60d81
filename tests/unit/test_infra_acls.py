"""The secure stack's table of who may do what (pure data: no broker here)."""

from __future__ import annotations

import pytest

from stream_sentinel.clients.kafka_acls import AclGrant
from stream_sentinel.config import load_settings
from stream_sentinel.infra.acls import PRINCIPALS, SERVICES, every_grant, service_grants

pytestmark = pytest.mark.unit


def _short(grants: list[AclGrant]) -> list[str]:
    return [
        f"{g.resource}:{g.name}{'*' if g.pattern == 'prefixed' else ''}:{g.operation}"
        for g in grants
    ]


def test_every_service_has_a_principal_and_the_admin_needs_no_acl() -> None:
    grants = service_grants(load_settings("test"))
    assert list(grants) == list(SERVICES)
    assert (*SERVICES, "admin") == PRINCIPALS
    assert all(g.principal == name for name, found in grants.items() for g in found)


def test_the_detector_reads_its_inputs_in_its_groups_and_writes_its_outputs_only() -> None:
    detector = service_grants(load_settings("test"))["detector"]
    assert _short(detector) == [
        "group:fraud-detection-feedback:read",
        "group:fraud-detection-group:read",
        "topic:dead-letter:describe_configs",
        "topic:dead-letter:write",
        "topic:decision-features:describe_configs",
        "topic:decision-features:write",
        "topic:fraud-alerts:describe_configs",
        "topic:fraud-alerts:write",
        "topic:fraud-feedback:describe_configs",
        "topic:fraud-feedback:read",
        "topic:fraud-scores:describe_configs",
        "topic:fraud-scores:write",
        "topic:model-events:describe_configs",
        "topic:model-events:read",
        "topic:transactions:describe_configs",
        "topic:transactions:read",
        "transactional_id:fraud-detection-feedback-*:write",
        "transactional_id:fraud-detection-group-*:write",
    ]


def test_the_generator_only_writes_and_creates_its_two_topics() -> None:
    assert _short(service_grants(load_settings("test"))["generator"]) == [
        "topic:fraud-feedback:create",
        "topic:fraud-feedback:describe_configs",
        "topic:fraud-feedback:write",
        "topic:transactions:create",
        "topic:transactions:describe_configs",
        "topic:transactions:write",
    ]


def test_the_registry_owns_its_log_its_election_and_its_writer_id() -> None:
    registry = service_grants(load_settings("test"))["registry"]
    assert _short(registry) == [
        "group:_schemas-leader-election-group:read",
        *[f"topic:_schemas:{op}" for op in ("create", "describe_configs", "read", "write")],
        *[
            f"topic:_schemas-leader-election:{op}"
            for op in ("create", "describe_configs", "read", "write")
        ],
        "transactional_id:_schemas-registry-writer:write",
    ]


def test_the_console_reads_every_topic_but_writes_only_the_case_desk_s() -> None:
    console = service_grants(load_settings("test"))["console"]
    writes = sorted(g.name for g in console if g.operation == "write")
    assert writes == ["fraud-feedback", "user-actions"]
    assert len([g for g in console if g.operation == "read"]) == 10
    assert _short([g for g in console if g.resource in ("group", "cluster")]) == [
        "cluster:kafka-cluster:describe_configs",
        "group:*:describe",
    ]


def test_a_topic_prefix_moves_topics_and_transactional_ids_as_the_services_do() -> None:
    settings = load_settings("test", overrides={"kafka": {"topic_prefix": "acme-"}})
    grants = service_grants(settings)
    assert {g.name for g in grants["alerts"] if g.resource == "topic"} == {
        "acme-fraud-alerts",
        "acme-user-actions",
        "acme-fraud-feedback",
        "acme-dead-letter",
    }
    # The detector's and the alert processor's groups carry no prefix; drift's and the
    # experiments' do (each as its service builds it).
    groups = {
        p: sorted(g.name for g in found if g.resource == "group") for p, found in grants.items()
    }
    assert groups["detector"] == ["fraud-detection-feedback", "fraud-detection-group"]
    assert groups["drift"] == ["acme-drift-group"]
    assert groups["experiments"] == ["acme-experiments-group"]
    assert _short([g for g in grants["learner"] if g.resource == "transactional_id"]) == [
        "transactional_id:acme-feedback-store-*:write",
        "transactional_id:acme-learn-*:write",
    ]


def test_the_experiments_judge_announces_on_model_events_but_creates_no_topic() -> None:
    assert _short(service_grants(load_settings("test"))["experiments"]) == [
        "group:experiments-group:read",
        "topic:decision-features:describe_configs",
        "topic:decision-features:read",
        "topic:fraud-feedback:describe_configs",
        "topic:fraud-feedback:read",
        "topic:model-events:describe_configs",
        "topic:model-events:write",
        "transactional_id:experiments-*:write",
    ]


def _claims(grant: AclGrant, transactional_id: str) -> bool:
    if grant.pattern == "prefixed":
        return transactional_id.startswith(grant.name)
    return transactional_id == grant.name


@pytest.mark.parametrize("prefix", ["", "acme-"])
def test_no_service_may_use_another_service_s_transactional_ids(prefix: str) -> None:
    settings = load_settings("test", overrides={"kafka": {"topic_prefix": prefix}})
    grants = service_grants(settings)
    detector = settings.detector
    # One id of every kind each service really uses (slot 0), as its code builds it.
    used = {
        "detector": [f"{prefix}{detector.group_id}-0", f"{prefix}{detector.feedback_group_id}-0"],
        "alerts": [f"{prefix}{settings.alerts.group_id}-0"],
        "learner": [
            f"{prefix}learn-features-0",
            f"{prefix}learn-labels-0",
            f"{prefix}feedback-store-0",
        ],
        "drift": [f"{prefix}drift-0", f"{prefix}drift-labels-0"],
        "experiments": [f"{prefix}experiments-decisions", f"{prefix}experiments-labels"],
        "registry": [f"{prefix}_schemas-registry-writer"],
    }
    for owner, ids in used.items():
        for transactional_id in ids:
            claimed = {
                principal
                for principal, found in grants.items()
                for grant in found
                if grant.resource == "transactional_id" and _claims(grant, transactional_id)
            }
            assert claimed == {owner}, transactional_id


def test_each_principal_holds_exactly_its_table_s_grants() -> None:
    grants = service_grants(load_settings("test"))
    counts = {principal: len(found) for principal, found in grants.items()}
    assert counts == {
        "generator": 6,
        "detector": 18,
        "alerts": 10,
        "learner": 12,
        "drift": 8,
        "experiments": 8,
        "console": 24,
        "registry": 10,
    }
    assert every_grant(load_settings("test")) == sorted(g for f in grants.values() for g in f)
    assert len(every_grant(load_settings("test"))) == sum(counts.values()) == 96
