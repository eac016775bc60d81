"""Serde throughput: encode and decode records/s, one at a time and in batches.

Run: ``.venv/bin/python benchmarks/bench_serde.py [--records N] [--batch B]``. It measures this
machine; it is not a test and asserts nothing. References: fastavro's bare writer/reader on the
same records (no validation, no framing), the ceiling the serde is built on. Each figure is the
best of three runs.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
from collections.abc import Callable
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.schemas import find
from stream_sentinel.wire.serde import AvroDecoder, AvroEncoder, decoding_schema

CHANNELS = ["ONLINE", "POS", "ATM", "MOBILE", "OTHER"]


def transactions(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Realistic v2 transactions (seeded)."""
    rng = random.Random(seed)
    return [
        {
            "transaction_id": f"tx-{index:010d}",
            "user_id": f"user-{rng.randrange(100_000)}",
            "amount": round(rng.lognormvariate(3.5, 1.0), 2),
            "timestamp": 1_700_000_000_000 + index * 7,
            "currency": "EUR",
            "merchant_id": f"m-{rng.randrange(5_000)}",
            "merchant_category": "grocery",
            "channel": rng.choice(CHANNELS),
            "card_type": "DEBIT",
            "device_id": f"dev-{rng.randrange(200_000)}",
            "ip_address": "203.0.113.7",
            "latitude": rng.uniform(-60, 60),
            "longitude": rng.uniform(-180, 180),
            "merchant_latitude": None,
            "merchant_longitude": None,
            "country": "DE",
            "merchant_country": "DE",
            "metadata": {},
        }
        for index in range(count)
    ]


def rate(action: Callable[[], object], count: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs: the least disturbed by other work on the machine."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return count / best


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    text = find("Transaction", 2).text
    registry = LocalRegistryClient.in_memory()
    encoder = AvroEncoder(registry, "transactions-value", text)
    decoder = AvroDecoder(registry, text)
    records = transactions(args.records)
    encoder.encode(records[0])  # registers the schema outside the timing
    payloads = [encoder.encode(record) for record in records]
    batches = chunks(payloads, args.batch)
    parsed = parse_schema(decoding_schema(json.loads(text)))

    def bare_write() -> None:
        for record in records:
            stream = io.BytesIO()
            schemaless_writer(stream, parsed, record)

    def bare_read() -> None:
        for payload in payloads:
            stream = io.BytesIO(payload)
            stream.seek(5)
            schemaless_reader(stream, parsed, None)

    def each(action: Callable[[Any], object], items: list[Any]) -> Callable[[], None]:
        # Results are dropped as they come, as a consumer loop does (keeping 100k decoded dicts
        # alive would measure the garbage collector instead).
        def run() -> None:
            for item in items:
                action(item)

        return run

    results = [
        ("encode, one at a time (validated)", rate(each(encoder.encode, records), len(records))),
        (
            f"encode_many, batches of {args.batch}",
            rate(each(encoder.encode_many, chunks(records, args.batch)), len(records)),
        ),
        ("decode, one at a time", rate(each(decoder.decode, payloads), len(payloads))),
        (
            f"decode_many, batches of {args.batch}",
            rate(each(decoder.decode_many, batches), len(payloads)),
        ),
        ("reference: fastavro bare write", rate(bare_write, len(records))),
        ("reference: fastavro bare read", rate(bare_read, len(payloads))),
    ]
    size = sum(map(len, payloads)) / len(payloads)
    print(f"Transaction v2, {len(records):,} records, {size:.0f} bytes each on the wire")
    for label, value in results:
        print(f"  {label:<40} {value:>12,.0f} records/s")


if __name__ == "__main__":
    main()
