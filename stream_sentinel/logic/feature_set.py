"""The identity of a feature matrix's columns: its ordered names and encoding, hashed.

Two matrices whose feature sets hash alike read the same columns in the same order, so a model
trained on one scores the other. The detector stamps every feature-log row with the live set's
hash (:data:`LIVE_HASH`); the model registry records the same hash with every version.

>>> feature_set_hash(("amount", "velocity_1h")) == feature_set_hash(["amount", "velocity_1h"])
True
>>> len(LIVE_HASH), feature_set_hash(("a", "b")) != feature_set_hash(("b", "a"))
(16, True)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from stream_sentinel.logic.features import FEATURES

#: The name of the live feature set (:data:`~stream_sentinel.logic.features.FEATURES`).
LIVE = "live"
#: How every feature is encoded in the matrix (and in the feature log).
ENCODING = "float64"


def feature_set_hash(features: Sequence[str], encoding: str = ENCODING) -> str:
    """16 hex digits of the sha256 of the ordered names and their encoding."""
    canonical = json.dumps({"features": list(features), "encoding": encoding})
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


#: The hash of the live feature set.
LIVE_HASH = feature_set_hash(FEATURES)
