"""The HTTP registry client (httpx): ours or Confluent's Schema Registry, only the URL changes.

Schemas by id are cached (ids are immutable); so are this process's registrations. Errors carry
the registry's ``error_code``; an unreachable registry raises ServiceUnavailable.
"""

from __future__ import annotations

import json
import ssl
import threading
from typing import Any
from urllib.parse import quote

import httpx

from stream_sentinel.config import RegistrySettings, shown_url
from stream_sentinel.errors import RegistryError, ServiceUnavailable
from stream_sentinel.registry.client import LATEST, CompatibilityVerdict, RegisteredSchema

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
_ACCEPT = f"{MEDIA_TYPE}, application/vnd.schemaregistry+json, application/json"


def _path(subject: str) -> str:
    return quote(subject, safe="")


def _trust(ca_location: str | None) -> ssl.SSLContext | bool:
    """The system's CAs, or only ``ca_location`` (a PEM file) when one is configured."""
    return True if ca_location is None else ssl.create_default_context(cafile=ca_location)


class HttpRegistryClient:
    """:class:`~stream_sentinel.registry.client.SchemaRegistryClient` over REST."""

    def __init__(self, settings: RegistrySettings, transport: httpx.BaseTransport | None = None):
        auth = None
        if settings.username:
            secret = settings.login_password()
            password = secret.get_secret_value() if secret else ""
            auth = httpx.BasicAuth(settings.username, password)
        self.url = settings.url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            auth=auth,
            verify=_trust(settings.ssl_ca_location),
            timeout=settings.timeout_s,
            headers={"Accept": _ACCEPT},
            transport=transport,
        )
        self._schemas: dict[int, str] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": MEDIA_TYPE} if body is not None else None
        query = {key: value for key, value in params.items() if value is not None}
        try:
            response = self._http.request(
                method, path, content=content, headers=headers, params=query
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"schema registry at {shown_url(self.url)} is unreachable ({exc}); is it running? "
                "(stream-sentinel infra up, or set SENTINEL_REGISTRY_URL)"
            ) from exc
        if response.is_success:
            return response.json() if response.content else None
        raise _error_of(response)

    def register(self, subject: str, schema: str) -> int:
        cached = self._ids.get((subject, schema))
        if cached is not None:
            return cached
        answer = self._request("POST", f"/subjects/{_path(subject)}/versions", {"schema": schema})
        schema_id = int(answer["id"])
        with self._lock:
            self._ids[(subject, schema)] = schema_id
        return schema_id

    def lookup(self, subject: str, schema: str) -> RegisteredSchema:
        answer = self._request("POST", f"/subjects/{_path(subject)}", {"schema": schema})
        return _registered(answer)

    def schema_by_id(self, schema_id: int) -> str:
        cached = self._schemas.get(schema_id)
        if cached is None:
            cached = str(self._request("GET", f"/schemas/ids/{schema_id}")["schema"])
            with self._lock:
                self._schemas[schema_id] = cached
        return cached

    def get_version(self, subject: str, version: int | str = LATEST) -> RegisteredSchema:
        return _registered(self._request("GET", f"/subjects/{_path(subject)}/versions/{version}"))

    def subjects(self) -> list[str]:
        return sorted(self._request("GET", "/subjects"))

    def versions(self, subject: str) -> list[int]:
        return list(self._request("GET", f"/subjects/{_path(subject)}/versions"))

    def check_compatibility(
        self, subject: str, schema: str, version: int | str | None = None
    ) -> CompatibilityVerdict:
        path = f"/compatibility/subjects/{_path(subject)}/versions"
        if version is not None:
            path += f"/{version}"
        answer = self._request("POST", path, {"schema": schema}, verbose="true")
        return CompatibilityVerdict(
            bool(answer["is_compatible"]), tuple(answer.get("messages") or ())
        )

    def get_compatibility(self, subject: str | None = None) -> str:
        if subject is None:
            return str(self._request("GET", "/config")["compatibilityLevel"])
        path = f"/config/{_path(subject)}"
        return str(self._request("GET", path, defaultToGlobal="true")["compatibilityLevel"])

    def set_compatibility(self, level: str, subject: str | None = None) -> str:
        path = "/config" if subject is None else f"/config/{_path(subject)}"
        return str(self._request("PUT", path, {"compatibility": level.upper()})["compatibility"])

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        flag = "true" if permanent else None
        return list(self._request("DELETE", f"/subjects/{_path(subject)}", permanent=flag))

    def close(self) -> None:
        self._http.close()


def _registered(answer: dict[str, Any]) -> RegisteredSchema:
    return RegisteredSchema(
        subject=str(answer["subject"]),
        version=int(answer["version"]),
        schema_id=int(answer["id"]),
        schema=str(answer["schema"]),
        schema_type=str(answer.get("schemaType") or "AVRO"),
    )


def _error_of(response: httpx.Response) -> RegistryError:
    try:
        body = response.json()
        return RegistryError(str(body["message"]), int(body["error_code"]), response.status_code)
    except (ValueError, KeyError, TypeError):
        text = response.text[:200]
        return RegistryError(
            f"registry answered HTTP {response.status_code}: {text}",
            response.status_code,
            response.status_code,
        )
