"""The read models' figures against numbers worked out by hand, on SQLite and PostgreSQL.

Every expected figure is a literal; the comment above it shows how it was worked out. Money and
percentages are rounded half-up to 0.01 (a banker's rounding would give a different answer in the
cases marked "half").
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from renovation.domain.compound import NewFinding
from renovation.projections.feedback import feedback_rows
from renovation.projections.ledger import ledger_rows, ledger_totals
from renovation.projections.progress import progress_rows
from renovation.projections.quality import missed_days, quality_rows
from renovation.projections.runner import ReadModels
from renovation.services.application import RenovationApp
from tests.integration.conftest import start_compound
from tests.integration.projection_support import at, register

D = Decimal
TODAY = date(2021, 5, 10)


# ---------------------------------------------------------------------------------------------- progress
def progress_programme(app: RenovationApp) -> None:
    # JM: contract 1,000,000; A1 100 m at 123.45, B2 50.5 m2 at 185; planned 03-01..09-30; started 03-01
    start_compound(app, "JM")
    app.measure("JM", "A1", "2021-03", D("33.333"), user="auditor")  # M1: 4114.95885 -> 4114.96
    app.measure("JM", "A1", "2021-04", D("0.1"), user="auditor")  # M2: 12.345 -> 12.35 (half)
    app.measure("JM", "B2", "2021-04", D("50.5"), user="auditor")  # M3: 9342.50
    app.correct_measurement("JM", "M1", D("30"), "复核现场实测", user="auditor")  # M1: 3703.50
    app.approve_variation("JM", "B2", D("60"), "变更令 BG-01", user="bureau")  # quantity, not contract value
    app.measure("JM", "B2", "2021-05", D("9.5"), user="auditor")  # M4: 1757.50 (allowed by the variation)
    # LY: contract 20,000; planned 03-01..04-20; started 10 days late on 03-11
    register(app, "LY", contract_value="20000", planned=("2021-03-01", "2021-04-20"),
             items=[("C1", "1000", "1")], started="2021-03-11")
    app.measure("LY", "C1", "2021-03", D("245"), user="auditor")  # 245.00
    # YH: registered only, planned start 04-01
    register(app, "YH", contract_value="500000", planned=("2021-04-01", "2021-12-31"))
    # HH: planned finish 04-15, completed 04-25, accepted, handed over
    register(app, "HH", contract_value="300000", planned=("2021-03-01", "2021-04-15"), started="2021-03-01")
    app.complete_construction("HH", date(2021, 4, 25), user="bureau")
    app.accept("HH", date(2021, 4, 28), user="bureau")
    app.hand_over("HH", date(2021, 4, 30), user="bureau")


def test_progress_figures(app: RenovationApp, models: ReadModels) -> None:
    progress_programme(app)
    models.catch_up()

    with models.engine.connect() as connection:
        rows = {row["code"]: row for row in progress_rows(connection, TODAY)}

    assert list(rows) == ["HH", "JM", "LY", "YH"]  # code order
    jm = rows["JM"]
    assert jm["status"] == "under_construction"
    assert jm["contractor"] == "示例建工一公司"
    # the registered value: the variation of B2 changes a quantity, not the contract value
    assert jm["contract_value"] == D("1000000")
    # 3703.50 (M1 as corrected) + 12.35 + 9342.50 + 1757.50
    assert jm["metered_value"] == D("14815.85")
    # 14815.85 / 1,000,000 x 100 = 1.481585 -> 1.48
    assert jm["percent_complete"] == D("1.48")
    # started on the planned day, planned finish 09-30 still ahead
    assert jm["days_behind"] == 0
    assert (jm["planned_start"], jm["started_on"], jm["completed_on"]) == (date(2021, 3, 1), date(2021, 3, 1), None)

    ly = rows["LY"]
    assert ly["metered_value"] == D("245.00")
    # 245 / 20,000 x 100 = 1.225 -> 1.23 (half)
    assert ly["percent_complete"] == D("1.23")
    # started 10 days late; 05-10 is 20 days after the planned finish 04-20: max(10, 20)
    assert ly["days_behind"] == 20

    yh = rows["YH"]
    assert yh["status"] == "registered"
    assert (yh["metered_value"], yh["percent_complete"]) == (D("0"), D("0.00"))
    # not started: 04-01 .. 05-10 is 30 + 9 = 39 days of late start
    assert yh["days_behind"] == 39

    hh = rows["HH"]
    assert hh["status"] == "handed_over"
    # completed 04-25 against a planned 04-15: finished 10 days late, whatever today is
    assert hh["days_behind"] == 10
    assert hh["completed_on"] == date(2021, 4, 25)


def test_days_behind_counts_to_the_day_asked(app: RenovationApp, models: ReadModels) -> None:
    progress_programme(app)
    models.catch_up("progress")

    with models.engine.connect() as connection:
        early = {row["code"]: row["days_behind"] for row in progress_rows(connection, date(2021, 3, 15))}
        april = {row["code"]: row["days_behind"] for row in progress_rows(connection, date(2021, 4, 1))}

    # 03-15: LY started 10 days late; YH not due to start until 04-01; HH finished (late by 10)
    assert early == {"HH": 10, "JM": 0, "LY": 10, "YH": 0}
    # 04-01: LY's planned finish (04-20) not yet passed; YH due today, not yet late
    assert april == {"HH": 10, "JM": 0, "LY": 10, "YH": 0}


def test_progress_metered_value_agrees_with_the_ledger(app: RenovationApp, models: ReadModels) -> None:
    progress_programme(app)
    models.catch_up()

    with models.engine.connect() as connection:
        metered = {row["code"]: row["metered_value"] for row in progress_rows(connection, TODAY)}
        totals = ledger_totals(connection)

    assert totals == {"JM": D("14815.85"), "LY": D("245.00")}
    assert metered == {"HH": D("0"), "JM": D("14815.85"), "LY": D("245.00"), "YH": D("0")}
    assert metered["JM"] == app.compound("JM").metered_value


# ---------------------------------------------------------------------------------------------- quality
def quality_programme(app: RenovationApp) -> None:
    """JM (示例建工一公司) built 03-01..03-06; LY (same contractor) from 03-11; YH (辽源建工) not started."""
    start_compound(app, "JM")
    inspect = app.record_inspection
    inspect("JM", "morning", at=at("2021-03-01"), user="sup")  # I1
    inspect("JM", "morning", at=at("2021-03-02"), user="sup")  # I2
    inspect("JM", "morning", at=at("2021-03-02", "07:00"), user="sup")  # I3: a second round, same day
    inspect(  # I4: F1 major due 03-06, F2 minor due 03-10, F3 critical due 03-04
        "JM", "patrol", at=at("2021-03-03", "10:00"), user="sup",
        findings=[NewFinding("safety", "major", "脚手架未挂安全网"), NewFinding("quality", "minor", "墙面空鼓"),
                  NewFinding("civilized", "critical", "渣土未苫盖")],
    )
    inspect("JM", "morning", at=at("2021-03-04"), due=date(2021, 3, 20), user="sup",
            findings=[NewFinding("quality", "minor", "防水层破损")])  # I5: F4 due 03-20
    inspect("JM", "morning", at=at("2021-03-05", "07:20"), user="sup")  # I6: late (06:30 and 30 minutes' grace)
    # samples, all on 03-05; each result follows its sample, so that S3 is the resample of S2
    lab = "辽源市建设工程质量检测站"
    for material, batch, regime, passed in [
        ("钢筋", "B1", "routine", True),  # S1: routine pass
        ("水泥", "B2", "routine", False),  # S2: routine fail: resample B2
        ("水泥", "B2", "routine", False),  # S3: the resample fails: B2 rejected
        ("保温板", "C1", "cross", True),  # S4: cross pass
        ("管材", "C2", "cross", False),  # S5: cross fail, not resampled yet
        ("卷材", "D1", "blind", True),  # a B id (named by its command, no count in it): blind pass
        ("卷材", "D2", "blind", None),  # another B id: blind, pending
    ]:
        sample_id = app.sample_material("JM", material=material, batch=batch, regime=regime,
                                        at=at("2021-03-05", "10:00"), user="sup").sample_id
        if passed is not None:
            app.record_material_result("JM", sample_id, passed=passed, lab=lab, at=at("2021-03-05", "16:00"),
                                       user="lab")
    app.complete_construction("JM", date(2021, 3, 6), user="bureau")
    # F1: raised 03-03 10:00, closed 03-05 10:00 -> 2.0 days, on time
    app.rectify_finding("JM", "F1", at=at("2021-03-05", "09:00"), user="contractor")
    app.close_finding("JM", "F1", at=at("2021-03-05", "10:00"), user="sup")
    # F3: due 03-04, closed 03-08 17:12 -> 5 days 7.2 hours = 5.3 days; late, but closed
    app.rectify_finding("JM", "F3", at=at("2021-03-06", "09:00"), user="contractor")
    app.close_finding("JM", "F3", at=at("2021-03-08", "17:12"), user="sup")
    # F2: rectified, never closed (due 03-10)
    app.rectify_finding("JM", "F2", at=at("2021-03-09", "09:00"), user="contractor")
    # F4: closed, then reopened (due 03-20)
    app.rectify_finding("JM", "F4", at=at("2021-03-10", "09:00"), user="contractor")
    app.close_finding("JM", "F4", at=at("2021-03-11", "08:00"), user="sup")
    app.reopen_finding("JM", "F4", at=at("2021-03-12", "09:00"), user="sup")

    register(app, "LY", started="2021-03-11")
    for day in ("2021-03-11", "2021-03-13", "2021-03-16"):
        inspect("LY", "morning", at=at(day), user="sup")
    register(app, "YH", contractor="辽源建工")


def test_quality_per_compound(app: RenovationApp, models: ReadModels) -> None:
    quality_programme(app)
    models.catch_up()

    with models.engine.connect() as connection:
        rows = {row["code"]: row for row in quality_rows(connection, date(2021, 3, 15))}

    assert list(rows) == ["JM", "LY", "YH"]
    assert rows["JM"] == {
        "code": "JM", "contractor": "示例建工一公司",
        "inspections": 6, "morning_inspections": 5, "patrols": 1,
        # 03-01 .. 03-06 (completion), both included
        "construction_days": 6,
        # mornings on 03-01, 03-02 (twice), 03-04, 03-05: 4 days of 6 = 66.666.. -> 66.67
        "morning_coverage": D("66.67"),
        # on time (started by 07:00): 03-01, 03-02 (its first round), 03-04; not 03-05 (07:20): 3 of 6
        "morning_on_time": D("50.00"),
        # open: F2 (rectified) and F4 (reopened); overdue on 03-15: F2 (due 03-10), not F4 (due 03-20);
        # closed: F1 and F3 (closed late, still closed)
        "findings_open": 2, "findings_overdue": 1, "findings_closed": 2,
        # (2.0 + 5.3) / 2 = 3.65 exactly (rounded half-up to 0.01)
        "mean_days_to_close": D("3.65"),
        "samples": 7,
        # S2, S3, S5
        "samples_failed": 3,
        # routine: S1 pass, S2 and S3 fail: 1/3 = 33.333.. -> 33.33; cross: 1/2; blind: D1's pass, D2's pending
        "routine_pass_rate": D("33.33"), "cross_pass_rate": D("50.00"), "blind_pass_rate": D("100.00"),
        # B2: the resample S3 failed
        "rejected_batches": 1,
    }
    assert rows["LY"] == {
        "code": "LY", "contractor": "示例建工一公司",
        "inspections": 3, "morning_inspections": 3, "patrols": 0,
        # 03-11 .. 03-15 (today)
        "construction_days": 5,
        # 03-11 and 03-13 of 5 days = 40.00; the round of 03-16 is after today
        "morning_coverage": D("40.00"),
        "morning_on_time": D("40.00"),
        "findings_open": 0, "findings_overdue": 0, "findings_closed": 0, "mean_days_to_close": None,
        "samples": 0, "samples_failed": 0,
        "routine_pass_rate": None, "cross_pass_rate": None, "blind_pass_rate": None,
        "rejected_batches": 0,
    }
    yh = rows["YH"]
    assert (yh["contractor"], yh["inspections"], yh["construction_days"]) == ("辽源建工", 0, 0)
    assert yh["morning_coverage"] is None  # no construction day yet: no coverage, not 0 %
    with models.engine.connect() as connection:  # a grace of 60 minutes (renovation.toml): 07:20 is on time
        later = {row["code"]: row for row in quality_rows(connection, date(2021, 3, 15), on_time_by=time(7, 30))}
    assert later["JM"]["morning_on_time"] == D("66.67")


def test_quality_per_contractor(app: RenovationApp, models: ReadModels) -> None:
    quality_programme(app)
    models.catch_up("quality")

    with models.engine.connect() as connection:
        rows = quality_rows(connection, date(2021, 3, 15), by="contractor")

    assert [row["contractor"] for row in rows] == ["示例建工一公司", "辽源建工"]
    first = rows[0]
    assert "code" not in first
    # JM + LY: 6 + 3 inspections, 5 + 3 mornings, 1 patrol
    assert (first["inspections"], first["morning_inspections"], first["patrols"]) == (9, 8, 1)
    # (4 + 2) covered days of (6 + 5) construction days = 54.5454.. -> 54.55
    assert (first["construction_days"], first["morning_coverage"]) == (11, D("54.55"))
    assert (first["findings_open"], first["findings_overdue"], first["findings_closed"]) == (2, 1, 2)
    assert first["mean_days_to_close"] == D("3.65")
    assert (first["samples"], first["samples_failed"], first["rejected_batches"]) == (7, 3, 1)
    assert rows[1]["inspections"] == 0
    assert rows[1]["morning_coverage"] is None


def test_overdue_is_counted_to_today(app: RenovationApp, models: ReadModels) -> None:
    quality_programme(app)
    models.catch_up("quality")

    def overdue(day: date) -> int:
        with models.engine.connect() as connection:
            (jm, *_) = quality_rows(connection, day)
        return int(jm["findings_overdue"])

    # F2 is due 03-10, F4 03-20; overdue only once today is after the due date
    assert overdue(date(2021, 3, 10)) == 0
    assert overdue(date(2021, 3, 11)) == 1
    assert overdue(date(2021, 3, 20)) == 1
    assert overdue(date(2021, 3, 21)) == 2


def test_missed_morning_rounds(app: RenovationApp, models: ReadModels) -> None:
    quality_programme(app)
    models.catch_up("quality")

    with models.engine.connect() as connection:
        jm = missed_days(connection, "JM", date(2021, 3, 15))
        ly = missed_days(connection, "LY", date(2021, 3, 15))
        ly_later = missed_days(connection, "LY", date(2021, 3, 17))
        unstarted = missed_days(connection, "YH", date(2021, 3, 15))
        (ly_row,) = [row for row in quality_rows(connection, TODAY) if row["code"] == "LY"]

    assert jm == [date(2021, 3, 3), date(2021, 3, 6)]  # the window ends at completion (03-06)
    assert ly == [date(2021, 3, 12), date(2021, 3, 14), date(2021, 3, 15)]
    assert ly_later == [date(2021, 3, 12), date(2021, 3, 14), date(2021, 3, 15), date(2021, 3, 17)]
    assert unstarted == []
    # to 05-10: 03-11..03-31 is 21 days, April 30, May 1..10 is 10: 61 days, 3 covered = 4.918.. -> 4.92
    assert (ly_row["construction_days"], ly_row["morning_coverage"]) == (61, D("4.92"))


def test_quality_hides_pending_samples_of_a_hidden_regime(app: RenovationApp, models: ReadModels) -> None:
    quality_programme(app)
    models.catch_up("quality")

    with models.engine.connect() as connection:
        (jm, *_) = quality_rows(connection, date(2021, 3, 15), hidden_regimes=frozenset({"blind"}))

    # D2's sample (blind, pending) is not shown; D1's (blind, resulted) still is
    assert jm["samples"] == 6
    assert jm["blind_pass_rate"] == D("100.00")


# ---------------------------------------------------------------------------------------------- ledger
def ledger_programme(app: RenovationApp) -> None:
    # JM: A1 100 m at 123.45, B2 50.5 m2 at 185
    start_compound(app, "JM")
    app.measure("JM", "A1", "2021-03", D("30"), user="auditor")  # M1: 3703.50
    app.measure("JM", "A1", "2021-04", D("0.1"), user="auditor")  # M2: 12.345 -> 12.35 (half)
    app.measure("JM", "A1", "2021-04", D("20"), user="auditor")  # M3: 2469.00
    app.measure("JM", "B2", "2021-04", D("10"), user="auditor")  # M4: 1850.00
    app.correct_measurement("JM", "M3", D("19.9"), "复核", user="auditor")  # M3: 2456.655 -> 2456.66 (half)


def test_ledger_per_item_and_period(app: RenovationApp, models: ReadModels) -> None:
    ledger_programme(app)
    models.catch_up("ledger")
    with models.engine.connect() as connection:
        before = ledger_rows(connection, "JM")
    # A1 2021-04 before the variation: cumulative 30 + 0.1 + 19.9 = 50 of 100 = 50.00 %
    assert [(r["item"], r["period"], r["share_of_contract"]) for r in before] == [
        ("A1", "2021-03", D("30.00")), ("A1", "2021-04", D("50.00")), ("B2", "2021-04", D("19.80"))
    ]

    app.approve_variation("JM", "A1", D("120"), "变更令 BG-07", user="bureau")
    app.measure("JM", "A1", "2021-05", D("70"), user="auditor")  # M5: 8641.50; 120 in all, as varied
    models.catch_up("ledger")
    with models.engine.connect() as connection:
        rows = ledger_rows(connection, "JM")

    def figures(row: dict[str, object]) -> tuple[object, ...]:
        return (row["item"], row["period"], row["quantity"], row["value"], row["cumulative_quantity"],
                row["cumulative_value"], row["contract_quantity"], row["share_of_contract"])

    assert [figures(row) for row in rows] == [
        # 30 / 120 = 25.00 %
        ("A1", "2021-03", D("30"), D("3703.50"), D("30"), D("3703.50"), D("120"), D("25.00")),
        # 0.1 + 19.9 = 20.0; 12.35 + 2456.66 = 2469.01; cumulative 50.0, 6172.51; 50 / 120 = 41.666.. -> 41.67
        ("A1", "2021-04", D("20.0"), D("2469.01"), D("50.0"), D("6172.51"), D("120"), D("41.67")),
        # 70 x 123.45 = 8641.50; cumulative 120.0, 14814.01; 120 / 120 = 100.00
        ("A1", "2021-05", D("70"), D("8641.50"), D("120.0"), D("14814.01"), D("120"), D("100.00")),
        # 10 / 50.5 = 19.801.. -> 19.80
        ("B2", "2021-04", D("10"), D("1850.00"), D("10"), D("1850.00"), D("50.5"), D("19.80")),
    ]
    assert rows[0]["description"] == "雨污分流"
    assert rows[0]["unit"] == "m"


def test_ledger_filters_keep_earlier_periods_in_the_cumulative(app: RenovationApp, models: ReadModels) -> None:
    ledger_programme(app)
    models.catch_up("ledger")

    with models.engine.connect() as connection:
        april_a1 = ledger_rows(connection, "JM", item="A1", period="2021-04")
        b2 = ledger_rows(connection, "JM", item="B2")
        none = ledger_rows(connection, "JM", period="2021-05")
        other = ledger_rows(connection, "LY")

    (row,) = april_a1
    # the period's own 20.0 / 2469.01, cumulative with March's 30 / 3703.50
    assert (row["quantity"], row["value"], row["cumulative_quantity"], row["cumulative_value"]) == (
        D("20.0"), D("2469.01"), D("50.0"), D("6172.51")
    )
    assert [(r["item"], r["period"]) for r in b2] == [("B2", "2021-04")]
    assert none == []
    assert other == []


def test_corrections_replace_the_entry_in_the_ledger_and_the_progress(app: RenovationApp,
                                                                     models: ReadModels) -> None:
    ledger_programme(app)
    app.correct_measurement("JM", "M3", D("0"), "误计", user="auditor")  # M3 to nothing
    app.correct_measurement("JM", "M1", D("29.995"), "复核", user="auditor")  # 3702.88275 -> 3702.88
    models.catch_up()

    with models.engine.connect() as connection:
        rows = ledger_rows(connection, "JM")
        (jm,) = progress_rows(connection, TODAY)

    # A1: 2021-03 29.995 / 3702.88; 2021-04 0.1 + 0 = 0.1 / 12.35 + 0.00
    assert [(r["period"], r["quantity"], r["value"]) for r in rows if r["item"] == "A1"] == [
        ("2021-03", D("29.995"), D("3702.88")), ("2021-04", D("0.1"), D("12.35"))
    ]
    # 3702.88 + 12.35 + 0.00 + 1850.00 = 5565.23; 0.556523 % -> 0.56
    assert jm["metered_value"] == D("5565.23")
    assert jm["percent_complete"] == D("0.56")


# ---------------------------------------------------------------------------------------------- feedback
def test_feedback_days_to_resolve(app: RenovationApp, models: ReadModels) -> None:
    register(app, "JM")
    register(app, "LY")
    receive, resolve = app.receive_feedback, app.resolve_feedback
    receive("JM", "hotline", "楼道施工噪音太早", at=at("2021-03-02", "08:00"), user="clerk")  # T1
    receive("JM", "form", "渣土遮盖", at=at("2021-03-03", "09:00"), user="clerk")  # T2
    receive("JM", "visit", "停车位", at=at("2021-03-05", "10:00"), user="clerk")  # T3, left open
    receive("LY", "hotline", "管道漏水", at=at("2021-03-01", "12:00"), user="clerk")  # LY T1
    resolve("JM", "T1", "已调整施工时间", at=at("2021-03-04", "20:00"), user="clerk")
    resolve("JM", "T2", "已苫盖", at=at("2021-03-03", "09:07:12"), user="clerk")
    resolve("LY", "T1", "已维修", at=at("2021-03-11", "12:00"), user="clerk")
    models.catch_up("feedback")

    with models.engine.connect() as connection:
        everything = feedback_rows(connection)
        still_open = feedback_rows(connection, only_open=True)
        of_ly = feedback_rows(connection, code="LY")

    # oldest first
    assert [(r["code"], r["ticket_id"], r["status"], r["days_to_resolve"]) for r in everything] == [
        # 03-01 12:00 -> 03-11 12:00: 10 days
        ("LY", "T1", "resolved", D("10.00")),
        # 03-02 08:00 -> 03-04 20:00: 2 days 12 hours = 2.50
        ("JM", "T1", "resolved", D("2.50")),
        # 7 min 12 s = 432 s = 0.005 days -> 0.01 (half)
        ("JM", "T2", "resolved", D("0.01")),
        ("JM", "T3", "unresolved", None),
    ]
    assert everything[1]["note"] == "已调整施工时间"
    assert everything[1]["channel"] == "hotline"
    assert [(r["code"], r["ticket_id"]) for r in still_open] == [("JM", "T3")]
    assert still_open[0]["resolved_at"] is None
    assert [r["ticket_id"] for r in of_ly] == ["T1"]
