"""An idle consumer whose broker stays away ends past the outage limit; a short outage does not."""

from __future__ import annotations

import pytest

from stream_sentinel.errors import TransportError
from stream_sentinel.stream.running import BrokerOutage

pytestmark = pytest.mark.unit


class Broker:
    def __init__(self) -> None:
        self.up = True
        self.probes = 0
        self.now = 0.0

    def probe(self) -> bool:
        self.probes += 1
        return self.up

    def outage(self, limit_s: float) -> BrokerOutage:
        return BrokerOutage(self.probe, limit_s, monotonic=lambda: self.now, every_s=5.0)


def test_an_outage_past_the_limit_ends_the_run_with_how_long_it_lasted() -> None:
    broker = Broker()
    outage = broker.outage(limit_s=30.0)
    broker.up = False
    for second in range(0, 30):
        broker.now = float(second)
        outage.idle()
    assert broker.probes == 6  # once every five seconds, not on every idle poll
    broker.now = 30.0
    with pytest.raises(TransportError) as ended:
        outage.idle()
    assert str(ended.value) == (
        "unreachable for 30 s, the outage limit (SENTINEL_KAFKA_OUTAGE_LIMIT_S)"
    )


def test_a_broker_that_comes_back_or_records_that_arrive_reset_the_count() -> None:
    broker = Broker()
    outage = broker.outage(limit_s=12.0)
    broker.up = False
    for second in (0.0, 5.0, 10.0):
        broker.now = second
        outage.idle()
    broker.up, broker.now = True, 15.0
    outage.idle()  # back: the next outage starts from zero
    broker.up = False
    for second in (20.0, 25.0, 30.0):
        broker.now = second
        outage.idle()  # 10 s down < 12 s: still retrying
    outage.busy()
    broker.now = 35.0
    outage.idle()
    broker.now = 40.0
    outage.idle()  # 5 s since the records: no error
    assert broker.probes == 9
