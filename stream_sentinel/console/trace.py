"""A transaction's trace: input, score and reasons, alert, actions, label and the user's profile.

Everything comes from what the pipeline records: the records on its topics (read in the key's
partition, newest first, within a bounded window) and the user's profile in Redis. What the
pipeline does not record is named as such: the profile before the transaction (only the current
one is kept). The feature vector the model scored comes from the feature log
(``decision-features``), named by the live feature list when its feature-set hash is the live
one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stream_sentinel.console.messages import BrowsedRecord, BrowseQuery, MessageBrowser
from stream_sentinel.console.profile_view import decode_profile
from stream_sentinel.console.sources import ConsoleSources
from stream_sentinel.logic.feature_set import LIVE_HASH
from stream_sentinel.logic.features import FEATURES
from stream_sentinel.state import keys
from stream_sentinel.state.base import Batch

FEATURE_LOG = "decision-features"
NOT_RECORDED_PROFILE = (
    "the profile as it was before this transaction is not recorded: the current profile is shown"
)
NOT_RECORDED_FEATURES = (
    "no feature-log row found in the newest records of the user's partition of "
    "decision-features (the feature log is off, or the row is older than that window)"
)


@dataclass
class Trace:
    transaction_id: str
    user_id: str | None
    transaction: BrowsedRecord | None = None
    score: BrowsedRecord | None = None
    alert: BrowsedRecord | None = None
    actions: list[BrowsedRecord] = field(default_factory=list)
    feedback: list[BrowsedRecord] = field(default_factory=list)
    features: BrowsedRecord | None = None
    named_features: list[tuple[str, float]] = field(default_factory=list)  # live feature set
    profile: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def one(r: BrowsedRecord | None) -> dict[str, Any] | None:
            return None if r is None else r.as_json()

        return {
            "transaction_id": self.transaction_id,
            "user_id": self.user_id,
            "transaction": one(self.transaction),
            "score": one(self.score),
            "alert": one(self.alert),
            "actions": [a.as_json() for a in self.actions],
            "feedback": [f.as_json() for f in self.feedback],
            "features": one(self.features),
            "named_features": [[name, value] for name, value in self.named_features],
            "profile": self.profile,
            "notes": self.notes,
        }


class Tracer:
    """Finds a transaction's records on every topic of the pipeline."""

    def __init__(self, sources: ConsoleSources, browser: MessageBrowser) -> None:
        self.sources = sources
        self.browser = browser

    def _find(self, logical: str, user_id: str | None, match: str) -> list[BrowsedRecord]:
        name = self.sources.topics.name(logical)
        info = self.sources.admin.describe_topics([name]).get(name)
        if info is None:
            return []
        query = BrowseQuery(limit=self.browser.max_records, key=user_id, field=match)
        return self.browser.browse(name, info.partitions, query)

    def trace(self, transaction_id: str, user_id: str | None = None) -> Trace:
        """The trace of ``transaction_id``; ``user_id`` narrows every read to one partition."""
        found = Trace(transaction_id, user_id)
        match = f"transaction_id={transaction_id}"
        scores = self._find("fraud-scores", user_id, match)
        found.score = scores[0] if scores else None
        if found.user_id is None and found.score is not None and found.score.value:
            found.user_id = str(found.score.value["user_id"])
        user = found.user_id
        transactions = self._find("transactions", user, match)
        found.transaction = transactions[0] if transactions else None
        alerts = self._find("fraud-alerts", user, match)
        found.alert = alerts[0] if alerts else None
        found.actions = self._find("user-actions", user, match)
        found.feedback = self._find("fraud-feedback", user, match)
        features = self._find(FEATURE_LOG, user, match)
        found.features = features[0] if features else None
        if found.features is None:
            found.notes.append(NOT_RECORDED_FEATURES)
        elif found.features.value and found.features.value["feature_set_hash"] == LIVE_HASH:
            found.named_features = list(
                zip(FEATURES, found.features.value["features"], strict=True)
            )
        if user is not None:
            found.profile = self._profile(user)
            found.notes.append(NOT_RECORDED_PROFILE)
        return found

    def _profile(self, user_id: str) -> dict[str, Any] | None:
        [blob] = self.sources.state.execute(Batch().get(keys.PROFILES, keys.user_profile(user_id)))
        return decode_profile(blob)
