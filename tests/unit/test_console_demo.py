"""The demo serves the console over its own backends; its flags are checked first."""

from __future__ import annotations

import httpx
import pytest
from rich.console import Console

from stream_sentinel.clients.backends import EmbeddedClients
from stream_sentinel.config import load_settings
from stream_sentinel.demo.console import demo_console
from stream_sentinel.demo.options import DemoOptions
from stream_sentinel.errors import UsageError
from stream_sentinel.transport.topics import Topics

pytestmark = pytest.mark.unit


def test_the_demo_console_serves_the_runs_backends_and_prints_its_url() -> None:
    clients = EmbeddedClients()
    clients.admin().create_topics(Topics().specs())
    console = Console(record=True, width=120)
    settings = load_settings("test", environ={})
    with demo_console(DemoOptions(console_port=0), clients, settings, console) as url:
        assert url is not None and url.startswith("http://127.0.0.1:")
        reply = httpx.get(f"{url}api/kafka", timeout=10)
        assert reply.status_code == 200
        assert reply.json()["cluster"]["cluster_id"] == "embedded"
    assert console.export_text() == f"console: {url}\n"


def test_without_a_port_the_demo_serves_no_console() -> None:
    console = Console(record=True)
    settings = load_settings("test", environ={})
    with demo_console(DemoOptions(), EmbeddedClients(), settings, console) as url:
        assert url is None
    assert console.export_text() == ""


def test_keep_open_needs_a_console() -> None:
    with pytest.raises(UsageError, match="--keep-open keeps the console open: give --console-port"):
        DemoOptions(keep_open=True).validate()
    DemoOptions(console_port=0, keep_open=True).validate()
