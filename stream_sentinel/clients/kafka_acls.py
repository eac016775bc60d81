"""Kafka ACLs: the one place they are written and read (confluent-kafka's AdminClient).

A grant is plain data (:class:`AclGrant`); the launcher's table of who may do what is built from
them without any client, and only :func:`create_acls` and :func:`list_acls` talk to the broker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from stream_sentinel.config import KafkaSettings
from stream_sentinel.errors import TransportError

Resource = Literal["topic", "group", "transactional_id", "cluster"]
Operation = Literal["read", "write", "create", "describe", "describe_configs", "idempotent_write"]
Pattern = Literal["literal", "prefixed"]
#: Kafka's one cluster resource is always named this.
CLUSTER_NAME = "kafka-cluster"


@dataclass(frozen=True, slots=True, order=True)
class AclGrant:
    """``User:principal`` may ``operation`` on the ``resource`` named (or prefixed) ``name``."""

    principal: str
    resource: Resource
    name: str
    operation: Operation
    pattern: Pattern = "literal"


def _binding(grant: AclGrant) -> Any:
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    resource = "BROKER" if grant.resource == "cluster" else grant.resource.upper()
    return AclBinding(
        ResourceType[resource],
        grant.name,
        ResourcePatternType[grant.pattern.upper()],
        f"User:{grant.principal}",
        "*",
        AclOperation[grant.operation.upper()],
        AclPermissionType.ALLOW,
    )


def _grant(binding: Any) -> AclGrant:
    resource = binding.restype.name.lower()
    return AclGrant(
        principal=binding.principal.removeprefix("User:"),
        resource="cluster" if resource == "broker" else resource,
        name=binding.name,
        operation=binding.operation.name.lower(),
        pattern=binding.resource_pattern_type.name.lower(),
    )


def create_acls(settings: KafkaSettings, grants: Sequence[AclGrant], timeout_s: float) -> int:
    """Add ``grants`` (an existing one is left as it is); returns how many were sent."""
    from confluent_kafka.admin import AdminClient

    from stream_sentinel.transport.kafka import client_config

    admin = AdminClient(client_config(settings))
    futures = admin.create_acls([_binding(g) for g in grants], request_timeout=timeout_s)
    for binding, future in futures.items():
        try:
            future.result()
        except Exception as exc:
            raise TransportError(f"Kafka refused the ACL {_grant(binding)}: {exc}") from None
    return len(futures)


def list_acls(settings: KafkaSettings, timeout_s: float) -> list[AclGrant]:
    """Every ALLOW ACL the broker holds, sorted."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    from stream_sentinel.transport.kafka import client_config

    admin = AdminClient(client_config(settings))
    anything: Any = None  # a filter's None matches every name, principal and host
    every = AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        anything,
        anything,
        AclOperation.ANY,
        AclPermissionType.ALLOW,
    )
    bindings = admin.describe_acls(every, request_timeout=timeout_s).result()
    return sorted(_grant(binding) for binding in bindings)
