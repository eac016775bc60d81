"""Plain JSON per topic: validated like Avro, shaped like decoded Avro, failures per value."""

from __future__ import annotations

import json

import pytest

from stream_sentinel.errors import SerializationError
from stream_sentinel.wire.failures import DecodeError, DecodeFailure
from stream_sentinel.wire.json_codec import JsonDecoder, JsonEncoder
from stream_sentinel.wire.schemas import find

V1 = find("Transaction", 1).text
V2 = find("Transaction", 2).text
MINIMAL = {"transaction_id": "t", "user_id": "u", "amount": 10, "timestamp": 5}
DEFAULTS = {
    "currency": None,
    "merchant_id": None,
    "merchant_category": None,
    "channel": "OTHER",
    "card_type": "UNKNOWN",
    "device_id": None,
    "ip_address": None,
    "latitude": None,
    "longitude": None,
    "merchant_latitude": None,
    "merchant_longitude": None,
    "country": None,
    "merchant_country": None,
    "metadata": {},
}


def test_encoding_is_one_compact_utf8_object_without_framing() -> None:
    payload = JsonEncoder(V2)({**MINIMAL, "amount": 10.5, "currency": "€UR"})
    assert payload == (
        b'{"transaction_id":"t","user_id":"u","amount":10.5,"timestamp":5,'
        b'"currency":"\xe2\x82\xacUR"}'
    )


def test_encoding_validates_like_avro() -> None:
    with pytest.raises(SerializationError) as error:
        JsonEncoder(V2)({**MINIMAL, "amount": "10"})
    assert str(error.value) == (
        "Transaction record does not conform to its schema (field amount: expected double, "
        "got str '10'); it was not sent"
    )


def test_decoding_fills_defaults_and_makes_floats() -> None:
    record = JsonDecoder(V2).decode(json.dumps(MINIMAL).encode())
    assert record == {**MINIMAL, "amount": 10.0, **DEFAULTS}
    assert type(record["amount"]) is float


def test_unknown_enum_symbols_take_the_enum_default() -> None:
    record = JsonDecoder(V2).decode(json.dumps({**MINIMAL, "channel": "CRYPTO"}).encode())
    assert record["channel"] == "OTHER"


def test_nullable_doubles_accept_json_integers() -> None:
    record = JsonDecoder(V2).decode(json.dumps({**MINIMAL, "latitude": 48}).encode())
    assert (record["latitude"], type(record["latitude"])) == (48.0, float)


def test_bytes_travel_as_latin1_code_points() -> None:
    schema = find("DeadLetter").text
    letter = {
        "source_topic": "transactions",
        "partition": 0,
        "offset": 7,
        "key": b"user-1",
        "value": b"\x00\xff\x10",
        "reason": "r",
        "error_type": "bad_magic",
        "failed_time": 1,
        "component": "detector",
        "key_size": None,
        "value_size": 3000,
    }
    payload = JsonEncoder(schema)(letter)
    assert json.loads(payload)["value"] == "\u0000\u00ff\u0010"
    assert JsonDecoder(schema).decode(payload) == letter


def test_decode_many_reports_each_bad_value() -> None:
    good = json.dumps(MINIMAL).encode()
    records, failures = JsonDecoder(V2).decode_many(
        [
            good,
            None,
            b"{not json",
            b"[1, 2]",
            json.dumps({**MINIMAL, "amount": "x"}).encode(),
            b"\xff\xfe",
            good,
        ]
    )
    assert [record is not None for record in records] == [
        True,
        False,
        False,
        False,
        False,
        False,
        True,
    ]
    assert [(f.index, f.kind) for f in failures] == [
        (1, "empty_value"),
        (2, "malformed_json"),
        (3, "malformed_json"),
        (4, "non_conforming"),
        (5, "malformed_json"),
    ]
    assert failures[2] == DecodeFailure(3, "malformed_json", "expected a JSON object, got list")
    assert failures[3] == DecodeFailure(
        4, "non_conforming", "field amount: expected double, got str 'x'"
    )


def test_decode_raises_with_the_reason() -> None:
    with pytest.raises(DecodeError, match="field user_id: missing"):
        JsonDecoder(V1).decode(b'{"transaction_id": "t", "amount": 1, "timestamp": 1}')


def test_unknown_fields_are_dropped_on_read_as_avro_resolution_does() -> None:
    newer = json.dumps({**MINIMAL, "merchant_country": "FR", "metadata": {"a": "b"}}).encode()
    assert JsonDecoder(V1).decode(newer) == {
        **MINIMAL,
        "amount": 10.0,
        **{k: v for k, v in DEFAULTS.items() if k not in ("merchant_country", "metadata")},
    }


def test_json_nested_too_deeply_is_a_failure_not_a_crash() -> None:
    decoder = JsonDecoder(find("Transaction", 2).text)
    records, failures = decoder.decode_many([b"[" * 5000 + b"]" * 5000])
    assert records == [None]
    assert [(f.index, f.kind) for f in failures] == [(0, "too_deep")]
    assert failures[0].reason == "the JSON document nests too deeply to be read"


@pytest.mark.parametrize(
    ("payload", "kind", "reason"),
    [
        (b'{"transaction_id": "t", "amount": 1' + b"0" * 400 + b"}", "non_conforming",
         "a number is too large for a double"),
        (b'{"amount": ' + b"9" * 5000 + b"}", "malformed_json", None),
        (b'{"transaction_id": "evil-\\ud800", "user_id": "u", "amount": 1.0, "timestamp": 1}',
         "malformed_json", "a string holds a lone surrogate (\\ud800-\\udfff escape)"),
    ],
    ids=["400-digit amount", "5000-digit integer", "lone surrogate"],
)  # fmt: skip
def test_json_numbers_and_strings_no_writer_can_take_are_failures_not_crashes(
    payload: bytes, kind: str, reason: str | None
) -> None:
    records, failures = JsonDecoder(find("Transaction", 2).text).decode_many([payload])
    assert records == [None]
    assert [f.kind for f in failures] == [kind]
    if reason is not None:
        assert failures[0].reason == reason
    else:
        assert failures[0].reason.startswith("not a UTF-8 JSON document (Exceeds the limit")
