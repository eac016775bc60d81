"""Is a decoded transaction fit to score? Pure checks; each failure names its reason.

Bad input never stops the pipeline: a record that fails here goes to `dead-letter` with the
machine-readable ``error_type`` and a human ``reason``, and the batch goes on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stream_sentinel.config import DetectorSettings
from stream_sentinel.wire.failures import EMPTY_VALUE

REQUIRED_IDS = ("transaction_id", "user_id")


@dataclass(frozen=True, slots=True)
class Rejection:
    error_type: str
    reason: str


def check_payload(value: bytes | None, settings: DetectorSettings) -> Rejection | None:
    """Size and presence checks on the raw bytes, before decoding."""
    if not value:  # null or empty: one error type for both
        return Rejection(*EMPTY_VALUE)
    if len(value) > settings.max_payload_bytes:
        return Rejection(
            "payload_too_large",
            f"payload of {len(value)} bytes exceeds the limit of {settings.max_payload_bytes} "
            "(SENTINEL_DETECTOR_MAX_PAYLOAD_BYTES)",
        )
    return None


def check_transaction(
    record: Mapping[str, Any], now_ms: int, settings: DetectorSettings
) -> Rejection | None:
    """Field checks on a decoded transaction: ids, amount, timestamp."""
    for name in REQUIRED_IDS:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            return Rejection("missing_field", f"{name} is missing or empty")
    amount = record.get("amount")
    if not isinstance(amount, int | float) or isinstance(amount, bool):
        return Rejection("missing_field", "amount is missing or not a number")
    if not math.isfinite(amount):
        return Rejection("invalid_amount", f"amount is {amount} (not a finite number)")
    if amount < 0:  # zero is valid: a card verification authorisation, scored like any payment
        return Rejection(
            "invalid_amount", f"amount {amount} is negative (zero, a card check, is fine)"
        )
    if amount > settings.max_amount:
        return Rejection(
            "invalid_amount",
            f"amount {amount} exceeds the maximum {settings.max_amount} "
            "(SENTINEL_DETECTOR_MAX_AMOUNT)",
        )
    timestamp = record.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp <= 0:
        return Rejection("invalid_timestamp", f"timestamp {timestamp!r} is not a positive epoch-ms")
    skew_ms = settings.max_future_skew_s * 1000
    if timestamp > now_ms + skew_ms:
        ahead_s = (timestamp - now_ms) / 1000
        return Rejection(
            "future_timestamp",
            f"timestamp is {ahead_s:.0f} s in the future "
            f"(tolerance {settings.max_future_skew_s:.0f} s)",
        )
    return _check_coordinates(record)


def _check_coordinates(record: Mapping[str, Any]) -> Rejection | None:
    for lat_name, lon_name in (
        ("latitude", "longitude"),
        ("merchant_latitude", "merchant_longitude"),
    ):
        lat, lon = record.get(lat_name), record.get(lon_name)
        if lat is not None and not (isinstance(lat, int | float) and -90.0 <= lat <= 90.0):
            return Rejection("invalid_location", f"{lat_name} {lat} is outside -90..90")
        if lon is not None and not (isinstance(lon, int | float) and -180.0 <= lon <= 180.0):
            return Rejection("invalid_location", f"{lon_name} {lon} is outside -180..180")
    return None
