"""A Redis client for another logical database of the same server: same user, same TLS."""

from __future__ import annotations

from typing import Any, TypeVar

Client = TypeVar("Client", bound=Any)


def on_database(client: Client, db: int) -> Client:
    """``client``'s server and login bound to logical database ``db``. Its pool's connection
    class goes along: over ``rediss://`` it is ``SSLConnection``, and the TLS keyword arguments
    (``ssl_ca_certs``, ...) mean nothing to a plain ``Connection``."""
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs, db=db)
    return type(client)(
        connection_pool=type(pool)(connection_class=pool.connection_class, **kwargs)
    )
