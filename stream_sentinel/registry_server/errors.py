"""Confluent Schema Registry's error codes and messages, as RegistryError values.

Clients (Confluent's among them) branch on ``error_code``, so the codes and HTTP statuses follow
Confluent's registry exactly; the messages follow its wording where clients show them to people.
"""

from __future__ import annotations

from stream_sentinel.errors import RegistryError

SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
SUBJECT_SOFT_DELETED = 40404
SUBJECT_NOT_SOFT_DELETED = 40405
VERSION_SOFT_DELETED = 40406
VERSION_NOT_SOFT_DELETED = 40407
SUBJECT_CONFIG_NOT_FOUND = 40408
SUBJECT_MODE_NOT_FOUND = 40409
INCOMPATIBLE = 409
INVALID_SCHEMA = 42201
INVALID_VERSION = 42202
INVALID_COMPATIBILITY = 42203
INVALID_MODE = 42204
NOT_PERMITTED = 42205
REFERENCE_EXISTS = 42206
INVALID_SUBJECT = 42208
SCHEMA_TOO_LARGE = 42209
BAD_REQUEST = 400
NOT_ACCEPTABLE = 406
UNSUPPORTED_MEDIA_TYPE = 415
STORE_ERROR = 50001
OPERATION_TIMEOUT = 50002
FORWARDING_FAILED = 50003
UNKNOWN_LEADER = 50004


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(f"Subject '{subject}' not found.", SUBJECT_NOT_FOUND, 404)


def version_not_found(version: int | str) -> RegistryError:
    return RegistryError(f"Version {version} not found.", VERSION_NOT_FOUND, 404)


def schema_not_found(schema_id: int | None = None) -> RegistryError:
    text = "Schema not found" if schema_id is None else f"Schema {schema_id} not found"
    return RegistryError(text, SCHEMA_NOT_FOUND, 404)


def subject_soft_deleted(subject: str) -> RegistryError:
    return RegistryError(
        f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently",
        SUBJECT_SOFT_DELETED,
        404,
    )


def subject_not_soft_deleted(subject: str) -> RegistryError:
    return RegistryError(
        f"Subject '{subject}' was not deleted first before being permanently deleted",
        SUBJECT_NOT_SOFT_DELETED,
        404,
    )


def version_soft_deleted(subject: str, version: int) -> RegistryError:
    return RegistryError(
        f"Subject '{subject}' Version {version} was soft deleted. "
        "Set permanent=true to delete permanently",
        VERSION_SOFT_DELETED,
        404,
    )


def version_not_soft_deleted(subject: str, version: int) -> RegistryError:
    return RegistryError(
        f"Subject '{subject}' Version {version} was not deleted first before being "
        "permanently deleted",
        VERSION_NOT_SOFT_DELETED,
        404,
    )


def subject_config_not_found(subject: str) -> RegistryError:
    return RegistryError(
        f"Subject '{subject}' does not have subject-level compatibility configured",
        SUBJECT_CONFIG_NOT_FOUND,
        404,
    )


def subject_mode_not_found(subject: str) -> RegistryError:
    return RegistryError(
        f"Subject '{subject}' does not have subject-level mode configured",
        SUBJECT_MODE_NOT_FOUND,
        404,
    )


def reference_exists(subject: str, version: int) -> RegistryError:
    return RegistryError(
        "One or more references exist to the schema "
        f"{{magic=1,keytype=SCHEMA,subject={subject},version={version}}}.",
        REFERENCE_EXISTS,
        422,
    )


def reference_not_found(subject: str, version: int) -> RegistryError:
    return invalid_schema(
        f"the reference to subject '{subject}' version {version} does not exist; register "
        "the referenced schema first"
    )


def incompatible(subject: str, details: list[str]) -> RegistryError:
    return RegistryError(
        "Schema being registered is incompatible with an earlier schema for subject "
        f'"{subject}", details: [{", ".join(details)}]',
        INCOMPATIBLE,
        409,
    )


def invalid_schema(reason: str) -> RegistryError:
    return RegistryError(f"Invalid schema: {reason}", INVALID_SCHEMA, 422)


def empty_schema() -> RegistryError:
    """Confluent's wording for a missing or blank ``schema`` field."""
    return RegistryError("Empty schema", INVALID_SCHEMA, 422)


def invalid_version(version: object) -> RegistryError:
    return RegistryError(
        f"The specified version '{version}' is not a valid version id. "
        'Allowed values are between [1, 2^31-1] and the string "latest"',
        INVALID_VERSION,
        422,
    )


def invalid_compatibility(level: object) -> RegistryError:
    return RegistryError(
        "Invalid compatibility level. Valid values are none, backward, forward, full, "
        "backward_transitive, forward_transitive, and full_transitive",
        INVALID_COMPATIBILITY,
        422,
    )


def invalid_mode(mode: object) -> RegistryError:
    return RegistryError(
        f"Invalid mode {mode!r}. Valid values are READWRITE, READONLY, READONLY_OVERRIDE "
        "and IMPORT",
        INVALID_MODE,
        422,
    )


def invalid_subject(subject: str, reason: str) -> RegistryError:
    return RegistryError(
        f"The specified subject {subject!r} is not valid: {reason}", INVALID_SUBJECT, 422
    )


def schema_too_large(reason: str) -> RegistryError:
    # Confluent sends 42209 with HTTP 500; the fault is the client's schema, so 4xx (as Karapace).
    return RegistryError(
        f"Register operation failed because schema is too large: {reason}", SCHEMA_TOO_LARGE, 422
    )


def not_permitted(reason: str) -> RegistryError:
    return RegistryError(reason, NOT_PERMITTED, 422)


def unprocessable(reason: str) -> RegistryError:
    """A request body that is JSON but not the expected shape (Confluent's generic 422)."""
    return RegistryError(reason, 422, 422)


def bad_request(reason: str) -> RegistryError:
    """A request body that cannot be read as JSON (Confluent's JSON parse errors: 400)."""
    return RegistryError(reason, BAD_REQUEST, 400)


def unsupported_media_type(content_type: str, accepted: tuple[str, ...]) -> RegistryError:
    return RegistryError(
        f"HTTP 415 Unsupported Media Type: a request body of type {content_type!r} is not "
        f"accepted; send JSON as one of {', '.join(accepted)}",
        UNSUPPORTED_MEDIA_TYPE,
        415,
    )


def not_acceptable(accept: str, offered: tuple[str, ...]) -> RegistryError:
    return RegistryError(
        f"HTTP 406 Not Acceptable: no response type in Accept {accept!r} is served; ask for one "
        f"of {', '.join(offered)}",
        NOT_ACCEPTABLE,
        406,
    )


def store_error(reason: str) -> RegistryError:
    return RegistryError(f"Error in the backend datastore: {reason}", STORE_ERROR, 500)


def operation_timeout(reason: str) -> RegistryError:
    return RegistryError(f"Operation timed out: {reason}", OPERATION_TIMEOUT, 500)


def forwarding_failed(reason: str) -> RegistryError:
    return RegistryError(
        f"Error while forwarding the request to the leader: {reason}", FORWARDING_FAILED, 500
    )


def unknown_leader(reason: str) -> RegistryError:
    return RegistryError(f"Unknown leader: {reason}", UNKNOWN_LEADER, 500)
