from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from renovation.domain.values import BoqItem
from renovation.projections.runner import ReadModels
from renovation.services.application import RenovationApp
from tests.backends import BACKENDS, store_url

CST = timezone(timedelta(hours=8))
NOW = datetime(2021, 5, 10, 9, 0, tzinfo=CST)


def open_app(db: str, now: datetime = NOW) -> RenovationApp:
    return RenovationApp(db, clock_func=lambda: now)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store's --db value: an SQLite file, or a PostgreSQL schema of this test's own."""
    yield from store_url(request.param, tmp_path)


@pytest.fixture
def app(db: str) -> Iterator[RenovationApp]:
    application = open_app(db)
    yield application
    application.close()


def start_compound(app: RenovationApp, code: str = "JM") -> None:
    app.register_compound(
        code=code, name="吉明小区", district="龙山区", contractor="示例建工一公司", households=300,
        contract_value=Decimal("1000000"), planned_start=date(2021, 3, 1), planned_finish=date(2021, 9, 30),
        registered_on=date(2021, 1, 4), user="bureau",
    )
    app.set_bill_of_quantities(
        code,
        [
            BoqItem("A1", "雨污分流", "m", Decimal("100"), Decimal("123.45")),
            BoqItem("B2", "外墙保温", "m2", Decimal("50.5"), Decimal("185")),
        ],
        user="auditor",
    )
    app.start_construction(code, date(2021, 3, 1), user="bureau")


@pytest.fixture
def started(app: RenovationApp) -> RenovationApp:
    start_compound(app)
    return app


@pytest.fixture
def models(app: RenovationApp) -> Iterator[ReadModels]:
    """The read models of ``app`` (caught up only when a test says so), closed afterwards."""
    from renovation.projections import read_models

    built = read_models(app)
    yield built
    built.close()
