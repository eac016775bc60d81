"""Kafka: the cluster, topics against the layout, consumer groups, the message browser."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.groups_view import read_group, topic_of
from stream_sentinel.console.kafka_view import cluster, read_brokers, read_groups, read_topics
from stream_sentinel.console.messages import BrowsedRecord, BrowseQuery
from stream_sentinel.console.web import Console, Principal, console, render, viewer
from stream_sentinel.errors import UsageError
from stream_sentinel.transport.topics import LAYOUT

router = APIRouter()
TAIL_KEEP = 500  # records a live tail keeps in the page (the newest)


@router.get("/kafka")
def kafka_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    return render(
        request,
        "kafka.html",
        cluster=cluster(parts.sources),
        brokers=read_brokers(parts.sources),
        topics=read_topics(parts.sources),
        groups=read_groups(parts.sources),
    )


@router.get("/api/kafka")
def kafka_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return {
        "cluster": cluster(parts.sources),
        "brokers": read_brokers(parts.sources),
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


def _topic(parts: Console, logical: str) -> tuple[str, int]:
    """The topic's name and partition count (UsageError when unknown or missing)."""
    if logical not in LAYOUT:
        raise UsageError(f"unknown topic {logical!r}: use one of {', '.join(LAYOUT)}")
    name = parts.sources.topics.name(logical)
    info = parts.sources.admin.describe_topics([name]).get(name)
    if info is None:
        raise UsageError(f"topic {name!r} does not exist (`stream-sentinel topics create`)")
    return name, info.partitions


def _browse(parts: Console, logical: str, query: BrowseQuery) -> list[BrowsedRecord]:
    name, partitions = _topic(parts, logical)
    return parts.browser.browse(name, partitions, query)


def _number(name: str, text: str | None) -> int | None:
    """A query parameter as an int; empty (a blank form field) means not given."""
    if text is None or not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {text!r}") from None


def since_ms(text: str | None) -> int | None:
    """A time to browse from: epoch milliseconds, or ISO 8601 (UTC unless it says otherwise).

    >>> since_ms("1700000000000"), since_ms("2023-11-14T22:13:20"), since_ms(" ")
    (1700000000000, 1700000000000, None)
    """
    if text is None or not text.strip():
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"since {text!r}: write a time as 2026-12-04T18:30:00 (UTC) or in epoch milliseconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def cursor_of(text: str | None) -> dict[int, int] | None:
    """A tail's cursor, ``partition:next_offset`` pairs joined by commas (None: start now).

    >>> cursor_of("0:5,3:12"), cursor_of(""), cursor_text({0: 5, 3: 12})
    ({0: 5, 3: 12}, None, '0:5,3:12')
    """
    if text is None or not text.strip():
        return None
    try:
        pairs = (item.split(":") for item in text.split(","))
        return {int(p): int(o) for p, o in pairs}
    except ValueError:
        raise UsageError(
            f"cursor {text!r}: write it as partition:offset pairs, e.g. 0:5,3:12"
        ) from None


def cursor_text(cursor: dict[int, int]) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(cursor.items()))


def _query(
    partition: str | None,
    offset: str | None,
    limit: str | None,
    key: str | None,
    field: str | None,
    since: str | None = None,
) -> BrowseQuery:
    return BrowseQuery(
        _number("partition", partition),
        _number("offset", offset),
        _number("limit", limit) or 50,
        key or None,
        field or None,
        since_ms=since_ms(since),
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
    since: str | None = None,
    tail: str | None = None,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    query = _query(partition, offset, limit, key, field, since)
    if tail:
        _, cursor = _tail(parts, logical, query, None)
        return render(
            request,
            "topic.html",
            page="kafka",
            logical=logical,
            query=query,
            records=[],
            tail=cursor_text(cursor),
            tail_keep=TAIL_KEEP,
        )
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
    since: str | None = None,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Any:
    records = _browse(parts, logical, _query(partition, offset, limit, key, field, since))
    return {"topic": parts.sources.topics.name(logical), "records": [r.as_json() for r in records]}


def _tail(
    parts: Console, logical: str, query: BrowseQuery, after: dict[int, int] | None
) -> tuple[list[BrowsedRecord], dict[int, int]]:
    name, partitions = _topic(parts, logical)
    return parts.browser.tail(name, partitions, query, after)


@router.get("/fragments/kafka/topics/{logical}/tail")
def tail_fragment(
    request: Request,
    logical: str,
    after: str | None = None,
    partition: str | None = None,
    limit: str | None = None,
    key: str | None = None,
    field: str | None = None,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    query = _query(partition, None, limit, key, field)
    records, cursor = _tail(parts, logical, query, cursor_of(after))
    return render(
        request,
        "topic_tail.html",
        page="kafka",
        logical=logical,
        query=query,
        records=records,
        tail=cursor_text(cursor),
        tail_keep=TAIL_KEEP,
    )


@router.get("/api/kafka/topics/{logical}/tail")
def tail_json(
    logical: str,
    after: str | None = None,
    partition: str | None = None,
    limit: str | None = None,
    key: str | None = None,
    field: str | None = None,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Any:
    query = _query(partition, None, limit, key, field)
    records, cursor = _tail(parts, logical, query, cursor_of(after))
    return {
        "topic": parts.sources.topics.name(logical),
        "records": [r.as_json() for r in records],
        "after": cursor_text(cursor),
    }
