"""`stream-sentinel schema-registry`: serve the schema registry (placeholder: answers GET / only)."""

from __future__ import annotations

import click


@click.command("schema-registry")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8081, show_default=True, type=int, help="Port to listen on.")
def schema_registry(host: str, port: int) -> None:
    """Serve the Confluent-compatible schema registry over HTTP."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/")
    def root() -> dict[str, str]:
        return {}

    uvicorn.run(app, host=host, port=port, log_level="warning")


COMMANDS = [schema_registry]
