"""The demo's console: served on 127.0.0.1 over the run's own backends while the demo runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from stream_sentinel.clients.backends import ClientFactory
from stream_sentinel.config import Settings
from stream_sentinel.demo.options import DemoOptions

HOST = "127.0.0.1"


@contextmanager
def demo_console(
    options: DemoOptions, clients: ClientFactory, settings: Settings, console: Console
) -> Iterator[str | None]:
    """The console's URL while the block runs (None when the run serves no console)."""
    if options.console_port is None:
        yield None
        return
    from stream_sentinel.console.app import create_app
    from stream_sentinel.console.serving import serving
    from stream_sentinel.console.settings import load_console_settings
    from stream_sentinel.console.users import UserBook

    console_settings = load_console_settings(None, host=HOST, port=options.console_port)
    app = create_app(
        clients, settings, console_settings, UserBook.load(console_settings.users_path)
    )
    with serving(app, HOST, options.console_port) as url:
        console.print(f"console: {url}", highlight=False, style="bold")
        yield url


def wait_for_interrupt(console: Console) -> None:
    """Keep the process (and its console) up until Ctrl-C."""
    console.print("the console stays open: Ctrl-C ends the demo", highlight=False)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print("demo ended", highlight=False)
