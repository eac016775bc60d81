"""The secure stack's schema registry users and their roles (pure data).

``reader`` looks schemas up, ``writer`` also registers them, ``admin`` also changes
compatibility and mode. Services that produce may register their records' schemas; the console
only reads.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["reader", "writer", "admin"]

REGISTRY_ROLES: dict[str, Role] = {
    "generator": "writer",
    "detector": "writer",
    "alerts": "writer",
    "learner": "writer",
    "drift": "writer",
    "experiments": "writer",
    "console": "reader",
    "admin": "admin",
}
