"""Redis: per logical database key counts and memory, pattern browsing with TTLs, INFO, the key
decoder."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from stream_sentinel.console.redis_memory import MEMORY_SAMPLE, memory_estimates
from stream_sentinel.console.redis_view import (
    NOT_AVAILABLE,
    SECRET_COMMAND_NAMES,
    namespace_of,
    read_key,
    scan_keys,
    slowlog_rows,
    store_figures,
)
from stream_sentinel.console.web import Console, Principal, console, render, viewer

router = APIRouter()


def _info(parts: Console) -> dict[str, Any]:
    info = parts.sources.state.info()
    return {
        "backend": info.backend,
        "version": info.version,
        "used_memory": info.used_memory,
        "maxmemory": info.maxmemory,
        "maxmemory_policy": info.maxmemory_policy,
        "aof_enabled": info.aof_enabled,
    }


@router.get("/redis")
def redis_page(
    request: Request,
    ns: str = "profiles",
    pattern: str = "*",
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    namespace = namespace_of(ns)
    rows, histogram, truncated = scan_keys(
        parts.sources.state, namespace, pattern, parts.settings.max_keys
    )
    figures, databases = store_figures(parts.sources.state)
    info = _info(parts)
    return render(
        request,
        "redis.html",
        info=info,
        figures=figures,
        namespaces=databases,
        memory=memory_estimates(parts.sources.state, databases, info["backend"]),
        memory_sample=MEMORY_SAMPLE,
        slowlog=slowlog_rows(parts.sources.state),
        not_available=NOT_AVAILABLE,
        secret_commands=SECRET_COMMAND_NAMES,
        ns=namespace.name.lower(),
        pattern=pattern,
        rows=rows,
        histogram=histogram,
        truncated=truncated,
        max_keys=parts.settings.max_keys,
    )


@router.get("/redis/key")
def key_page(
    request: Request,
    ns: str,
    key: str,
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Response:
    found = read_key(parts.sources.state, namespace_of(ns), key)
    return render(request, "redis_key.html", page="redis", found=found)


@router.get("/api/redis")
def redis_json(who: Principal = Depends(viewer), parts: Console = Depends(console)) -> Any:
    figures, databases = store_figures(parts.sources.state)
    info = _info(parts)
    return {
        "info": info,
        "stats": figures,
        "namespaces": databases,
        "memory": memory_estimates(parts.sources.state, databases, info["backend"]),
        "slowlog": slowlog_rows(parts.sources.state),
    }


@router.get("/api/redis/{ns}/keys")
def keys_json(
    ns: str,
    pattern: str = "*",
    who: Principal = Depends(viewer),
    parts: Console = Depends(console),
) -> Any:
    rows, histogram, truncated = scan_keys(
        parts.sources.state, namespace_of(ns), pattern, parts.settings.max_keys
    )
    return {"keys": rows, "ttl_histogram": histogram, "truncated": truncated}


@router.get("/api/redis/{ns}/key")
def key_json(
    ns: str, key: str, who: Principal = Depends(viewer), parts: Console = Depends(console)
) -> Any:
    return read_key(parts.sources.state, namespace_of(ns), key)
