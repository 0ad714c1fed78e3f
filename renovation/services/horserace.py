"""The computed horse race as use cases: the computed board (``ranking --computed``), a compound's scores
explained (``ranking explain``), and the computed totals beside the bureau's recorded board.

The facts behind a compound's computed scores are its details (its findings, tickets, metered value),
so a contractor sees the computed scores of its own compounds only, ranked among themselves; the
recorded board stays public. On PostgreSQL after ``db roles --apply`` the server holds a contractor's
login to the same by row-level security.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict, cast

from renovation.domain import errors
from renovation.domain.horserace import Formula, components, rounded, steady_through, under_construction
from renovation.domain.values import SCORE_DIMENSIONS, normalise_code
from renovation.services import scope
from renovation.services.boards import check_period, models_for, require_compound

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from renovation.projections.ranking import RankingRow
    from renovation.projections.runner import ReadModels
    from renovation.services.workspace import Workspace


class TermRow(TypedDict):
    term: str
    formula: str
    points: Decimal
    ids: list[str]


class ComponentRow(TypedDict):
    component: str
    weight: int
    score: Decimal
    terms: list[TermRow]


class Explanation(TypedDict):
    """``ranking explain CODE --period P``: each computed score, its formula and numbers, and the events
    behind it; the computed total, and the bureau's recorded total beside it."""

    code: str
    name: str
    contractor: str
    period: str
    as_of: date
    scored: bool  # under construction in the period (only then is it on the computed board)
    total: Decimal
    recorded_total: Decimal | None
    difference: Decimal | None  # recorded − computed
    flagged: bool
    components: list[ComponentRow]


def weighted(scores: dict[str, Decimal], weights: dict[str, int]) -> Decimal:
    """The total, unrounded, as the recorded board works it out (``ranking.weighted_total``)."""
    return weigher(weights)(scores)


def weigher(weights: dict[str, int]) -> Callable[[dict[str, Decimal]], Decimal]:
    """``weighted`` with these weights, for the many compounds of a board (the weights ordered once)."""
    from renovation.projections.ranking import weighted_total

    ordered = [weights[d] for d in SCORE_DIMENSIONS]
    total_weight = sum(ordered)
    return lambda scores: weighted_total([scores[d] for d in SCORE_DIMENSIONS], ordered, total_weight)


#: Up to this many compounds whose kept scores are out of date are worked out one by one (a few queries
#: each); more, and the facts of every compound of the period are read at once.
ONE_BY_ONE = 30


def _scored(models: ReadModels, connection: Connection, period: str, today: date, formula: Formula,
            codes: Collection[str] | None, only_under_construction: bool = True,
            ) -> list[tuple[dict[str, Any], dict[str, Decimal]]]:
    """The computed scores of ``period`` of the compounds of ``codes`` (None: all), in code order.

    A compound's scores are kept (``computed_totals``) for its facts' version, the formula and the days
    they hold for (from ``today`` through ``steady_through``), and worked out again only when one of these
    has changed: a board of a province works out the scores of the compounds whose facts changed since it
    was last asked for, and on a new day those of its month under way (all of them: it counts to the day)
    or, of a month that is over, those one of whose dates has passed. They are kept only by a login that
    writes the read models; the others work out what is not kept."""
    from renovation.projections.computed import facts, kept_scores, stamp, stamp_key

    key = stamp_key(formula)
    listed, kept = kept_scores(connection, period, today, key, codes)  # versions first: facts as new or newer
    stale = [who["code"] for who, _version in listed if who["code"] not in kept]
    if stale:
        found = ([fact for code in stale for fact in facts(connection, period, today, code)]
                 if len(stale) <= ONE_BY_ONE else facts(connection, period, today, codes=set(stale)))
        worked = {who["code"]: (steady_through(fact, formula), under_construction(fact),
                                tuple(part.score for part in components(fact, formula, said=False)))
                  for who, fact in found}
        kept.update({code: (scored, scores) for code, (_through, scored, scores) in worked.items()})
        if models.writes and models.on_store:  # not a replay's (``--as-of``): it is thrown away
            versions = {who["code"]: version for who, version in listed}
            _keep(models, period, {code: (stamp(versions[code], today, through, key), scored, scores)
                                   for code, (through, scored, scores) in worked.items()})
    return [(who, dict(zip(SCORE_DIMENSIONS, kept[who["code"]][1], strict=True))) for who, _version in listed
            if who["code"] in kept and (not only_under_construction or kept[who["code"]][0])]


def _keep(models: ReadModels, period: str, worked: dict[str, tuple[str, bool, tuple[Decimal, ...]]]) -> None:
    """Keep worked-out scores; when the store's write lock cannot be had in time (SQLite: another process
    holds it), they are not kept, and the board is answered all the same."""
    from sqlalchemy.exc import OperationalError

    from renovation.projections.computed import keep_scores

    try:
        with models.writing() as connection, connection.begin():
            keep_scores(connection, period, worked)
    except OperationalError:  # a lock not had in time: only the keeping is given up
        return


