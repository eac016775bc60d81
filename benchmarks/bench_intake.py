"""The detector's intake: what checking untrusted input costs per record.

Run: ``.venv/bin/python benchmarks/bench_intake.py [--records N] [--batch B]``. It measures this
machine; it is not a test and asserts nothing. Each figure is the best of three runs:

- the columnar fast path (plain Transaction v2 records: how almost every record arrives);
- records with a non-empty metadata map (the columnar path walks string maps too);
- the generic path (a writer schema with a field kind the columnar plan does not walk: an
  ``int``), with and without the bounds walk that runs before fastavro (schemas/bounds.py):
  the price of never crashing on hostile bytes;
- the duplicate check's id hashing and set lookups (detector/dedup.py).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from benchmarks.bench_serde import chunks, transactions
from stream_sentinel.config import load_settings
from stream_sentinel.detector.dedup import SeenTransactions, id_hash
from stream_sentinel.detector.intake import TransactionIntake
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.state.memory import MemoryStateStore
from stream_sentinel.transport.memory_log import MemoryRecord
from stream_sentinel.wire.schemas import bounds, find
from stream_sentinel.wire.serde import AvroDecoder, AvroEncoder


def rate(action: Callable[[], object], count: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    registry = LocalRegistryClient.in_memory()
    v2 = find("Transaction", 2).text
    v3 = find("Transaction", 2).json
    v3["fields"].append({"name": "risk_hint", "type": "int", "default": 0})
    encode = AvroEncoder(registry, "transactions-value", v2)
    encode_v3 = AvroEncoder(registry, "transactions-value", json.dumps(v3))
    plain = [{**t, "metadata": {}} for t in transactions(args.records)]
    tagged = [{**t, "metadata": {"mcc": "5411", "campaign": "x"}} for t in plain]
    hinted = [{**t, "risk_hint": 3} for t in plain]
    settings = load_settings("test", environ={}).detector
    now = 1_800_000_000_000

    def batches(
        records: list[dict[str, object]], writer: AvroEncoder = encode
    ) -> list[list[MemoryRecord]]:
        framed = [MemoryRecord("t", 0, i, b"u", writer(r), 1, None) for i, r in enumerate(records)]
        return chunks(framed, args.batch)

    def take(groups: list[list[MemoryRecord]]) -> Callable[[], None]:
        intake = TransactionIntake(registry, AvroDecoder(registry, v2), settings)
        return lambda: [intake.take(group, now) for group in groups]

    fast, mapped, generic = batches(plain), batches(tagged), batches(hinted, encode_v3)
    rows = [
        ("intake, columnar fast path", rate(take(fast), args.records)),
        ("intake, columnar path, 2 metadata entries", rate(take(mapped), args.records)),
        ("intake, generic path (bounds walk + fastavro)", rate(take(generic), args.records)),
    ]
    walk = bounds.BoundsCheck.problem
    bounds.BoundsCheck.problem = lambda self, data, start: None  # type: ignore[method-assign]
    rows.append(("intake, generic path without the bounds walk", rate(take(generic), args.records)))
    bounds.BoundsCheck.problem = walk  # type: ignore[method-assign]
    ids = [str(t["transaction_id"]) for t in plain]
    rows.append(("duplicate check: hash ids", rate(lambda: [id_hash(i) for i in ids], len(ids))))
    seen = SeenTransactions(MemoryStateStore(), "g", "t", window=50_000)
    seen.load([0])
    seen.remember(0, [(id_hash(i), n) for n, i in enumerate(ids[:50_000])])
    hashes = [id_hash(i) for i in ids]
    parts, applies = [0] * len(hashes), [True] * len(hashes)
    offsets = list(range(50_000, 50_000 + len(hashes)))

    def look_up() -> None:
        seen.duplicates(parts, offsets, hashes, applies)

    rows.append(("duplicate check: look up", rate(look_up, len(hashes))))
    print(f"{args.records:,} Transaction v2 records in batches of {args.batch}")
    for name, value in rows:
        print(f"  {name:<48} {value:>12,.0f} records/s")


if __name__ == "__main__":
    main()
