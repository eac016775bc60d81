"""From consumed records to checked transaction columns: the detector's intake.

Most records take the fast path (:mod:`.txwire`, a whole batch decoded field by field); the
rest — another schema, a metadata map of over 64 entries, a corrupt body — go through the generic
decoder, which also names what is wrong. Every record ends up either as a row of the columns,
in input order, or as a rejection with its reason. The checks are vectorised; only rows that
look suspicious are checked one by one, with the same function (and messages) as always.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream_sentinel.config import DetectorSettings
from stream_sentinel.detector.validation import Rejection, check_payload, check_transaction
from stream_sentinel.errors import RegistryError
from stream_sentinel.logic.columns import BatchColumns, stable_hash
from stream_sentinel.logic.features import TxBatch
from stream_sentinel.registry.client import SchemaRegistryClient
from stream_sentinel.transport.base import Record
from stream_sentinel.wire.failures import RecordDecoder
from stream_sentinel.wire.serde import HEADER_SIZE, MAGIC_BYTE, MAX_CACHED_IDS, AvroDecoder
from stream_sentinel.wire.txwire import CHANNELS, Columns, compile_plan, decode_columns

_OTHER = CHANNELS.index("OTHER")
_CARD_PRESENT = (CHANNELS.index("POS"), CHANNELS.index("ATM"))
_FIELDS = (
    "transaction_id",
    "user_id",
    "merchant_id",
    "device_id",
    "amount",
    "timestamp",
    "latitude",
    "longitude",
    "merchant_latitude",
    "merchant_longitude",
)


@dataclass
class Intake:
    """The valid transactions of a batch as columns (row i = records[good[i]]), the rejects."""

    good: list[int]
    rejected: list[tuple[int, Rejection]]
    transaction_id: list[str]
    user_id: list[str]
    merchant_id: list[str | None]
    device_id: list[str | None]
    amount: np.ndarray
    timestamp: np.ndarray
    channel: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    merchant_latitude: np.ndarray
    merchant_longitude: np.ndarray

    def __len__(self) -> int:
        return len(self.good)

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a Transaction-shaped dict (the fields the detector reads)."""
        out: dict[str, Any] = {name: _plain(getattr(self, name)[i], name) for name in _FIELDS}
        out["channel"] = CHANNELS[int(self.channel[i])]
        return out

    def without(self, rows: Sequence[int], rejections: Sequence[Rejection]) -> Intake:
        """This intake with ``rows`` moved to the rejected, each with its rejection."""
        dropped = set(rows)
        keep = [i for i in range(len(self.good)) if i not in dropped]
        rejected = self.rejected + [
            (self.good[row], rejection) for row, rejection in zip(rows, rejections, strict=True)
        ]
        rejected.sort(key=lambda item: item[0])
        picked: dict[str, Any] = {}
        for name in (*_FIELDS, "channel"):
            column = getattr(self, name)
            picked[name] = (
                column[keep] if isinstance(column, np.ndarray) else [column[i] for i in keep]
            )
        return Intake(good=[self.good[i] for i in keep], rejected=rejected, **picked)

    def columns(self) -> BatchColumns:
        """Features' view: users and merchants indexed by first appearance, locations chosen."""
        users: dict[str, int] = {}
        merchants: dict[str, int] = {}
        user_ix = [users.setdefault(u, len(users)) for u in self.user_id]
        merchant_ix = [
            -1 if m is None else merchants.setdefault(m, len(merchants)) for m in self.merchant_id
        ]
        lat, lon = self._locations()
        tx = TxBatch(
            user_ix=np.array(user_ix, dtype=np.int64),
            ts=self.timestamp.astype(np.int64),
            amount=self.amount.astype(np.float64),
            channel=self.channel.astype(np.int8),
            lat=lat,
            lon=lon,
            merchant_hash=np.array([stable_hash(m) for m in self.merchant_id], dtype=np.uint32),
            device_hash=np.array([stable_hash(d) for d in self.device_id], dtype=np.uint32),
            merchant_ix=np.array(merchant_ix, dtype=np.int64),
        )
        return BatchColumns(tx, list(users), list(merchants))

    def _locations(self) -> tuple[np.ndarray, np.ndarray]:
        """Where each payment happened: the terminal for card-present, the customer otherwise."""
        present = np.isin(self.channel, _CARD_PRESENT)
        first_lat = np.where(present, self.merchant_latitude, self.latitude)
        first_lon = np.where(present, self.merchant_longitude, self.longitude)
        other_lat = np.where(present, self.latitude, self.merchant_latitude)
        other_lon = np.where(present, self.longitude, self.merchant_longitude)
        known = np.isfinite(first_lat) & np.isfinite(first_lon)
        return np.where(known, first_lat, other_lat), np.where(known, first_lon, other_lon)


