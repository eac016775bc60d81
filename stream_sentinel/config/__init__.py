"""Typed settings with environment profiles.

Layers, lowest to highest priority: code defaults < the profile (``development``, ``staging``,
``production``, ``test``) < ``SENTINEL_*`` environment variables < explicit overrides (CLI flags).
This is the only package that reads the environment, and even here the environment is
injectable: ``load_settings(environ={...})`` never looks at ``os.environ``.

Every section has its own prefix: ``SENTINEL_KAFKA_BOOTSTRAP``, ``SENTINEL_REDIS_URL``,
``SENTINEL_REGISTRY_URL``, ``SENTINEL_DETECTOR_MAX_BATCH``, ... Structured values (tables) are
given as JSON, e.g. ``SENTINEL_DETECTOR_RULES='{"high_amount_multiple": 8}'``.

>>> settings = load_settings(environ={"SENTINEL_KAFKA_TOPIC_PREFIX": "t-"})
>>> settings.env, topic_name(settings, "transactions")
('development', 't-transactions')

Where things are: ``connections`` (Kafka, Redis, registry), ``planes`` (detector, rules,
alerts), ``infra`` (the local stack), ``settings`` (all sections together), ``profiles``,
``sources`` (how a section reads the profile and the environment), ``loading`` (building settings,
the production gate) and ``reporting`` (rejected values as one-line messages).
"""

from stream_sentinel.config.connections import (
    KafkaSettings,
    RedisSettings,
    RegistrySettings,
    shown_url,
)
from stream_sentinel.config.infra import InfraSettings
from stream_sentinel.config.loading import load_settings, require_production_ready
from stream_sentinel.config.planes import AlertSettings, DetectorSettings, Guarantee, RuleSettings
from stream_sentinel.config.profiles import PROFILE_VALUES, PROFILES, Profile
from stream_sentinel.config.reporting import describe_problem
from stream_sentinel.config.settings import Settings, topic_name

# The name this function had when config was one module (tests import it).
_describe_problem = describe_problem

__all__ = [
    "PROFILES",
    "PROFILE_VALUES",
    "AlertSettings",
    "DetectorSettings",
    "Guarantee",
    "InfraSettings",
    "KafkaSettings",
    "Profile",
    "RedisSettings",
    "RegistrySettings",
    "RuleSettings",
    "Settings",
    "load_settings",
    "require_production_ready",
    "shown_url",
    "topic_name",
]
