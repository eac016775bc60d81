"""`stream-sentinel drift` on the real stack: generated traffic with a spending switch goes
through `detect`, and drift publishes alarms for the drifted feature on drift-events, none
before the switch; a restart of drift keeps its windows."""

from __future__ import annotations

import json
import random
import subprocess
import time
from typing import Any

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.config import Settings
from stream_sentinel.learning.drift.records import DriftRecords
from stream_sentinel.logic.drift.window import HOUR_MS
from stream_sentinel.logic.features import FEATURES
from tests.integration.detector_support import (
    SENTINEL,
    create_topics,
    detect,
    finish,
    produce,
    read_all,
)
from tests.integration.stacks import cli_env

USERS = 300
WATCHED = ("amount", "log_amount", "channel")
SWITCH_HOUR = 6  # amounts x4 from here on
START = (int(time.time() * 1000) // HOUR_MS - 12) * HOUR_MS


def hour_of(ms: int) -> int:
    return (ms - START) // HOUR_MS


def traffic(hours: range, per_hour: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for hour in hours:
        scale = 4.0 if hour >= SWITCH_HOUR else 1.0
        for n in range(per_hour):
            user = f"u{n % USERS:04d}" if per_hour == USERS else f"u{rng.randrange(USERS):04d}"
            records.append(
                {
                    "transaction_id": f"tx-{seed}-{hour}-{n}",
                    "user_id": user,
                    "amount": round(rng.lognormvariate(3.0, 0.8) * scale, 2),
                    "timestamp": START + hour * HOUR_MS + int(HOUR_MS * n / per_hour),
                    "channel": rng.choice(["POS", "ONLINE"]),
                    "merchant_id": f"m{rng.randrange(200):04d}",
                    "device_id": f"d-{user}",
                    "currency": "EUR",
                    "metadata": {},
                }
            )
    return records


def drift_run(settings: Settings) -> str:
    env = cli_env(settings) | {
        "SENTINEL_DRIFT_WARMUP_HOURS": "0",
        "SENTINEL_DRIFT_REFERENCE_HOURS": "3",
        "SENTINEL_DRIFT_LATENESS_S": "0",
        "SENTINEL_DRIFT_EXCLUDED_FEATURES": json.dumps([f for f in FEATURES if f not in WATCHED]),
    }
    process = subprocess.Popen(
        [SENTINEL, "drift", "run", "--until-idle", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return finish(process, timeout_s=60)


def test_a_spending_switch_alarms_on_amounts_after_it_only_and_a_restart_keeps_windows(
    settings: Settings,
) -> None:
    create_topics(settings)
    # hours 0-2: the reference; 3-5 unchanged; 6-7 amounts x4; hour 9: every user once, so
    # every partition of the feature log moves past hour 8
    first = traffic(range(3), 900, seed=1) + traffic(range(3, 6), 300, seed=2)
    produce(settings, first)
    finish(detect(settings, "--until-idle", "3"))
    output = drift_run(settings)
    assert f"rows {len(first):,} read" in output, output
    store = RealClients(settings).state()
    records = DriftRecords(store)
    # hour 5 is still open (no partition has passed it): its counts wait in DB4
    assert [hour_of(c.window_start) for c in records.checks()] == [3, 4]
    second = traffic(range(6, 8), 300, seed=3) + traffic(range(9, 10), USERS, seed=4)
    produce(settings, second)
    finish(detect(settings, "--until-idle", "3"))
    output = drift_run(settings)
    assert f"rows {len(second):,} read" in output, output
    checks = records.checks()
    store.close()
    assert {hour_of(c.window_start): c.window_size for c in checks} == dict.fromkeys(
        range(3, 8), 300
    )
    assert {c.reference_size for c in checks} == {2700}
    events = read_all(settings, "drift-events")
    alarmed = {(hour_of(e["window_start"]), e["monitor"], e["feature"]) for e in events}
    assert {(h, f) for h, m, f in alarmed if m == "feature"} >= {
        (h, f) for h in (6, 7) for f in ("amount", "log_amount")
    }
    assert min(hour for hour, _, _ in alarmed) == SWITCH_HOUR
    assert {e["model_version"] for e in events} == {"rules"}