class RowView(Sequence[dict[str, Any]]):
    """The intake's rows as dicts, built on access (for observers such as the demo)."""

    def __init__(self, intake: Intake) -> None:
        self._intake = intake

    def __len__(self) -> int:
        return len(self._intake)

    def __getitem__(self, i: int) -> dict[str, Any]:  # type: ignore[override]
        return self._intake.row(i)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self._intake.row(i) for i in range(len(self._intake)))


class TransactionIntake:
    """Decodes and checks batches of transaction records for one detector."""

    def __init__(
        self, registry: SchemaRegistryClient, decoder: RecordDecoder, settings: DetectorSettings
    ) -> None:
        self._registry = registry
        self._decoder = decoder
        self._settings = settings
        self._plans: dict[int, Any] = {}

    def take(self, records: Sequence[Record], now_ms: int) -> Intake:
        values = [r.value() for r in records]
        rejected: list[tuple[int, Rejection]] = []
        candidates: list[int] = []
        for i, value in enumerate(values):
            rejection = check_payload(value, self._settings)
            if rejection is None:
                candidates.append(i)
            else:
                rejected.append((i, rejection))
        table = self._decode(values, candidates, rejected)
        good = self._check(table, now_ms, rejected)
        rejected.sort(key=lambda item: item[0])
        return _select(table, good, rejected)

    # -- decoding -----------------------------------------------------------------------------
    def _decode(
        self,
        values: list[bytes | None],
        candidates: list[int],
        rejected: list[tuple[int, Rejection]],
    ) -> dict[str, Any]:
        """Columns over ``candidates`` (position -> row), fast path first, then the rest."""
        by_plan: dict[int, list[int]] = {}
        others: list[int] = []
        for i in candidates:
            value = values[i]
            assert value is not None
            plan_id = _schema_id(value)
            if plan_id is not None and self._plan(plan_id) is not None:
                by_plan.setdefault(plan_id, []).append(i)
            else:
                others.append(i)
        parts: list[tuple[list[int], Columns]] = []
        for plan_id, positions in by_plan.items():
            columns, unplanned = decode_columns([values[i] for i in positions], self._plan(plan_id))  # type: ignore[misc]
            parts.append(([positions[r] for r in columns.rows.tolist()], columns))
            others += [positions[r] for r in unplanned.tolist()]
        return self._merge(parts, self._generic(values, sorted(others), rejected))

    def _plan(self, schema_id: int) -> Any:
        """The columnar plan of a writer schema; None sends its records to the generic decoder
        (which reports an unknown id; it is asked again once the decoder forgets the miss)."""
        if schema_id in self._plans:
            return self._plans[schema_id]
        text = self._schema_text(schema_id)
        if text is None:
            return None
        if len(self._plans) >= MAX_CACHED_IDS:
            self._plans.clear()
        plan = self._plans[schema_id] = compile_plan(text)
        return plan

    def _schema_text(self, schema_id: int) -> str | None:
        if isinstance(self._decoder, AvroDecoder):  # its caches: one registry call per id
            return self._decoder.schema_text(schema_id)
        try:
            return self._registry.schema_by_id(schema_id)
        except RegistryError:
            return None

    def _generic(
        self,
        values: list[bytes | None],
        positions: list[int],
        rejected: list[tuple[int, Rejection]],
    ) -> dict[int, dict[str, Any]]:
        if not positions:
            return {}
        decoded, failures = self._decoder.decode_many([values[i] for i in positions])
        for failure in failures:
            rejected.append((positions[failure.index], Rejection(failure.kind, failure.reason)))
        return {p: r for p, r in zip(positions, decoded, strict=True) if r is not None}

    @staticmethod
    def _merge(
        parts: list[tuple[list[int], Columns]], slow: dict[int, dict[str, Any]]
    ) -> dict[str, Any]:
        positions = [p for rows, _ in parts for p in rows] + list(slow)
        order = sorted(range(len(positions)), key=positions.__getitem__)
        table: dict[str, Any] = {"position": [positions[i] for i in order]}
        for name in (*_FIELDS, "channel"):
            merged: list[Any] = []
            for _, columns in parts:
                merged += list(getattr(columns, name))
            merged += [_slow_value(record, name) for record in slow.values()]
            table[name] = [merged[i] for i in order]
        return table

    # -- checking -----------------------------------------------------------------------------
    def _check(
        self, table: dict[str, Any], now_ms: int, rejected: list[tuple[int, Rejection]]
    ) -> np.ndarray:
        """Which rows are valid; the invalid ones join ``rejected`` with their reasons."""
        count = len(table["position"])
        if count == 0:
            return np.zeros(0, dtype=bool)
        suspicious = _suspicious(table, now_ms, self._settings)
        good = np.ones(count, dtype=bool)
        for row in np.flatnonzero(suspicious).tolist():
            record = {name: _plain(table[name][row], name) for name in _FIELDS}
            rejection = check_transaction(record, now_ms, self._settings)
            if rejection is not None:
                good[row] = False
                rejected.append((table["position"][row], rejection))
        return good


