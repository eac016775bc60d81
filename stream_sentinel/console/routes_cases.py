"""Alerts and cases: the live feed, queues by tier, a case with its trace, resolve, unblock."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from stream_sentinel.alerts.operator import iso_ms
from stream_sentinel.console.cases_view import case_rows, control_state, queue_depths
from stream_sentinel.console.messages import BrowsedRecord, BrowseQuery
from stream_sentinel.console.trace import Tracer
from stream_sentinel.console.web import (
    Console,
    Principal,
    analyst,
    console,
    csrf_checked,
    render,
    viewer,
)
from stream_sentinel.domain import Label
from stream_sentinel.errors import UsageError

router = APIRouter()
FEED_SIZE = 50


def _feed(parts: Console) -> list[BrowsedRecord]:
    name = parts.sources.topics.fraud_alerts
    info = parts.sources.admin.describe_topics([name]).get(name)
    if info is None:
        return []
    return parts.browser.browse(name, info.partitions, BrowseQuery(limit=FEED_SIZE))


@router.get("/alerts")
def alerts_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    return render(request, "alerts.html", page="cases", feed=_feed(parts))


@router.get("/fragments/alerts")
def alerts_fragment(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    return render(request, "alerts_feed.html", page="cases", feed=_feed(parts))


@router.get("/api/alerts")
def alerts_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    return {"alerts": [r.as_json() for r in _feed(parts)]}


@router.get("/cases")
def cases_page(
    request: Request, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Response:
    rows = case_rows(parts.sources, parts.settings.case_sla_minutes, FEED_SIZE)
    return render(request, "cases.html", rows=rows, depths=queue_depths(parts.sources))


@router.get("/api/cases")
def cases_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    rows = case_rows(parts.sources, parts.settings.case_sla_minutes, FEED_SIZE)
    return {
        "depths": queue_depths(parts.sources),
        "cases": {tier: [r.as_json() for r in found] for tier, found in rows.items()},
    }


@router.get("/cases/{alert_id}")
def case_page(
    request: Request,
    alert_id: str,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    record = parts.sources.desk().record(alert_id)
    trace = Tracer(parts.sources, parts.browser).trace(record.transaction_id, record.user_id)
    control = {
        name: iso_ms(expiry)
        for name, expiry in control_state(parts.sources, record.user_id).items()
    }
    return render(request, "case.html", page="cases", record=record, trace=trace, control=control)


@router.get("/api/cases/{alert_id}")
def case_json(
    alert_id: str, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Any:
    record = parts.sources.desk().record(alert_id)
    return {
        "alert_id": record.alert_id,
        "transaction_id": record.transaction_id,
        "user_id": record.user_id,
        "tier": record.tier.name,
        "case": record.case,
        "label": record.label,
        "note": record.note,
        "reasons": record.reasons,
        "actions": record.actions,
    }


def _label(text: str) -> Label:
    try:
        return Label(text.upper())
    except ValueError:
        raise UsageError(f"label {text!r}: choose fraud or legit") from None


@router.post("/cases/{alert_id}/resolve")
def resolve_case(
    alert_id: str,
    form: dict[str, str] = Depends(csrf_checked),
    who: Principal = Depends(analyst),
    parts: Console = Depends(console),
) -> Response:
    """As `alerts resolve`: a Feedback (source ANALYST) on fraud-feedback, then the case closes."""
    label = _label(form.get("label", ""))
    note = form.get("note") or None
    desk = parts.sources.desk()
    before = desk.record(alert_id)
    outcome = desk.resolve(alert_id, label, note)
    parts.audit.record(
        who.name,
        who.role.label,
        "resolve_case",
        alert_id,
        before={"case": before.case, "label": before.label},
        after={"case": "closed", "label": outcome.feedback.label.value, "note": note},
    )
    return RedirectResponse(f"/cases/{alert_id}", status_code=303)


@router.post("/users/{user_id}/unblock")
def unblock_user(
    user_id: str,
    form: dict[str, str] = Depends(csrf_checked),
    who: Principal = Depends(analyst),
    parts: Console = Depends(console),
) -> Response:
    """As `alerts unblock`: an UNBLOCK_USER action on user-actions, then the block goes."""
    outcome = parts.sources.desk().unblock(user_id)
    parts.audit.record(
        who.name,
        who.role.label,
        "unblock_user",
        user_id,
        before={"blocked_until": iso_ms(outcome.blocked_until)},
        after={"blocked_until": None, "action_id": outcome.action.action_id},
    )
    back = form.get("next", "/cases")
    return RedirectResponse(
        back if back.startswith("/") and not back.startswith("//") else "/cases", status_code=303
    )


@router.get("/trace")
def trace_page(
    request: Request,
    transaction_id: str = "",
    user_id: str = "",
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    found = None
    if transaction_id.strip():
        found = Tracer(parts.sources, parts.browser).trace(
            transaction_id.strip(), user_id.strip() or None
        )
    return render(
        request, "trace.html", trace=found, transaction_id=transaction_id, user_id=user_id
    )


@router.get("/api/trace/{transaction_id}")
def trace_json(
    transaction_id: str,
    user_id: str | None = None,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Any:
    return Tracer(parts.sources, parts.browser).trace(transaction_id, user_id or None).as_json()
