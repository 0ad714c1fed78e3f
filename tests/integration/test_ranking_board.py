"""The horse-race board (赛马) against totals worked out by hand, on SQLite and PostgreSQL.

Default weights: quality 30, safety 25, progress 20, civilized 15, satisfaction 10 (sum 100), so a
compound's total is (30 q + 25 s + 20 p + 15 c + 10 sat) / 100; a contractor's total is the mean of
its compounds' totals; both rounded half-up to 0.01. Ranks are standard competition ranks.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

from renovation.domain.values import SCORE_DIMENSIONS
from renovation.projections.ranking import competition_ranks, ranking_rows
from renovation.projections.runner import ReadModels
from renovation.services.application import RenovationApp
from renovation.services.config import Weights
from tests.integration.projection_support import register

D = Decimal
DEFAULT = Weights().as_dict()

#: Compound: contractor. 甲 has two compounds, the others one.
CONTRACTORS = {"AA": "甲公司", "AB": "甲公司", "BA": "乙公司", "CA": "丙公司", "DA": "丁公司", "EA": "戊公司"}


def scores(*values: str) -> dict[str, Decimal]:
    """quality, safety, progress, civilized, satisfaction; one value means all five."""
    chosen = values * 5 if len(values) == 1 else values
    return dict(zip(SCORE_DIMENSIONS, (D(v) for v in chosen), strict=True))


def race(app: RenovationApp) -> None:
    for code, contractor in CONTRACTORS.items():
        register(app, code, contractor=contractor, started="2021-04-01")
    april = {
        "AA": scores("90", "80", "70", "60", "50"),  # 27 + 20 + 14 + 9 + 5 = 75
        "AB": scores("85"),  # 85
        "BA": scores("80"),  # 80
        "CA": scores("100", "90", "80", "70", "60"),  # 30 + 22.5 + 16 + 10.5 + 6 = 85
        "DA": scores("60"),  # 60, corrected below
    }
    for code, given in april.items():
        app.score(code, "2021-04", given, user="bureau")
    # the correction replaces April's score of DA: 18.15 + 17.5 + 14 + 10.5 + 7 = 67.15
    app.score("DA", "2021-04", scores("60.5", "70", "70", "70", "70"), correction=True, reason="复核",
              user="bureau")
    may = {
        "AA": scores("90"),  # 90
        "AB": scores("90.01"),  # 90.01
        "BA": scores("90.01"),  # 90.01
        "CA": scores("70"),  # 70
        "DA": scores("95"),  # 95
        "EA": scores("50"),  # 50; EA was not scored in April
    }
    for code, given in may.items():
        app.score(code, "2021-05", given, user="bureau")


@pytest.fixture
def board(app: RenovationApp, models: ReadModels) -> ReadModels:
    race(app)
    models.catch_up("ranking")
    return models


def ranked(models: ReadModels, weights: dict[str, int] = DEFAULT, **options: Any) -> list[dict[str, Any]]:
    with models.engine.connect() as connection:
        return ranking_rows(connection, weights, **options)


def brief(rows: list[dict[str, Any]], key: str) -> list[tuple[Any, ...]]:
    return [(row[key], row["total"], row["rank"], row["movement"], row["last"]) for row in rows]


def test_contractors_in_the_latest_period(board: ReadModels) -> None:
    rows = ranked(board)

    assert {row["period"] for row in rows} == {"2021-05"}
    assert brief(rows, "contractor") == [
        # 95; April rank 4 -> 1: up 3
        ("丁公司", D("95.00"), 1, 3, False),
        # 90.01; April rank 2 -> 2
        ("乙公司", D("90.01"), 2, 0, False),
        # mean of 90 and 90.01 = 90.005 -> 90.01 (half): ties with 乙 at rank 2; April rank 2 -> 2
        ("甲公司", D("90.01"), 2, 0, False),
        # 70; April rank 1 -> 4 (after a tie for 2nd, 3 is skipped): down 3
        ("丙公司", D("70.00"), 4, -3, False),
        # 50; not scored in April: no movement; last place
        ("戊公司", D("50.00"), 5, None, True),
    ]
    jia = rows[2]
    assert jia["compounds"] == 2
    # each dimension: (90 + 90.01) / 2 = 90.005 -> 90.01
    assert [jia[d] for d in SCORE_DIMENSIONS] == [D("90.01")] * 5


def test_contractors_in_an_earlier_period_with_a_corrected_score(board: ReadModels) -> None:
    rows = ranked(board, period="2021-04")

    assert brief(rows, "contractor") == [
        # 85
        ("丙公司", D("85.00"), 1, None, False),
        # 80, and 甲 = (75 + 85) / 2 = 80: a tie, the next rank skipped; no earlier period: no movement
        ("乙公司", D("80.00"), 2, None, False),
        ("甲公司", D("80.00"), 2, None, False),
        # DA as corrected: 67.15 (not the 60 first recorded)
        ("丁公司", D("67.15"), 4, None, True),
    ]
    jia = rows[2]
    # quality (90 + 85) / 2 = 87.5, safety (80 + 85) / 2 = 82.5, ...
    assert [jia[d] for d in SCORE_DIMENSIONS] == [D("87.50"), D("82.50"), D("77.50"), D("72.50"), D("67.50")]


def test_compounds_in_the_latest_period(board: ReadModels) -> None:
    rows = ranked(board, by="compound")

    # April's compound board: AB 85 and CA 85 rank 1, BA 80 rank 3, AA 75 rank 4, DA 67.15 rank 5
    assert brief(rows, "code") == [
        ("DA", D("95.00"), 1, 4, False),  # 5 -> 1
        ("AB", D("90.01"), 2, -1, False),  # 1 -> 2
        ("BA", D("90.01"), 2, 1, False),  # 3 -> 2
        ("AA", D("90.00"), 4, 0, False),  # 4 -> 4
        ("CA", D("70.00"), 5, -4, False),  # 1 -> 5
        ("EA", D("50.00"), 6, None, True),  # new: no movement; last
    ]
    assert rows[0]["contractor"] == "丁公司"
    assert rows[0]["name"] == "DA小区"
    assert [rows[1][d] for d in SCORE_DIMENSIONS] == [D("90.01")] * 5


def test_compounds_in_an_earlier_period(board: ReadModels) -> None:
    rows = ranked(board, period="2021-04", by="compound")

    assert brief(rows, "code") == [
        ("AB", D("85.00"), 1, None, False),
        ("CA", D("85.00"), 1, None, False),
        ("BA", D("80.00"), 3, None, False),
        ("AA", D("75.00"), 4, None, False),
        ("DA", D("67.15"), 5, None, True),
    ]


def test_weights_are_applied_when_the_board_is_asked_for(board: ReadModels) -> None:
    weights = {"quality": 40, "safety": 30, "progress": 10, "civilized": 10, "satisfaction": 10}

    compounds = ranked(board, weights, period="2021-04", by="compound")
    contractors = ranked(board, weights, period="2021-04")

    assert [(row["code"], row["total"], row["rank"]) for row in compounds] == [
        ("CA", D("88.00"), 1),  # 40 + 27 + 8 + 7 + 6
        ("AB", D("85.00"), 2),
        ("BA", D("80.00"), 3),
        ("AA", D("78.00"), 4),  # 36 + 24 + 7 + 6 + 5
        ("DA", D("66.20"), 5),  # 24.2 + 21 + 7 + 7 + 7
    ]
    assert [(row["contractor"], row["total"], row["rank"]) for row in contractors] == [
        ("丙公司", D("88.00"), 1),
        ("甲公司", D("81.50"), 2),  # (78 + 85) / 2
        ("乙公司", D("80.00"), 3),
        ("丁公司", D("66.20"), 4),
    ]


def test_a_period_with_no_scores_is_empty(board: ReadModels) -> None:
    assert ranked(board, period="2021-03") == []


def test_no_scores_no_board(models: ReadModels, app: RenovationApp) -> None:
    register(app, "JM", started="2021-04-01")
    models.catch_up()
    assert ranked(models) == []


def test_one_compound_alone_is_not_marked_last(models: ReadModels, app: RenovationApp) -> None:
    register(app, "JM", started="2021-04-01")
    app.score("JM", "2021-04", scores("88.88"), user="bureau")
    models.catch_up("ranking")

    (row,) = ranked(models)

    assert (row["rank"], row["total"], row["last"], row["movement"]) == (1, D("88.88"), False, None)


def test_a_shared_last_place_is_marked_on_both(models: ReadModels, app: RenovationApp) -> None:
    for code, contractor in (("AA", "甲公司"), ("BA", "乙公司"), ("CA", "丙公司")):
        register(app, code, contractor=contractor, started="2021-04-01")
    app.score("AA", "2021-04", scores("90"), user="bureau")
    app.score("BA", "2021-04", scores("80"), user="bureau")
    # (30 x 79.98 + 25 x 80 + 20 x 80 + 15 x 80 + 10 x 80.06) / 100 = (2399.4 + 4800 + 800.6) / 100 = 80.00
    app.score("CA", "2021-04", scores("79.98", "80", "80", "80", "80.06"), user="bureau")
    models.catch_up("ranking")

    rows = ranked(models, by="compound")

    assert [(row["code"], row["total"], row["rank"], row["last"]) for row in rows] == [
        ("AA", D("90.00"), 1, False),
        ("BA", D("80.00"), 2, True),
        ("CA", D("80.00"), 2, True),
    ]


@pytest.mark.parametrize(
    ("totals", "ranks"),
    [
        ([], []),
        ([D(90)], [1]),
        ([D(90), D(80), D(80), D(70)], [1, 2, 2, 4]),
        ([D(90), D(90), D(90), D(70), D(70), D(60)], [1, 1, 1, 4, 4, 6]),
        ([D("80.01"), D("80.00")], [1, 2]),
    ],
)
def test_competition_ranks(totals: list[Decimal], ranks: list[int]) -> None:
    assert competition_ranks(totals) == ranks


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.lists(st.tuples(st.sampled_from(["甲建工", "乙建工", "丙建工", "丁建工"]),
                          st.lists(st.sampled_from(["60.00", "70.50", "70.49", "85.00", "85.01", "100.00"]),
                                   min_size=5, max_size=5)),
                min_size=1, max_size=40))
def test_the_ranks_of_the_period_before_are_the_board_s_own(compounds: list[tuple[str, list[str]]]) -> None:
    # Movement reads the previous period's ranks without building its rows. Both are checked against the
    # rule itself: a total rounded to the cent (a contractor's: the mean of its compounds' exact totals),
    # and a rank of one more than the totals above it (ties, many with these few scores, share one).
    from renovation.projections.ranking import ranked, ranks, weighted_total

    ordered = [30, 25, 20, 15, 10]
    found = [(f"C{index:03d}", f"小区{index}", contractor, values, weighted_total(values, ordered, sum(ordered)))
             for index, (contractor, texts) in enumerate(compounds) for values in [[Decimal(t) for t in texts]]]
    cent = Decimal("0.01")
    exact_by: dict[str, dict[str, list[Decimal]]] = {"compound": {}, "contractor": {}}
    for code, _name, contractor, _values, exact in found:
        exact_by["compound"].setdefault(code, []).append(exact)
        exact_by["contractor"].setdefault(contractor, []).append(exact)
    for by, key in (("compound", "code"), ("contractor", "contractor")):
        totals = {who: (sum(group, Decimal(0)) / len(group)).quantize(cent, rounding="ROUND_HALF_UP")
                  for who, group in exact_by[by].items()}
        expected = {who: 1 + sum(1 for other in totals.values() if other > total) for who, total in totals.items()}
        board = ranked(found, by)
        assert ranks(found, by) == expected
        assert {entry[key]: entry["rank"] for entry in board} == expected
        assert {entry[key]: entry["total"] for entry in board} == totals
        assert [entry["rank"] for entry in board] == sorted(expected.values())  # best first
