"""Kafka: the cluster, topics against the layout, consumer groups, the message browser."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.groups_view import read_group, topic_of
from stream_sentinel.console.kafka_view import cluster, read_groups, read_topics
from stream_sentinel.console.messages import BrowsedRecord, BrowseQuery
from stream_sentinel.console.web import Console, Principal, console, render, viewer
from stream_sentinel.errors import UsageError
from stream_sentinel.transport.topics import LAYOUT

router = APIRouter()


@router.get("/kafka")
def kafka_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    return render(
        request,
        "kafka.html",
        cluster=cluster(parts.sources),
        topics=read_topics(parts.sources),
        groups=read_groups(parts.sources),
    )


@router.get("/api/kafka")
def kafka_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return {
        "cluster": cluster(parts.sources),
        "topics": [t.as_json() for t in read_topics(parts.sources)],
        "groups": read_groups(parts.sources),
    }


@router.get("/kafka/groups/{group}")
def group_page(
    request: Request,
    group: str,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    return render(request, "group.html", page="kafka", group=read_group(parts.sources, group))


@router.get("/api/kafka/groups/{group}")
def group_json(
    group: str, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Any:
    return read_group(parts.sources, group)


@router.get("/api/kafka/groups/{group}/series")
def group_series(
    group: str, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Any:
    topic_of(parts.sources, group)  # only our groups
    return parts.sampler.group_series(group)


def _browse(parts: Console, logical: str, query: BrowseQuery) -> list[BrowsedRecord]:
    if logical not in LAYOUT:
        raise UsageError(f"unknown topic {logical!r}: use one of {', '.join(LAYOUT)}")
    name = parts.sources.topics.name(logical)
    info = parts.sources.admin.describe_topics([name]).get(name)
    if info is None:
        raise UsageError(f"topic {name!r} does not exist (`stream-sentinel topics create`)")
    return parts.browser.browse(name, info.partitions, query)


def _number(name: str, text: str | None) -> int | None:
    """A query parameter as an int; empty (a blank form field) means not given."""
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {text!r}") from None


def _query(
    partition: str | None, offset: str | None, limit: str | None, key: str | None, field: str | None
) -> BrowseQuery:
    return BrowseQuery(
        _number("partition", partition),
        _number("offset", offset),
        _number("limit", limit) or 50,
        key or None,
        field or None,
    )


@router.get("/kafka/topics/{logical}")
def topic_page(
    request: Request,
    logical: str,
    partition: str | None = None,
    offset: str | None = None,
    limit: str | None = None,
    key: str | None = None,
    field: str | None = None,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    query = _query(partition, offset, limit, key, field)
    records = _browse(parts, logical, query)
    return render(
        request, "topic.html", page="kafka", logical=logical, query=query, records=records
    )


@router.get("/api/kafka/topics/{logical}/messages")
def topic_messages(
    logical: str,
    partition: str | None = None,
    offset: str | None = None,
    limit: str | None = None,
    key: str | None = None,
    field: str | None = None,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Any:
    records = _browse(parts, logical, _query(partition, offset, limit, key, field))
    return {"topic": parts.sources.topics.name(logical), "records": [r.as_json() for r in records]}
