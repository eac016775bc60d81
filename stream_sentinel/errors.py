"""One root exception and specific subclasses. Messages tell the user what to do next."""

from __future__ import annotations


class SentinelError(Exception):
    """Root of every error Stream-Sentinel raises on purpose."""


class ConfigError(SentinelError):
    """Settings are missing or inconsistent (e.g. production without SASL credentials)."""


class UsageError(SentinelError):
    """A command was given input it cannot use; the message says how to fix it."""


class ServiceUnavailable(SentinelError):
    """Kafka, Redis or the schema registry could not be reached (after retries)."""


class InfraError(SentinelError):
    """The local stack could not be installed, started or stopped."""


class TransportError(SentinelError):
    """A broker operation failed; ``retriable`` False when trying again cannot help (a record
    larger than the broker takes, say)."""

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


class UnpublishableBatch(TransportError):
    """A batch's outputs were refused by the broker again and again for a reason that retrying
    cannot fix; the consumer stops rather than skip the batch or loop on it for ever."""


class ProducerFenced(TransportError):
    """Another producer with the same transactional id took over; this one must stop."""


class ProducerFatal(TransportError):
    """This producer instance is beyond use (librdkafka's fatal error, e.g. INVALID_TXN_STATE
    after a broker restart) but nobody took over its transactional id: a new producer settles
    its open transaction, and the batch is read again."""


class TransactionAborted(TransportError):
    """The current transaction could not commit and was (or must be) aborted; retry the batch."""


class StateError(SentinelError):
    """A state-store operation failed."""


class SchemaError(SentinelError):
    """A schema is invalid, unknown, or incompatible."""


class SerializationError(SentinelError):
    """A record could not be encoded (it does not conform to its schema) or decoded."""


class RegistryError(SentinelError):
    """The schema registry answered with an error; ``error_code`` is Confluent's code."""

    def __init__(self, message: str, error_code: int = 50001, http_status: int = 500) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.http_status = http_status


class ModelError(SentinelError):
    """A model artifact is missing, unreadable or does not match the feature set."""


class ArtifactCorrupt(ModelError):
    """A stored or imported model artifact does not match its recorded sha256 or size."""


class AliasUnchanged(UsageError):
    """An alias move that would not change anything (the alias already points there)."""
