"""The application on a real SQLite file: what is stored, how it reads back, and snapshots."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

from renovation.domain import errors
from renovation.domain.compound import NewFinding
from renovation.domain.values import VALUE_TYPES, BoqItem, Finding, MeterEntry, Sample, Score, Ticket
from renovation.services.application import RenovationApp
from renovation.store import persistence_env
from renovation.store.transcoding import (
    DEEPEST,
    light_decoder,
    light_encoder,
    line_decoder,
    line_encoder,
    nested_deeper,
)
from tests.integration.conftest import CST, open_app, start_compound


@pytest.fixture
def transcoder(app: RenovationApp) -> JSONTranscoder:
    """The transcoder exactly as the application configures it."""
    coder = app.mapper.transcoder
    assert isinstance(coder, JSONTranscoder)
    return coder


ROUND_TRIP = [
    Decimal("4200"), Decimal("0.50"), Decimal("123.4500"), Decimal("0"), Decimal("-0.01"),
    Decimal("999999999999.9999"), date(2021, 2, 28), date(2024, 2, 29),
    BoqItem("A1", "雨污分流", "m", Decimal("100.0"), Decimal("123.45")),
    MeterEntry("M1", "A1", "2021-04", Decimal("33.333"), Decimal("4114.96")),
    Finding("F1", "safety", "major", "脚手架", "3号楼", date(2021, 3, 4), datetime(2021, 3, 1, 6, 30, tzinfo=CST)),
    Sample("S1", "防水卷材", "B1", "blind", None, datetime(2021, 3, 1, 10, tzinfo=CST), None, False, "lab", "R1"),
    Score("2021-04", Decimal("92"), Decimal("88.5"), Decimal("85"), Decimal("90"), Decimal("95.25")),
    Ticket("T1", "hotline", "噪音", datetime(2021, 3, 1, 9, tzinfo=CST), None, None),
]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
def test_every_stored_type_survives_a_round_trip_exactly(transcoder: JSONTranscoder, value: object) -> None:
    decoded = transcoder.decode(transcoder.encode({"v": value}))["v"]
    assert decoded == value
    assert type(decoded) is type(value)
    if isinstance(value, Decimal):
        assert decoded.as_tuple() == value.as_tuple()  # the scale too: 0.50 stays 0.50


def test_the_light_encoder_writes_the_bytes_the_transcoder_writes(transcoder: JSONTranscoder, started: RenovationApp,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An import encodes each state with ``light_encoder``: a stored event must be the bytes a command
    stores, of every value type, nested and not, and of every event a compound's life records."""
    encode = light_encoder(transcoder)
    states: list[object] = [{"v": value} for value in ROUND_TRIP]
    states.append({"text": "吉明\"小区\"\n\u2028", "none": None, "yes": True, "n": 10**12, "list": [ROUND_TRIP[2:5]],
                   "when": datetime(2021, 3, 1, 6, 30, tzinfo=CST)})
    started.record_inspection("JM", "patrol", at=datetime(2021, 4, 1, 8, tzinfo=CST),
                              findings=[NewFinding("safety", "major", "脚手架", "3号楼")], user="supervisor")
    states += [transcoder.decode(stored.state) for stored in started.iter_notifications()]
    assert len(states) > len(ROUND_TRIP) + 4
    for state in states:
        assert encode(state) == transcoder.encode(state)
    with pytest.raises(TranscodingNotRegisteredError):  # a type it does not know: the transcoder's own error
        encode({"v": object()})
    monkeypatch.setattr("json.encoder.c_make_encoder", None)  # a Python without the C encoder: the transcoder's
    assert light_encoder(transcoder) == transcoder.encode


FIXTURE_EXPORT = Path(__file__).parents[1] / "fixtures" / "store-2021-v1.jsonl"


