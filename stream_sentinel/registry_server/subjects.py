"""Which subject names the registry accepts for a write, as Confluent's registry decides.

Confluent (``QualifiedSubject.isValidSubject``) refuses names with an ISO control character
(U+0000-U+001F, U+007F-U+009F: Unicode's ``Cc``) and its reserved names. Everything else is a
legal name, ``/``, ``%``, spaces, ``..`` and any other Unicode included.
"""

from __future__ import annotations

import unicodedata

from stream_sentinel.registry_server import errors

RESERVED = ("__GLOBAL", "__EMPTY")


def require_valid_subject(subject: str) -> None:
    """RegistryError 42208 saying what is wrong with ``subject``, if anything."""
    if not subject:
        # Confluent still takes one, for backward compatibility; no route here can send one.
        raise errors.invalid_subject(subject, "a subject name must not be empty")
    if subject in RESERVED:
        raise errors.invalid_subject(subject, f"{subject} is reserved by the registry")
    for position, character in enumerate(subject):
        if unicodedata.category(character) == "Cc":
            raise errors.invalid_subject(
                subject,
                f"it contains the control character U+{ord(character):04X} at position "
                f"{position}; subject names must not contain control characters",
            )