def computed_ranking(ws: Workspace, period: str | None, by: str, today: date, as_of: datetime | None = None,
                     *, user: str | None = None) -> list[RankingRow]:
    """The computed board of a period (default: the latest a compound was under construction in), ranked
    as the recorded board is, with movement since the previous period."""
    from renovation.projections.computed import periods
    from renovation.projections.ranking import ranked, ranks, rows_of

    formula = ws.config.horse_race  # a bad renovation.toml fails here, before any work
    weights = ws.config.ranking.weights.as_dict()
    models, day = models_for(ws, "computed", today, as_of)
    if period is not None:
        check_period(period, day)
    codes = scope.own_codes(ws, user)
    total = weigher(weights)
    with models.engine.connect() as connection:
        def found(chosen: str) -> list[tuple[str, str, str, list[Decimal], Decimal]]:
            return [(who["code"], who["name"], who["contractor"], [scores[d] for d in SCORE_DIMENSIONS],
                     total(scores)) for who, scores in _scored(models, connection, chosen, day, formula, codes)]

        return rows_of(periods(connection, day, codes), lambda chosen: ranked(found(chosen), by), period, by,
                       lambda chosen: ranks(found(chosen), by))


def keep_default_boards(ws: Workspace, day: date) -> None:
    """Work out (and keep) the computed scores the horse-race boards show by default on ``day``: the
    recorded board's latest period (the totals beside it) and the computed board's, with the period before
    it (its movement)."""
    from renovation.services.boards import ranking

    beside(ws, ranking(ws, None, "compound", day), "compound", day)
    computed_ranking(ws, None, "compound", day)


def beside(ws: Workspace, rows: list[RankingRow], by: str, today: date, as_of: datetime | None = None, *,
           user: str | None = None) -> list[dict[str, Any]]:
    """The recorded board's rows with the computed total, the difference (recorded − computed) and a flag
    where it is larger than ``[horse_race] flag_difference``. None where the user may not see the facts."""
    formula = ws.config.horse_race
    weights = ws.config.ranking.weights.as_dict()
    if not rows:
        return []
    from renovation.projections.ranking import scored_codes

    models, day = models_for(ws, ("computed", "ranking"), today, as_of)
    visible = scope.own_codes(ws, user)
    period = rows[0]["period"]
    with models.engine.connect() as connection:
        by_contractor: dict[str, list[str]] = defaultdict(list)
        for code, contractor in scored_codes(connection, period):
            by_contractor[contractor].append(code)
        codes = {code for members in by_contractor.values() for code in members
                 if visible is None or code in visible}
        total = weigher(weights)
        exact = {who["code"]: (who["contractor"], total(scores))
                 for who, scores in _scored(models, connection, period, day, formula, codes,
                                            only_under_construction=False)}
    result: list[dict[str, Any]] = []
    for row in rows:
        computed: Decimal | None = None
        if by == "compound":
            found = exact.get(row["code"])
            computed = rounded(found[1]) if found else None
        else:
            members = by_contractor.get(row["contractor"], [])
            if members and all(code in exact for code in members):
                computed = rounded(sum((exact[code][1] for code in members), Decimal(0)) / len(members))
        difference = None if computed is None else row["total"] - computed
        entry: dict[str, Any] = dict(row)
        entry["computed_total"] = computed
        entry["difference"] = difference
        entry["flagged"] = difference is not None and abs(difference) > formula.flag_difference
        result.append(entry)
    return result


def explain(ws: Workspace, code: str, period: str, today: date, as_of: datetime | None = None, *,
            user: str | None = None) -> Explanation:
    """One compound's computed scores of ``period``, term by term, with the ids of the events behind them."""
    from renovation.projections.ranking import recorded_scores

    formula = ws.config.horse_race
    weights = ws.config.ranking.weights.as_dict()
    code = normalise_code(code)
    scope.require(ws, user, code)
    require_compound(ws, code)
    models, day = models_for(ws, ("computed", "ranking"), today, as_of)
    check_period(period, day)
    with models.engine.connect() as connection:
        from renovation.projections.computed import facts

        found = facts(connection, period, day, code)
        recorded = recorded_scores(connection, code, period)
    if not found:
        raise errors.CompoundNotFound(code=code)
    who, fact = found[0]
    parts = components(fact, formula)
    total = rounded(weighted({c.component: c.score for c in parts}, weights))
    recorded_total = rounded(weighted(recorded, weights)) if recorded else None
    difference = None if recorded_total is None else recorded_total - total
    return cast(Explanation, {
        "code": code, "name": who["name"], "contractor": who["contractor"], "period": period, "as_of": day,
        "scored": under_construction(fact), "total": total, "recorded_total": recorded_total,
        "difference": difference,
        "flagged": difference is not None and abs(difference) > formula.flag_difference,
        "components": [
            {"component": part.component, "weight": weights[part.component], "score": part.score,
             "terms": [{"term": t.term, "formula": t.formula, "points": t.points, "ids": list(t.ids)}
                       for t in part.terms]}
            for part in parts
        ],
    })
