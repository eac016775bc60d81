"""Event times as histories write them, to UTC epoch milliseconds."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pytest

from stream_sentinel.backtest.timeparse import (
    TimeSpec,
    parse_origin,
    parse_times,
    parse_timezone,
    resolve_format,
)
from stream_sentinel.errors import UsageError

T0 = 1_546_300_818_000  # 2019-01-01 00:00:18 UTC


@pytest.mark.parametrize(
    "text",
    [
        "2019-01-01 00:00:18",
        "2019-01-01T00:00:18",
        "2019-01-01T00:00:18.000",
        "2019-01-01T00:00:18Z",
        "2019-01-01T01:00:18+01:00",
        "2018-12-31T19:00:18-05:00",
    ],
)
def test_iso_times_in_every_spelling(text: str) -> None:
    ms, bad = parse_times([text], TimeSpec("iso"))
    assert (ms.tolist(), bad) == ([T0], {})


def test_auto_reads_text_as_iso_and_numbers_by_magnitude() -> None:
    assert resolve_format(["2019-01-01 00:00:18"], TimeSpec()) == "iso"
    assert resolve_format(["1546300818"], TimeSpec()) == "epoch-s"
    assert resolve_format(["1546300818000"], TimeSpec()) == "epoch-ms"
    assert resolve_format(["17", "1"], TimeSpec(origin_ms=0)) == "hours"


def test_epoch_seconds_and_milliseconds() -> None:
    assert parse_times(["1546300818", "1546300818.5"], TimeSpec())[0].tolist() == [T0, T0 + 500]
    assert parse_times(["1546300818000"], TimeSpec())[0].tolist() == [T0]


def test_hours_from_an_origin_like_paysim_steps() -> None:
    origin = parse_origin("2024-01-01")
    ms, bad = parse_times(["1", "17", "0.5"], TimeSpec("auto", origin_ms=origin))
    assert ms.tolist() == [origin + 3_600_000, origin + 17 * 3_600_000, origin + 1_800_000]
    assert bad == {}
    assert origin == 1_704_067_200_000


def test_small_numbers_without_an_origin_ask_for_one() -> None:
    with pytest.raises(UsageError, match=r"give --time-origin \(e.g. --time-origin 2024-01-01\)"):
        parse_times(["1", "119"], TimeSpec())


def test_hours_without_an_origin_are_refused() -> None:
    with pytest.raises(UsageError, match="--time-format hours needs --time-origin"):
        TimeSpec("hours")


def test_naive_times_are_in_the_given_zone_with_its_summer_time() -> None:
    paris = parse_timezone("Europe/Paris")
    winter, summer = "2019-01-01 01:00:18", "2019-07-01 02:00:18"
    ms, _ = parse_times([winter, summer], TimeSpec("iso", paris))
    assert ms.tolist() == [T0, 1_561_939_218_000]  # 00:00:18Z (UTC+1), 00:00:18Z (UTC+2)


def test_a_fixed_offset_zone() -> None:
    ms, _ = parse_times(["2019-01-01 05:30:18"], TimeSpec("iso", parse_timezone("+05:30")))
    assert ms.tolist() == [T0]


def test_an_explicit_offset_wins_over_the_zone() -> None:
    ms, _ = parse_times(["2019-01-01T00:00:18Z"], TimeSpec("iso", parse_timezone("+05:30")))
    assert ms.tolist() == [T0]


def test_a_strptime_pattern() -> None:
    ms, bad = parse_times(
        ["01/01/2019 00:00:18", "31/02/2019 00:00:00"], TimeSpec("%d/%m/%Y %H:%M:%S")
    )
    assert ms[0] == T0
    assert bad == {
        1: "timestamp '31/02/2019 00:00:00' is not a time in the format '%d/%m/%Y %H:%M:%S'"
    }


def test_bad_values_are_reported_by_position_and_the_rest_parse() -> None:
    values = ["2019-01-01 00:00:18", "yesterday", "", "20190101", "2019-01-01 00:00:19"]
    ms, bad = parse_times(values, TimeSpec())
    assert bad == {
        1: "timestamp 'yesterday' is not an ISO-8601 time",
        2: "timestamp is empty",
        3: "timestamp '20190101' is not an ISO-8601 time",  # bare digits: not taken as a date
    }
    assert ms[[0, 4]].tolist() == [T0, T0 + 1000]


def test_a_few_bad_values_do_not_change_the_detected_format() -> None:
    values = [str(T0 + i) for i in range(100)]
    values[3] = "yesterday"
    ms, bad = parse_times(values, TimeSpec())
    assert bad == {3: "timestamp 'yesterday' is not epoch milliseconds"}
    assert ms[[0, 99]].tolist() == [T0, T0 + 99]


def test_epoch_milliseconds_are_never_read_as_iso() -> None:
    ms, bad = parse_times(["1733466982278", "2019-01-01 00:00:18"], TimeSpec("iso"))
    assert bad == {0: "timestamp '1733466982278' is not an ISO-8601 time"}
    assert ms[1] == T0


def test_large_columns_parse_in_chunks_with_one_bad_value() -> None:
    values = [str(T0 + i) for i in range(25_000)]
    values[12_345] = "n/a"
    ms, bad = parse_times(values, TimeSpec("epoch-ms"))
    assert bad == {12_345: "timestamp 'n/a' is not epoch milliseconds"}
    expected = np.arange(25_000) + T0
    keep = np.arange(25_000) != 12_345
    assert np.array_equal(ms[keep], expected[keep])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mars/Olympus", "--timezone 'Mars/Olympus' is not a time zone"),
        ("+5", "--timezone '+5': write an offset like +02:00"),
    ],
)
def test_bad_zones(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("+", r"\+")):
        parse_timezone(text)


def test_utc_spellings() -> None:
    assert parse_timezone("UTC") is UTC
    assert parse_timezone("Z") is UTC


def test_an_unknown_format_name() -> None:
    with pytest.raises(UsageError, match="--time-format 'unix': use one of auto, iso"):
        TimeSpec("unix")
