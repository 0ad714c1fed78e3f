"""Read models (projections) rebuildable from the events at any time: one module per read model."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from collections.abc import Callable

    from renovation.projections.base import Projection
    from renovation.projections.runner import EventSource, ReadModels, Reopened

NAMES = ("progress", "quality", "ledger", "ranking", "feedback", "worklists", "payments", "computed")


def all_projections() -> list[Projection]:
    from renovation.projections.computed import ComputedProjection
    from renovation.projections.feedback import FeedbackProjection
    from renovation.projections.ledger import LedgerProjection
    from renovation.projections.payments import PaymentsProjection
    from renovation.projections.progress import ProgressProjection
    from renovation.projections.quality import QualityProjection
    from renovation.projections.ranking import RankingProjection
    from renovation.projections.worklists import WorklistsProjection

    return [ProgressProjection(), QualityProjection(), LedgerProjection(), RankingProjection(), FeedbackProjection(),
            WorklistsProjection(), PaymentsProjection(), ComputedProjection()]


def read_models(source: EventSource) -> ReadModels:
    """Every read model of the store ``source`` (the application) writes to. A large catch-up may open the
    store again in other processes, by ``source``'s class (``RenovationApp``) from the ``--db`` value."""
    from renovation.projections.runner import ReadModels

    reopen = cast("Callable[[str], Reopened]", type(source))  # the application's class, called with a --db value
    return ReadModels(source, all_projections(), reopen=reopen)
