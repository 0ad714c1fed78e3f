"""The application on a real SQLite file: what is stored, how it reads back, and snapshots."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

from renovation.domain import errors
from renovation.domain.compound import NewFinding
from renovation.domain.values import VALUE_TYPES, BoqItem, Finding, MeterEntry, Sample, Score, Ticket
from renovation.services.application import RenovationApp
from renovation.store import persistence_env
from renovation.store.transcoding import light_encoder
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
