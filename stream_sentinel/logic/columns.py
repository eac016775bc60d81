"""Transaction records (dicts, as decoded) to the columns the feature code works on."""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream_sentinel.domain import Channel
from stream_sentinel.logic.features import TxBatch

CHANNEL_CODES = {channel.value: code for code, channel in enumerate(Channel)}
_OTHER = CHANNEL_CODES[Channel.OTHER.value]
_CARD_PRESENT = {CHANNEL_CODES["POS"], CHANNEL_CODES["ATM"]}


def stable_hash(text: str | None) -> int:
    """A 32-bit hash that is the same in every process (0 is reserved for 'none')."""
    if not text:
        return 0
    return zlib.crc32(text.encode()) or 1


@dataclass(slots=True)
class BatchColumns:
    """A batch as columns plus the distinct users and merchants it mentions."""

    tx: TxBatch
    users: list[str]
    merchants: list[str]


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def to_columns(records: Sequence[Mapping[str, Any]]) -> BatchColumns:
    """Columns of ``records`` in order; users and merchants indexed by first appearance."""
    users: dict[str, int] = {}
    merchants: dict[str, int] = {}
    user_ix = [users.setdefault(r["user_id"], len(users)) for r in records]
    merchant_ids = [r.get("merchant_id") for r in records]
    merchant_ix = [
        -1 if m is None else merchants.setdefault(m, len(merchants)) for m in merchant_ids
    ]
    channel = [CHANNEL_CODES.get(r.get("channel") or "OTHER", _OTHER) for r in records]
    lat, lon = _locations(records, channel)
    tx = TxBatch(
        user_ix=np.array(user_ix, dtype=np.int64),
        ts=np.array([r["timestamp"] for r in records], dtype=np.int64),
        amount=np.array([r["amount"] for r in records], dtype=np.float64),
        channel=np.array(channel, dtype=np.int8),
        lat=np.array(lat, dtype=np.float64),
        lon=np.array(lon, dtype=np.float64),
        merchant_hash=np.array([stable_hash(m) for m in merchant_ids], dtype=np.uint32),
        device_hash=np.array([stable_hash(r.get("device_id")) for r in records], dtype=np.uint32),
        merchant_ix=np.array(merchant_ix, dtype=np.int64),
    )
    return BatchColumns(tx, list(users), list(merchants))


def _locations(
    records: Sequence[Mapping[str, Any]], channel: list[int]
) -> tuple[list[float], list[float]]:
    """Where each payment happened: the terminal for card-present, the customer otherwise."""
    lat, lon = [], []
    for record, code in zip(records, channel, strict=True):
        first, second = ("merchant_", "") if code in _CARD_PRESENT else ("", "merchant_")
        la, lo = record.get(first + "latitude"), record.get(first + "longitude")
        if la is None or lo is None:
            la, lo = record.get(second + "latitude"), record.get(second + "longitude")
        lat.append(_float(la))
        lon.append(_float(lo))
    return lat, lon
