"""``renovation.toml``: the horse-race weights and who has which role (see ``renovation.domain.access``).

Found in the working directory, or given with ``--config``::

    [ranking.weights]
    quality = 30
    safety = 25
    progress = 20
    civilized = 15
    satisfaction = 10

    [quality]
    morning_grace_minutes = 30   # a morning round started by 06:30 plus this is on time

    [digest]                     # what ``renovation digest`` flags
    morning_round_by = "07:30"   # a compound under construction without a morning round started by then
    sample_pending_days = 7      # a sample without its result for this many days or more
    ticket_open_days = 3         # a resident's ticket open for this many days or more

    [photos]
    max_mb = 10                  # the largest photo --photo takes

    [horse_race]                 # the computed horse race (``ranking --computed``, ``ranking explain``)
    flag_difference = 10         # ``ranking`` flags a recorded total this far from the computed one
    late_rectification = 20      # × the share of quality (civilized) findings not rectified by their due date
    severity = { minor = 1, major = 3, critical = 6 }   # points of a quality or civilized finding

    [horse_race.quality]
    per_inspection = 30          # × the period's quality points ÷ its inspections, at most findings_cap
    findings_cap = 40
    failed_samples = 20          # × the share of the period's material results that failed
    rejected_batch = 10          # per batch rejected in the period, at most rejected_batches_cap
    rejected_batches_cap = 20

    [horse_race.safety]
    severity = { minor = 2, major = 6, critical = 25 }  # per safety finding, at most findings_cap
    findings_cap = 60
    overdue_day = 1              # per day of the period a safety finding was overdue, at most overdue_cap
    overdue_cap = 30

    [horse_race.progress]
    behind_point = 1             # per percentage point metered behind the planned straight line
    behind_cap = 50
    late_day = 0.5               # per day behind plan at the period's end, at most late_days_cap
    late_days_cap = 50

    [horse_race.civilized]
    per_point = 4                # × the period's civilized points, at most findings_cap
    findings_cap = 60

    [horse_race.satisfaction]
    per_ticket_per_100_households = 10   # × tickets received × 100 ÷ households, at most tickets_cap
    tickets_cap = 50
    resolve_days = 7
    late_resolution = 30         # × the share of tickets not resolved within resolve_days
    [payments]                   # progress payments (计量支付)
    retention_percent = 3        # retention (保留金) held on the cumulative metered value, 0-100, to 0.01;
                                 # each certificate records the percent it used
    defects_months = 24          # the defects liability period after hand-over, before the retention is released

    [web]                        # the web board (``renovation serve``)
    public_ranking = false       # a visitor who has not signed in sees the horse-race board, and nothing else
    session_hours = 12           # a sign-in lasts this long, then the person signs in again
    attempts = 5                 # failed sign-ins, per person and per address, before a pause of
    lockout_minutes = 15         # this many minutes
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from renovation.domain.access import Access
    from renovation.domain.horserace import Formula

DEFAULT_FILE = "renovation.toml"


class BadConfig(ValueError):
    pass


class Weights(NamedTuple):
    quality: int = 30
    safety: int = 25
    progress: int = 20
    civilized: int = 15
    satisfaction: int = 10

    def as_dict(self) -> dict[str, int]:
        return self._asdict()


class Ranking(NamedTuple):
    weights: Weights = Weights()


#: The seed: "每天早上 6:30 出发" — the morning round leaves at 06:30.
MORNING_ROUND = time(6, 30)


class Quality(NamedTuple):
    morning_grace_minutes: int = 30

    @property
    def on_time_by(self) -> time:
        """The latest start of a morning round that is on time (06:30 plus the grace)."""
        start = datetime.combine(date(2000, 1, 1), MORNING_ROUND) + timedelta(minutes=self.morning_grace_minutes)
        return start.time()


class Digest(NamedTuple):
    morning_round_by: time = time(7, 30)
    sample_pending_days: int = 7
    ticket_open_days: int = 3


class Photos(NamedTuple):
    max_mb: int = 10

    @property
    def max_bytes(self) -> int:
        return self.max_mb * 1_000_000


class Payments(NamedTuple):
    retention_percent: Decimal = Decimal(3)
    defects_months: int = 24


class Web(NamedTuple):
    public_ranking: bool = False
    session_hours: int = 12
    attempts: int = 5
    lockout_minutes: int = 15


class UserEntry(NamedTuple):
    role: str
    contractor: str | None = None


class Config(NamedTuple):
    """The configuration as validated (by the pydantic schema in ``renovation.services.config_schema``, which
    is only imported when there is a file to read: most commands start faster without it)."""

    ranking: Ranking = Ranking()
    quality: Quality = Quality()
    digest: Digest = Digest()
    photos: Photos = Photos()
    #: ``[horse_race]`` as checked (None: the defaults), made a ``Formula`` by ``horse_race`` when asked for.
    horse_race_table: Any = None
    payments: Payments = Payments()
    web: Web = Web()
    users: dict[str, UserEntry] | None = None
    source: str | None = None

    @property
    def horse_race(self) -> Formula:
        """The constants of the computed horse race."""
        return _formula(self.horse_race_table)

    def access(self) -> Access:
        """Roles apply once the file lists [users]; without it everyone may record anything."""
        from renovation.domain.access import Access, User

        if self.users is None:
            return Access(None)
        return Access({name: User(entry.role, entry.contractor) for name, entry in self.users.items()})


def load_config(path: str | None) -> Config:
    """The given file, else ``renovation.toml`` in the working directory, else the defaults."""
    file = Path(path) if path else Path(DEFAULT_FILE)
    if not file.exists():
        if path:
            raise BadConfig(f"{path}: no such configuration file")
        return Config()
    import tomllib

    try:
        # A BOM from a Windows editor is dropped; a number with a fraction is read exactly (never a float).
        data: dict[str, Any] = tomllib.loads(file.read_text(encoding="utf-8-sig"), parse_float=Decimal)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as error:
        raise BadConfig(f"{file}: {' '.join(str(error).split())}") from None
    from renovation.domain.values import canonical
    from renovation.services.config_schema import validate

    try:
        checked = validate(data)
    except ValueError as error:
        raise BadConfig(f"{file}: {error}") from None
    weights = checked.ranking.weights
    users = None
    if checked.users is not None:
        users = {name: UserEntry(entry.role, entry.contractor) for name, entry in checked.users.items()}
    return Config(
        ranking=Ranking(Weights(weights.quality, weights.safety, weights.progress, weights.civilized,
                                weights.satisfaction)),
        quality=Quality(checked.quality.morning_grace_minutes),
        digest=Digest(checked.digest.morning_round_by, checked.digest.sample_pending_days,
                      checked.digest.ticket_open_days),
        photos=Photos(checked.photos.max_mb),
        horse_race_table=checked.horse_race,
        payments=Payments(canonical(checked.payments.retention_percent), checked.payments.defects_months),
        web=Web(checked.web.public_ranking, checked.web.session_hours, checked.web.attempts,
                checked.web.lockout_minutes),
        users=users,
        source=str(file),
    )


def _formula(checked: Any) -> Formula:
    """``[horse_race]`` as checked (a ``HorseRaceSchema``; None: the defaults) as the domain's ``Formula``
    (imported only by a command that reads it: most commands start faster without it)."""
    from renovation.domain.horserace import Formula, Points

    if checked is None:
        return Formula()

    def points(found: Any) -> Points:
        return Points(found.minor, found.major, found.critical)

    return Formula(
        flag_difference=checked.flag_difference, severity=points(checked.severity),
        late_rectification=checked.late_rectification,
        quality_per_inspection=checked.quality.per_inspection, quality_findings_cap=checked.quality.findings_cap,
        failed_samples=checked.quality.failed_samples, rejected_batch=checked.quality.rejected_batch,
        rejected_batches_cap=checked.quality.rejected_batches_cap,
        safety_severity=points(checked.safety.severity), safety_findings_cap=checked.safety.findings_cap,
        overdue_day=checked.safety.overdue_day, overdue_cap=checked.safety.overdue_cap,
        behind_point=checked.progress.behind_point, behind_cap=checked.progress.behind_cap,
        late_day=checked.progress.late_day, late_days_cap=checked.progress.late_days_cap,
        civilized_per_point=checked.civilized.per_point, civilized_findings_cap=checked.civilized.findings_cap,
        tickets_per_100_households=checked.satisfaction.per_ticket_per_100_households,
        tickets_cap=checked.satisfaction.tickets_cap, resolve_days=checked.satisfaction.resolve_days,
        late_resolution=checked.satisfaction.late_resolution,
    )