def _states(transcoder: JSONTranscoder, app: RenovationApp) -> list[dict[str, object]]:
    """States of every value type, nested and not, and of every event of the fixture's export and of an
    inspection with a finding; texts with every ASCII character and quotes, backslashes, line separators."""
    states: list[dict[str, object]] = [{"v": value} for value in ROUND_TRIP]
    states.append({"text": "吉明\"小区\"\n\u2028\\/\u2029\ufeff\U0010ffff" + "".join(map(chr, range(128))),
                   "none": None, "yes": True, "no": False, "n": 10**12, "zero": 0, "list": [ROUND_TRIP[2:5], []],
                   "when": datetime(2021, 3, 1, 6, 30, tzinfo=CST), "empty": {}})
    app.record_inspection("JM", "patrol", at=datetime(2021, 4, 1, 8, tzinfo=CST),
                          findings=[NewFinding("safety", "major", "脚手架", "3号楼")], user="supervisor")
    states += [transcoder.decode(stored.state) for stored in app.iter_notifications()]
    states += [transcoder.decode(json.dumps(json.loads(raw)["state"]).encode())
               for raw in FIXTURE_EXPORT.read_bytes().splitlines()[1:] if not raw.startswith(b'{"photo"')]
    return states


def test_the_line_encoder_writes_the_bytes_the_transcoder_writes(transcoder: JSONTranscoder,
                                                                 started: RenovationApp) -> None:
    """An import encodes each state with ``line_encoder`` (orjson): a stored event must be the bytes a
    command stores, key order, escapes and numbers' spelling included."""
    encode = line_encoder(transcoder)
    states = _states(transcoder, started)
    assert len(states) > 150
    for state in states:
        assert encode(state) == transcoder.encode(state)


def test_the_line_decoder_reads_the_values_the_json_module_reads(transcoder: JSONTranscoder,
                                                                 started: RenovationApp) -> None:
    """An import reads each line with ``line_decoder`` (orjson, then the transcodings): the same values, of
    the same types (a decimal's scale too), as the JSON module's reading with the transcoder's hook."""
    read, light = line_decoder(transcoder), light_decoder(transcoder)
    lines = [transcoder.encode(state) for state in _states(transcoder, started)]
    lines += FIXTURE_EXPORT.read_bytes().splitlines()
    lines += [b'{"a":1,"a":{"_type_":"decimal_str","_data_":"2.50"}}',  # a key twice: the last, as both read
              b'{"\\u0061":"\\u00e9\\n\\/","b":[[{"_type_":"date_iso","_data_":"2021-03-01"}],[]]}',
              b'{"_data_":"1.0","_type_":"decimal_str"}', b'[{"_type_":"decimal_str","_data_":"1"}]', b'"x"', b"7",
              b'{"_type_":"decimal_str","_data_":"1","more":1}', b' {"a" : [ 1 , 2 ] }\n']
    for raw in lines:
        found, expected = read(raw), light.decode(raw.decode("utf8"))
        assert found == expected and _types(found) == _types(expected), raw[:120]


