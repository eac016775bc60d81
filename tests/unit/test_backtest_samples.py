"""Mapping and time parsing on public fraud datasets nobody here designed (../shared/datasets).

The files are read where they are, never copied into the repository. Without the datasets folder
these tests skip and say where it was expected; with it (CI has it), a missing sample fails.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from stream_sentinel.backtest.ingest import Loaded, load_history
from stream_sentinel.backtest.mapping import ColumnMap
from stream_sentinel.backtest.timeparse import TimeSpec, parse_origin
from stream_sentinel.errors import UsageError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
SPARKOV = DATASETS / "sparkov"
PAYSIM = DATASETS / "paysim" / "paysim_sample_51k.csv"
SPARKOV_MAP = (
    "transaction_id=trans_num,user_id=cc_num,amount=amt,timestamp=trans_date_trans_time,"
    "merchant_id=merchant,merchant_category=category,latitude=lat,longitude=long,"
    "merchant_latitude=merch_lat,merchant_longitude=merch_long"
)
PAYSIM_MAP = (
    "user_id=nameOrig,amount=amount,timestamp=step,merchant_id=nameDest,merchant_category=type"
)


def _need(path: Path) -> None:
    """Skip only where the datasets folder is absent; where it is (CI), a missing sample fails."""
    if not DATASETS.is_dir():
        pytest.skip(f"the public samples folder {DATASETS} is absent (see its README.md)")
    if not path.is_file():
        pytest.fail(
            f"public sample {path} is missing from {DATASETS}: restore it (see "
            f"{DATASETS / 'README.md'}) or update the test that expects it"
        )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _ms(text: str) -> int:
    return (datetime.fromisoformat(text).replace(tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("name", "rows", "fraud", "cards", "first", "last"),
    [
        ("fraudTrain_first5039.csv", 5039, 22, 878, "2019-01-01 00:00:18", "2019-01-04 06:11:39"),
        ("fraudTest_first2145.csv", 2145, 11, 731, "2020-06-21 12:14:25", "2020-06-22 01:06:34"),
    ],
)
def test_sparkov_maps_with_cards_as_exact_strings(
    name: str, rows: int, fraud: int, cards: int, first: str, last: str
) -> None:
    path = SPARKOV / name
    _need(path)
    loaded = load_history(path, ColumnMap.parse([SPARKOV_MAP]), "is_fraud", TimeSpec())
    history = loaded.history
    assert (loaded.rows_read, loaded.bad_rows, loaded.time_format) == (rows, [], "iso")
    assert (len(history), int(history.labels.sum()), len(set(history.user_id))) == (
        rows,
        fraud,
        cards,
    )
    raw = _rows(path)
    by_id = {r["trans_num"]: r for r in raw}
    assert {r["cc_num"] for r in raw} == set(history.user_id)  # 11..19 digits, no float
    assert max(len(u) for u in history.user_id) == 19
    assert (history.timestamp[0], history.timestamp[-1]) == (_ms(first), _ms(last))
    for row in (0, len(history) // 2, len(history) - 1):
        source = by_id[history.transaction_id[row]]
        assert history.user_id[row] == source["cc_num"]
        assert history.amount[row] == float(source["amt"])
        assert history.timestamp[row] == _ms(source["trans_date_trans_time"])
        assert history.text["merchant_id"][row] == source["merchant"]
        assert history.numbers["merchant_latitude"][row] == float(source["merch_lat"])
        assert history.labels[row] == int(source["is_fraud"])


def test_sparkov_unix_time_is_seven_years_behind_the_readable_time() -> None:
    """The README's quirk, checked so nobody maps ``unix_time`` by mistake."""
    path = SPARKOV / "fraudTrain_first5039.csv"
    _need(path)
    readable = load_history(path, ColumnMap.parse([SPARKOV_MAP]), "is_fraud", TimeSpec())
    unix = load_history(
        path,
        ColumnMap.parse([SPARKOV_MAP.replace("trans_date_trans_time", "unix_time")]),
        "is_fraud",
        TimeSpec(),
    )
    assert unix.time_format == "epoch-s"
    gap = readable.history.timestamp - unix.history.timestamp
    assert set(gap.tolist()) == {220_924_800_000}


def _paysim() -> Loaded:
    _need(PAYSIM)
    return load_history(
        PAYSIM,
        ColumnMap.parse([PAYSIM_MAP]),
        "isFraud",
        TimeSpec(origin_ms=parse_origin("2024-01-01")),
    )


def test_paysim_steps_are_hours_from_the_origin_and_rows_get_sorted() -> None:
    loaded = _paysim()
    history = loaded.history
    raw = _rows(PAYSIM)
    assert (loaded.rows_read, loaded.bad_rows, loaded.time_format) == (51_392, [], "hours")
    steps = np.array([int(r["step"]) for r in raw])
    assert bool((np.diff(steps) < 0).any())  # the file is not in time order...
    assert bool((np.diff(history.timestamp) >= 0).all())  # ...the history is
    origin = parse_origin("2024-01-01")
    assert sorted(((history.timestamp - origin) // 3_600_000).tolist()) == sorted(steps.tolist())
    assert (history.timestamp.min() - origin, history.timestamp.max() - origin) == (
        3_600_000,
        119 * 3_600_000,
    )
    # Stable sort: within an hour, the file order is kept (line numbers increase).
    same_hour = history.timestamp == history.timestamp[0]
    assert bool((np.diff(history.lines[same_hour]) > 0).all())


def test_paysim_float_labels_and_generated_ids() -> None:
    history = _paysim().history
    raw = _rows(PAYSIM)
    assert {r["isFraud"] for r in raw} == {"0.0", "1.0"}
    assert int(history.labels.sum()) == 1_392
    line = history.lines[0]
    assert history.transaction_id[0] == f"line-{line}"
    source = raw[line - 2]  # line 1 is the header
    assert history.user_id[0] == source["nameOrig"]
    assert history.text["merchant_id"][0] == source["nameDest"]
    assert history.text["merchant_category"][0] == source["type"]
    assert history.labels[0] == int(float(source["isFraud"]))


def test_a_wrong_sparkov_mapping_lists_its_columns_including_the_unnamed_index() -> None:
    path = SPARKOV / "fraudTrain_first5039.csv"
    _need(path)
    with pytest.raises(UsageError) as error:
        load_history(
            path, ColumnMap.parse(["user_id=card_number,amount=amt"]), "is_fraud", TimeSpec()
        )
    assert str(error.value) == (
        f"{path}: --map user_id=card_number: there is no column 'card_number'; the columns are: "
        "(unnamed), trans_date_trans_time, cc_num, merchant, category, amt, first, last, gender, "
        "street, city, state, zip, lat, long, city_pop, job, dob, trans_num, unix_time, "
        "merch_lat, merch_long, is_fraud"
    )
