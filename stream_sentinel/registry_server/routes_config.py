"""``/config``, ``/mode``, ``/contexts`` and ``/v1/metadata`` routes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from stream_sentinel.registry_server.http_support import flag, json_body
from stream_sentinel.registry_server.raw_paths import segment
from stream_sentinel.registry_server.routing import call, core_of

#: What ``GET /v1/metadata/version`` reports (Confluent clients only show it).
SERVER_VERSION = "7.9.0-stream-sentinel"


def add_config_routes(app: FastAPI) -> None:
    @app.get("/config")
    async def global_config(request: Request) -> dict[str, Any]:
        return {"compatibilityLevel": (await call(core_of(request).get_config)).value}

    @app.put("/config")
    async def set_global_config(request: Request) -> dict[str, Any]:
        level = _level_of(await json_body(request))
        return {"compatibility": (await call(core_of(request).set_config, level)).value}

    @app.delete("/config")
    async def delete_global_config(request: Request) -> dict[str, Any]:
        return {"compatibilityLevel": (await call(core_of(request).delete_config)).value}

    @app.get("/config/{subject}")
    async def subject_config(request: Request, subject: str) -> dict[str, Any]:
        core = core_of(request)
        level = await call(core.get_config, segment(subject), flag(request, "defaultToGlobal"))
        return {"compatibilityLevel": level.value}

    @app.put("/config/{subject}")
    async def set_subject_config(request: Request, subject: str) -> dict[str, Any]:
        level = _level_of(await json_body(request))
        core = core_of(request)
        return {"compatibility": (await call(core.set_config, level, segment(subject))).value}

    @app.delete("/config/{subject}")
    async def delete_subject_config(request: Request, subject: str) -> dict[str, Any]:
        level = await call(core_of(request).delete_config, segment(subject))
        return {"compatibilityLevel": level.value}

    _add_mode_routes(app)
    _add_metadata_routes(app)


def _add_mode_routes(app: FastAPI) -> None:
    @app.get("/mode")
    async def get_mode(request: Request) -> dict[str, Any]:
        return {"mode": await call(core_of(request).get_mode)}

    @app.put("/mode")
    async def set_mode(request: Request) -> dict[str, Any]:
        body = await json_body(request)
        mode = await call(core_of(request).set_mode, body.get("mode"), flag(request, "force"))
        return {"mode": mode}

    @app.get("/mode/{subject}")
    async def get_subject_mode(request: Request, subject: str) -> dict[str, Any]:
        core = core_of(request)
        mode = await call(core.get_mode, segment(subject), flag(request, "defaultToGlobal"))
        return {"mode": mode}

    @app.put("/mode/{subject}")
    async def set_subject_mode(request: Request, subject: str) -> dict[str, Any]:
        body = await json_body(request)
        core = core_of(request)
        force = flag(request, "force")
        return {"mode": await call(core.set_mode, body.get("mode"), force, segment(subject))}

    @app.delete("/mode/{subject}")
    async def delete_subject_mode(request: Request, subject: str) -> dict[str, Any]:
        return {"mode": await call(core_of(request).delete_mode, segment(subject))}


def _add_metadata_routes(app: FastAPI) -> None:
    @app.get("/contexts")
    async def contexts() -> list[str]:
        return ["."]  # the default context: this registry has no others

    @app.get("/v1/metadata/id")
    async def cluster_id() -> dict[str, Any]:
        clusters = {"kafka-cluster": "", "schema-registry-cluster": "schema-registry"}
        return {"scope": {"path": [], "clusters": clusters}}

    @app.get("/v1/metadata/version")
    async def server_version() -> dict[str, Any]:
        return {"version": SERVER_VERSION, "commitId": ""}


def _level_of(body: dict[str, Any]) -> Any:
    # Confluent's clients send "compatibility"; some tools send "compatibilityLevel".
    return body.get("compatibility", body.get("compatibilityLevel"))