def _suspicious(table: dict[str, Any], now_ms: int, settings: DetectorSettings) -> np.ndarray:
    """A superset of the rows check_transaction would reject (cheap, vectorised)."""
    amount = np.asarray(table["amount"], dtype=np.float64)
    stamp = np.asarray(table["timestamp"], dtype=np.float64)
    flags = ~np.isfinite(amount) | (amount < 0) | (amount > settings.max_amount)
    flags |= (stamp <= 0) | (stamp > now_ms + settings.max_future_skew_s * 1000)
    for name, bound in (
        ("latitude", 90.0),
        ("longitude", 180.0),
        ("merchant_latitude", 90.0),
        ("merchant_longitude", 180.0),
    ):
        coordinate = np.asarray(table[name], dtype=np.float64)
        flags |= np.abs(np.nan_to_num(coordinate)) > bound
    flags |= np.array(
        [
            not (t and t.strip()) or not (u and u.strip())
            for t, u in zip(table["transaction_id"], table["user_id"], strict=True)
        ]
    )
    return flags


def _select(
    table: dict[str, Any], good: np.ndarray, rejected: list[tuple[int, Rejection]]
) -> Intake:
    keep = np.flatnonzero(good).tolist()

    def pick(name: str) -> list[Any]:
        column = table[name]
        return [column[i] for i in keep]

    def floats(name: str) -> np.ndarray:
        return np.array(pick(name), dtype=np.float64)

    return Intake(
        good=pick("position"),
        rejected=rejected,
        transaction_id=pick("transaction_id"),
        user_id=pick("user_id"),
        merchant_id=pick("merchant_id"),
        device_id=pick("device_id"),
        amount=floats("amount"),
        timestamp=np.array(pick("timestamp"), dtype=np.int64),
        channel=np.array(pick("channel"), dtype=np.int8),
        latitude=floats("latitude"),
        longitude=floats("longitude"),
        merchant_latitude=floats("merchant_latitude"),
        merchant_longitude=floats("merchant_longitude"),
    )


def _schema_id(value: bytes) -> int | None:
    if len(value) < HEADER_SIZE or value[0] != MAGIC_BYTE:
        return None
    return int.from_bytes(value[1:HEADER_SIZE], "big")


def _slow_value(record: dict[str, Any], name: str) -> Any:
    value = record.get(name)
    if name == "channel":
        return CHANNELS.index(value) if value in CHANNELS else _OTHER
    if value is None and name in (
        "amount",
        "latitude",
        "longitude",
        "merchant_latitude",
        "merchant_longitude",
    ):
        return np.nan
    if value is None and name == "timestamp":
        return 0
    return value


_COORDINATES = frozenset({"latitude", "longitude", "merchant_latitude", "merchant_longitude"})


def _plain(value: Any, name: str) -> Any:
    """numpy scalars as plain Python values (a missing coordinate, NaN here, as None)."""
    if isinstance(value, np.floating | float):
        number = float(value)
        return None if number != number and name in _COORDINATES else number
    if isinstance(value, np.integer):
        return int(value)
    return value
