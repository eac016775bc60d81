"""Reading histories: mapping, ids as strings, labels, bad rows, JSONL and gzip, and the
generator's own files round-tripping into the Avro records the detector reads."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from stream_sentinel.backtest.ingest import Loaded, load_history
from stream_sentinel.backtest.mapping import ColumnMap
from stream_sentinel.backtest.timeparse import TimeSpec
from stream_sentinel.backtest.wire import TransactionWire, transaction_dict
from stream_sentinel.cli import cli
from stream_sentinel.errors import UsageError
from stream_sentinel.registry_server.local_client import LocalRegistryClient
from stream_sentinel.wire.datafile import read_labelled
from stream_sentinel.wire.serde import Serde

CARDS = "card,when,amt,shop,fraud\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _load(path: Path, *maps: str, label: str = "fraud") -> Loaded:
    return load_history(path, ColumnMap.parse(maps), label, TimeSpec())


def test_card_numbers_stay_exact_strings(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "cards.csv",
        CARDS + "4512345678901234567,2019-01-01 00:00:18,10.5,m1,0\n"
        "0012,2019-01-01 00:00:19,1,m2,1\n",
    )
    loaded = _load(path, "user_id=card,amount=amt,timestamp=when,merchant_id=shop")
    history = loaded.history
    assert history.user_id == ["4512345678901234567", "0012"]  # 2**63 > it > 2**53; zeros kept
    assert history.transaction_id == ["line-2", "line-3"]
    assert history.amount.tolist() == [10.5, 1.0]
    assert history.labels.tolist() == [0, 1]
    assert history.text["merchant_id"] == ["m1", "m2"]


def test_a_mapping_naming_a_missing_column_fails_listing_the_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "cards.csv", CARDS + "1,2019-01-01,1,m,0\n")
    with pytest.raises(UsageError) as error:
        _load(path, "user_id=cc_num,amount=amt,timestamp=when")
    assert str(error.value) == (
        f"{path}: --map user_id=cc_num: there is no column 'cc_num'; "
        "the columns are: card, when, amt, shop, fraud"
    )


def test_a_missing_label_column_fails_listing_the_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "cards.csv", CARDS + "1,2019-01-01,1,m,0\n")
    with pytest.raises(UsageError) as error:
        _load(path, "user_id=card,amount=amt,timestamp=when", label="is_fraud")
    assert str(error.value) == (
        f"{path}: no label column 'is_fraud'; the columns are: card, when, amt, shop, fraud"
    )


def test_a_required_field_without_a_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "cards.csv", CARDS + "1,2019-01-01,1,m,0\n")
    with pytest.raises(UsageError) as error:
        _load(path, "user_id=card,timestamp=when")
    assert str(error.value) == (
        f"{path}: no column for amount: map it with --map amount=COLUMN; "
        "the columns are: card, when, amt, shop, fraud"
    )


def test_the_label_column_never_feeds_a_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "cards.csv", CARDS + "1,2019-01-01,1,m,0\n")
    with pytest.raises(UsageError, match="'fraud' is the label column; ground truth must never"):
        _load(path, "user_id=card,amount=amt,timestamp=when,merchant_category=fraud")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("user_id", "--map 'user_id': write field=COLUMN, e.g. --map user_id=cc_num"),
        ("card_number=cc", "--map 'card_number=cc': 'card_number' is not a Transaction field"),
        ("user_id=a,user_id=b", "--map: user_id is mapped twice ('a' and 'b')"),
    ],
)
def test_bad_mapping_specs(spec: str, message: str) -> None:
    with pytest.raises(UsageError) as error:
        ColumnMap.parse([spec])
    assert str(error.value).startswith(message)


def test_unparseable_rows_are_skipped_and_reported_with_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "cards.csv",
        CARDS
        + "u1,2019-01-01 00:00:01,1.0,m,0\n"  # line 2: fine
        + "u2,2019-01-01 00:00:02,ten,m,0\n"  # 3: amount
        + "u3,not a time,1.0,m,0\n"  # 4: time
        + "\n"  # 5: blank, skipped silently
        + "u4,2019-01-01 00:00:04,1.0,m,maybe\n"  # 6: label
        + "u5,2019-01-01 00:00:05,1.0\n"  # 7: short row
        + ",2019-01-01 00:00:06,1.0,m,1\n"  # 8: no user
        + "u7,2019-01-01 00:00:07,2.0,m,true\n",  # 9: fine
    )
    loaded = _load(path, "user_id=card,amount=amt,timestamp=when")
    assert loaded.rows_read == 7  # the blank line is no row
    assert loaded.bad_rows == [
        (3, "amount 'ten' is not a number"),
        (4, "timestamp 'not a time' is not an ISO-8601 time"),
        (6, "label 'maybe' is not 1/0, true/false or fraud/legit"),
        (7, "3 fields where the header has 5"),
        (8, "user_id is empty"),
    ]
    assert loaded.history.user_id == ["u1", "u7"]
    assert loaded.history.lines.tolist() == [2, 9]
    assert loaded.history.labels.tolist() == [0, 1]


def test_repeated_transaction_ids_are_bad_rows(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "tx.csv",
        "id,user,amount,ts,fraud\nA,u,1,1546300818000,0\nB,u,1,1546300819000,0\n"
        "A,u,1,1546300820000,1\n",
    )
    loaded = _load(path, "transaction_id=id,user_id=user,timestamp=ts")
    assert loaded.bad_rows == [(4, "transaction_id 'A' repeats line 2")]
    assert loaded.history.transaction_id == ["A", "B"]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["1", "0", "1.0", "0.0"], [1, 0, 1, 0]),
        (["true", "FALSE", "Fraud", "legit"], [1, 0, 1, 0]),
        (["yes", "no", " 1 ", "genuine"], [1, 0, 1, 0]),
    ],
)
def test_label_spellings(tmp_path: Path, words: list[str], expected: list[int]) -> None:
    rows = "".join(f"u,{1546300818 + i},1,m,{w}\n" for i, w in enumerate(words))
    loaded = _load(
        _write(tmp_path / "l.csv", CARDS + rows), "user_id=card,timestamp=when,amount=amt"
    )
    assert loaded.history.labels.tolist() == expected


def test_rows_are_put_in_event_time_order_keeping_file_order_on_ties(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "u.csv",
        CARDS + "c,30,1,m,0\na,10,1,m,0\nb,20,1,m,0\nd,10,1,m,0\n",
    )
    loaded = load_history(
        path,
        ColumnMap.parse(["user_id=card,timestamp=when,amount=amt"]),
        "fraud",
        TimeSpec("epoch-s"),
    )
    assert loaded.history.user_id == ["a", "d", "b", "c"]
    assert loaded.history.lines.tolist() == [3, 5, 4, 2]


def test_assume_sorted_refuses_an_unsorted_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.csv", CARDS + "a,20,1,m,0\nb,10,1,m,0\n")
    with pytest.raises(UsageError, match=r"line 3: earlier than the row before it, but --assume"):
        load_history(
            path,
            ColumnMap.parse(["user_id=card,timestamp=when,amount=amt"]),
            "fraud",
            TimeSpec("epoch-s"),
            assume_sorted=True,
        )


def test_jsonl_gzip_with_numbers_as_ids(tmp_path: Path) -> None:
    path = tmp_path / "tx.jsonl.gz"
    lines = [
        '{"card": 4512345678901234567, "t": "2019-01-01T00:00:18Z", "amt": 1.10, "y": 1.0}',
        "not json",
        '{"card": 7, "t": "2019-01-01T00:00:19Z", "amt": 2, "y": false, "lat": null}',
        "[1, 2]",
    ]
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    loaded = _load(path, "user_id=card,timestamp=t,amount=amt", label="y")
    assert loaded.history.user_id == ["4512345678901234567", "7"]
    assert loaded.history.amount.tolist() == [1.1, 2.0]
    assert loaded.history.labels.tolist() == [1, 0]
    assert [line for line, _ in loaded.bad_rows] == [2, 4]
    assert loaded.bad_rows[1] == (4, "not a JSON object")


def test_optional_fields_missing_values_and_enums(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "o.csv",
        "user_id,amount,timestamp,latitude,longitude,channel,card_type,is_fraud\n"
        "u,1,1546300818000,48.85,2.35,pos,credit,0\n"
        "u,1,1546300819000,,,kiosk,,0\n",
    )
    history = load_history(path, ColumnMap({}), "is_fraud", TimeSpec()).history
    assert np.isnan(history.numbers["latitude"][1])
    assert history.numbers["longitude"][0] == 2.35
    serde = Serde(LocalRegistryClient.in_memory())
    records = [
        serde.decoder("transactions").decode(v) for v in TransactionWire(serde).values(history)
    ]
    assert [(r["channel"], r["card_type"], r["latitude"]) for r in records] == [
        ("POS", "CREDIT", 48.85),
        ("OTHER", "UNKNOWN", None),
    ]


def test_the_generators_own_csv_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "gen.csv"
    result = CliRunner().invoke(
        cli, ["generate", "--count", "3000", "--users", "50", "--seed", "11", "-o", str(path)]
    )
    assert result.exit_code == 0, result.output
    expected = [(record, label) for record, label in read_labelled(path, "is_fraud")]
    loaded = load_history(path, ColumnMap({}), "is_fraud", TimeSpec())  # no --map needed
    assert loaded.bad_rows == [] and loaded.time_format == "epoch-ms"
    history = loaded.history
    assert history.labels.tolist() == [label for _, label in expected]
    serde = Serde(LocalRegistryClient.in_memory())
    decoder = serde.decoder("transactions")
    decoded = [decoder.decode(v) for v in TransactionWire(serde).values(history)]
    for row, (record, _) in enumerate(expected):
        want = {k: v for k, v in record.items() if k not in ("is_fraud", "fraud_pattern")}
        want["metadata"] = {}
        assert decoded[row] == want
        assert transaction_dict(history, row) == want


def test_an_empty_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="the file is empty"):
        _load(_write(tmp_path / "e.csv", ""), "user_id=a")


def test_json_header_is_the_keys_of_the_first_objects(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "k.jsonl",
        json.dumps({"u": "a", "t": 1546300818, "amount": 1, "f": 0}) + "\n",
    )
    with pytest.raises(UsageError, match="the columns are: u, t, amount, f"):
        _load(path, "user_id=user", label="f")
