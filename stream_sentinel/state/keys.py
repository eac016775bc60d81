"""Key patterns in the state store (the seed's names stay recognisable).

Namespace (logical DB) and key for everything the detector and the alert processor share.
User keys are per user; control state is one sorted set per kind, scored by expiry time.
"""

from __future__ import annotations

from stream_sentinel.state.base import Namespace

PROFILES = Namespace.PROFILES
PIPELINE = Namespace.PIPELINE
FEEDBACK = Namespace.FEEDBACK

#: Control state written by the alert processor, read by the detector: member = user_id,
#: score = expiry time in epoch ms (checked on read; no TTL, so eviction can never unblock).
BLOCKED = "control:blocked"
STEP_UP = "control:step_up"
WATCH = "control:watch"
CONTROL_SETS = (BLOCKED, STEP_UP, WATCH)

DEAD_LETTER_COUNTS = "stats:dead_letters"  # hash: reason -> count


def user_profile(user_id: str) -> str:
    """The user's behavioural profile (a fixed-size binary record, see profile.py)."""
    return f"user:{user_id}"


def merchant(merchant_id: str) -> str:
    """Per-merchant day counters: n:{day} volume, f:{day} fraud labels, l:{day} labels."""
    return f"merchant:{merchant_id}"


def user_alerts(user_id: str) -> str:
    """The seed's alerts:{user_id}: a capped list of the user's recent alerts."""
    return f"alerts:{user_id}"


def watermark(group_id: str, topic: str) -> str:
    """Offset watermarks of one group on one topic (hash field = partition number)."""
    return f"wm:{group_id}:{topic}"


def seen_transactions(group_id: str, topic: str, partition: int) -> str:
    """The hashed ids of a partition's recent transactions (a list of per-batch chunks)."""
    return f"seen:{group_id}:{topic}:{partition}"


def feedback(transaction_id: str) -> str:
    """The label received for one transaction (the learning plane's feedback store)."""
    return f"feedback:{transaction_id}"


def worker_status(group_id: str, worker: str) -> str:
    """A worker's heartbeat: records, last commit time, batch sizes (for `status`)."""
    return f"status:{group_id}:{worker}"


# -- the alert processor (alerts/) -------------------------------------------------------------
#: Alert records to sweep once past retention: member = alert_id, score = alert or close time.
#: Records with an open case are not indexed until the case is resolved (they are never swept).
ALERT_RECORD_INDEX = "index:alert_records"
ALERT_COUNTS = "stats:alerts"  # hash: "alerts:{SEVERITY}", "{TIER}:{ACTION}", ... -> count
ALERT_SLA = "stats:alert_sla"  # hash: "{TIER}:actions|missed|latency_ms|le:{ms}" -> count


def alert_record(alert_id: str) -> str:
    """One processed alert (hash): its transaction, user, tier, actions and case; the marker
    that makes a re-delivered alert a no-op."""
    return f"alert:{alert_id}"


def case_queue(tier_name: str) -> str:
    """Open cases of one tier (sorted set): member = alert_id, score = alert time (oldest first)."""
    return f"cases:{tier_name}"
