"""`stream-sentinel console`: the web console on the configured stack; `console add-user`.

The console binds 127.0.0.1 unless told otherwise, and refuses any other address until users
are configured (``console add-user``), since whoever reaches it could resolve cases.
"""

from __future__ import annotations

import sys

import click

from stream_sentinel.commands.context import CliContext, pass_cli
from stream_sentinel.errors import UsageError

ROLE_NAMES = ["viewer", "analyst", "admin"]


@click.group("console", invoke_without_command=True)
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default 8080).")
@click.pass_context
def console(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the web console (overview, Kafka, schemas, Redis, cases, traces) until Ctrl-C."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve, host=host, port=port)


@console.command("serve")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default 8080).")
@pass_cli
def serve(cli: CliContext, host: str | None, port: int | None) -> None:
    """Serve the console on the configured Kafka, Redis and schema registry."""
    import uvicorn

    from stream_sentinel.clients.backends import RealClients
    from stream_sentinel.console.app import checked_users, create_app
    from stream_sentinel.console.settings import load_console_settings

    explicit = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    console_settings = load_console_settings(None, **explicit)
    users = checked_users(console_settings)  # before the services: a refusal needs none of them
    cli.run_as("console")
    settings = cli.require(kafka=True, redis=True, registry=True)
    app = create_app(RealClients(settings), settings, console_settings, users)
    shown = f"[{console_settings.host}]" if ":" in console_settings.host else console_settings.host
    click.echo(
        f"console: http://{shown}:{console_settings.port}/ on Kafka {settings.kafka.bootstrap}, "
        f"Redis {settings.redis.shown_url}, registry {settings.registry.url}"
    )
    uvicorn.run(app, host=console_settings.host, port=console_settings.port, log_level="warning")


@console.command("add-user")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLE_NAMES), required=True, help="What the user may do.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (one line)."
)
def add_user(name: str, role: str, password_stdin: bool) -> None:
    """Add (or replace) a console user in the users file (SENTINEL_CONSOLE_USERS_FILE)."""
    from stream_sentinel.console.settings import load_console_settings
    from stream_sentinel.console.users import Role, UserBook

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise UsageError("no password given: pipe one line into --password-stdin")
    path = load_console_settings().users_path
    book = UserBook.load(path)
    new = book.add(name, Role[role.upper()], password)
    book.save(path)
    click.echo(f"{'added' if new else 'replaced'} console user {name} ({role}) in {path}")


COMMANDS = [console]