def _types(value: object) -> object:
    """A value's types all the way down, a decimal's exponent with its type."""
    if isinstance(value, dict):
        return {key: _types(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_types(member) for member in value]
    if isinstance(value, Decimal):
        return (Decimal, value.as_tuple().exponent)
    if dataclasses.is_dataclass(value):
        return (type(value), _types(vars(value)))
    return type(value)


@pytest.mark.parametrize("raw", [
    b'{"a":NaN}', b'{"a":"\\ud800"}', b'{"a":1e400}', b'{"a":' + b"1" * 5000 + b"}", b'{"a":1,}', b"\xff",
    b'{"a":"\xed\xa0\x80"}', b"[" * 1100 + b"]" * 1100, b"[" * 200_000 + b"]" * 200_000, b"", b'{"a":1} x',
    b'{"a":{"_type_":"nothing","_data_":1}}', b'{"a":{"_type_":"decimal_str","_data_":"1E+5"}}',
], ids=["nan", "lone-surrogate", "infinite", "long-number", "comma", "not-utf8", "encoded-surrogate", "deep",
        "deeper", "empty", "extra", "unknown-type", "exponent"])
def test_what_orjson_refuses_the_line_decoder_reads_as_the_json_module_does(transcoder: JSONTranscoder,
                                                                            raw: bytes) -> None:
    """Read by the JSON module, in its own words: what it reads (NaN, a lone surrogate) it reads, what it
    refuses it refuses with the same error (the import's one-line refusals quote it)."""
    read, light = line_decoder(transcoder), light_decoder(transcoder)

    def outcome(decode: Any) -> object:
        try:
            return ("read", repr(decode()))
        except Exception as error:  # noqa: BLE001 (the error itself is what is compared)
            return (type(error), str(error))

    assert outcome(lambda: read(raw)) == outcome(lambda: light.decode(raw.decode("utf8")))


@pytest.mark.parametrize("raw", [
    b'{"households":123456789012345678901234567890}', b'{"a":-9223372036854775809}', b'{"a":18446744073709551615}',
    b'{"a":1.5}', b"[1, [2.0]]", b"1.5", b'{"a":[{"b":2e3}],"c":{"_type_":"decimal_str","_data_":"1"}}',
    b'{"a":{"_type_":"decimal_str","_data_":1.5}}', b'{"a":1.5,"b":{"_type_":"decimal_str","_data_":"1E+2"}}',
    b'{"b":{"_type_":"decimal_str","_data_":"1E+2"},"a":1.5}', b"[1, [123456789012345678901234567890]]",
    b"123456789012345678901234567890", b'{"a":[{"b":[123456789012345678901234567890]}]}',
], ids=["30-digits", "below-64-bits", "64-bits", "float", "nested-float", "top-float", "float-beside-decimal",
        "float-as-decimal", "float-before-bad-decimal", "float-after-bad-decimal", "big-in-a-list", "top-big",
        "big-deep"])
def test_a_float_or_an_integer_past_64_bits_is_read_as_the_json_module_reads_it(transcoder: JSONTranscoder,
                                                                               raw: bytes) -> None:
    """orjson reads an integer past 64 bits as a float: a state holding a float is read by the JSON module
    (the application writes none), so every value is the JSON module's, and every error (in the same order)."""
    read, light = line_decoder(transcoder), light_decoder(transcoder)

    def outcome(decode: Any) -> object:
        try:
            found = decode()
            return ("read", found, _types(found))
        except Exception as error:  # noqa: BLE001 (the error itself is what is compared)
            return (type(error), str(error))

    assert outcome(lambda: read(raw)) == outcome(lambda: light.decode(raw.decode("utf8")))


def test_every_value_type_has_a_transcoding(transcoder: JSONTranscoder) -> None:
    names = {cls.__name__ for cls in VALUE_TYPES}
    assert names <= set(transcoder.names)


def test_decimals_are_stored_as_plain_strings(started: RenovationApp, db: str) -> None:
    started.measure("JM", "A1", "2021-04", Decimal("4.2E+1"), user="auditor")
    started.approve_variation("JM", "A1", Decimal("1.5E+2"), "变更令", user="bureau")
    rows = [notification.state for notification in started.iter_notifications()]
    text = "".join(row.decode() for row in rows)
    assert "E+" not in text and "e+" not in text
    states = [json.loads(row) for row in rows]
    assert any(state.get("quantity", {}).get("_data_") == "150" for state in states)


def test_events_read_back_equal_what_was_recorded(started: RenovationApp, db: str) -> None:
    started.record_inspection(
        "JM", "morning", at=datetime(2021, 5, 10, 6, 40, tzinfo=CST),
        findings=[NewFinding("safety", "major", "脚手架未挂安全网", "3号楼")], user="sup",
    )
    started.measure("JM", "B2", "2021-05", Decimal("10.25"), user="auditor")
    reopened = open_app(db)
    try:
        assert reopened.compound("JM") == started.compound("JM")
        project = reopened.get_project("JM")
        assert project.findings["F1"].raised_at == datetime(2021, 5, 10, 6, 40, tzinfo=CST)
        assert project.entries["M1"].value == Decimal("1896.25")
    finally:
        reopened.close()


def test_every_event_records_its_user_and_recording_time(started: RenovationApp) -> None:
    started.record_inspection("JM", "patrol", user="王工")
    for notification in started.iter_notifications():
        event = started.mapper.to_domain_event(notification)
        assert event.user  # type: ignore[attr-defined]
        assert event.timestamp.tzinfo is not None


def test_a_backfilled_inspection_keeps_both_clocks(started: RenovationApp) -> None:
    at = datetime(2021, 5, 8, 6, 35, tzinfo=CST)
    recorded = started.record_inspection("JM", "morning", at=at, user="sup")
    assert recorded.at == at
    stored = list(started.events.get(started.get_project("JM").id))[-1]
    assert stored.timestamp == datetime(2021, 5, 10, 9, 0, tzinfo=CST)


def test_registering_the_same_code_twice_is_refused(started: RenovationApp) -> None:
    with pytest.raises(errors.CompoundAlreadyRegistered):
        start_compound(started, "jm")


def test_codes_are_case_insensitive(started: RenovationApp) -> None:
    assert started.compound("jm").code == "JM"


def test_compound_codes_lists_every_registered_compound(started: RenovationApp) -> None:
    start_compound(started, "LY")
    assert started.compound_codes() == ["JM", "LY"]


def test_snapshots_are_taken_and_give_the_same_state(db: str) -> None:
    app = open_app(db)
    start_compound(app)
    for _ in range(RenovationApp.snapshotting_intervals[type(app.get_project("JM"))] + 5):
        app.record_inspection("JM", "patrol", user="sup")
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(app.get_project("JM").id))
    assert snapshots, "a snapshot should have been taken"
    with_snapshot = app.compound("JM")
    app.close()
    plain = RenovationApp(db, env={"IS_SNAPSHOTTING_ENABLED": "n"})
    try:
        assert plain.compound("JM") == with_snapshot
    finally:
        plain.close()


def test_the_db_option_takes_a_path_or_a_url(tmp_path: Path) -> None:
    assert persistence_env(str(tmp_path / "x.db"))["SQLITE_DBNAME"] == str(tmp_path / "x.db")
    assert persistence_env("sqlite:///x.db")["SQLITE_DBNAME"] == "x.db"
    pg = persistence_env("postgresql://alice:s3cret@db.example:6543/city?schema=liaoyuan")
    assert pg["POSTGRES_DBNAME"] == "city"
    assert pg["POSTGRES_PORT"] == "6543"
    assert pg["POSTGRES_USER"] == "alice"
    assert pg["POSTGRES_SCHEMA"] == "liaoyuan"


def test_of_a_key_given_twice_the_line_decoder_reads_the_last_value_alone(transcoder: JSONTranscoder) -> None:
    """Where the JSON module decodes the first value too, and refuses the whole if it does not decode: the import
    reads such a line with the JSON module (``Importer.as_exported``), the read models every state."""
    raw = b'{"a":{"_type_":"nosuch","_data_":1},"a":{"_type_":"decimal_str","_data_":"2.50"}}'
    assert line_decoder(transcoder)(raw) == {"a": Decimal("2.50")}
    with pytest.raises(TypeError, match="nosuch"):
        light_decoder(transcoder).decode(raw.decode("utf8"))


def test_the_line_decoder_refuses_a_value_nested_deeper_than_any_event(transcoder: JSONTranscoder) -> None:
    """``DEEPEST`` objects and lists one in another are read, one more is refused as nested too deeply (the JSON
    module's own limit depends on the caller's stack); ``nested_deeper`` tells the same of a value read."""
    read = line_decoder(transcoder)
    for value in ([[1]], {"a": [{"b": 1}]}):
        deepest: Any = value
        while nested_deeper([deepest]) is False:
            deepest = [deepest]
        raw = json.dumps(deepest).encode()
        assert read(raw) == json.loads(raw) and not nested_deeper(json.loads(raw))
        with pytest.raises(RecursionError):
            read(json.dumps([deepest]).encode())
    assert json.dumps(deepest).count("[") + json.dumps(deepest).count("{") == DEEPEST
