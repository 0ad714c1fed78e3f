"""The schema of ``renovation.toml`` (pydantic), checked when a file is read (``renovation.services.config``
turns what it accepts into a ``Config``)."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator


class WeightsSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    quality: int = Field(30, ge=0, le=100, strict=True)
    safety: int = Field(25, ge=0, le=100, strict=True)
    progress: int = Field(20, ge=0, le=100, strict=True)
    civilized: int = Field(15, ge=0, le=100, strict=True)
    satisfaction: int = Field(10, ge=0, le=100, strict=True)

    @model_validator(mode="after")
    def sum_to_100(self) -> WeightsSchema:
        total = self.quality + self.safety + self.progress + self.civilized + self.satisfaction
        if total != 100:
            raise ValueError(f"the ranking weights must sum to 100, not {total}")
        return self


class RankingSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: WeightsSchema = WeightsSchema()


class QualitySchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Minutes after 06:30 (the seed's morning round) that a round may start and still be on time.
    morning_grace_minutes: int = Field(30, ge=0, le=330, strict=True)


class DigestSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A compound under construction whose first morning round did not start by then is flagged.
    morning_round_by: time = time(7, 30)
    sample_pending_days: int = Field(7, ge=1, le=365, strict=True)
    ticket_open_days: int = Field(3, ge=1, le=365, strict=True)

    @field_validator("morning_round_by", mode="before")
    @classmethod
    def hours_and_minutes(cls, value: object) -> object:
        if not isinstance(value, str) or not re.fullmatch(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]", value):
            raise ValueError('a time of day as "HH:MM", such as "07:30"')
        return value


class PhotosSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_mb: int = Field(10, ge=1, le=100, strict=True)


class PaymentsSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Retention (保留金) in percent of the cumulative metered value: 0 to 100, to 0.01.
    retention_percent: Decimal = Field(Decimal(3), ge=0, le=100, decimal_places=2, allow_inf_nan=False)
    #: The defects liability period after hand-over, in months, before the retention is released.
    defects_months: int = Field(24, ge=1, le=120, strict=True)

    @field_validator("retention_percent", mode="before")
    @classmethod
    def a_number(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise ValueError("a number of percent from 0 to 100, such as 3 or 2.5")
        return value


class WebSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Whether a visitor who has not signed in sees the horse-race board (and nothing else).
    public_ranking: bool = Field(False, strict=True)
    #: How long a sign-in lasts, in hours.
    session_hours: int = Field(12, ge=1, le=720, strict=True)
    #: Sign-in attempts that fail, per person and per address, before a pause of ``lockout_minutes``.
    attempts: int = Field(5, ge=1, le=100, strict=True)
    lockout_minutes: int = Field(15, ge=1, le=1440, strict=True)


class UserSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["supervisor", "auditor", "contractor", "bureau"]
    contractor: str | None = Field(None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def contractor_names_its_company(self) -> UserSchema:
        if self.role == "contractor" and not self.contractor:
            raise ValueError("a contractor user needs contractor = \"<construction unit>\"")
        return self


Number = Annotated[Decimal, BeforeValidator(lambda value: _number(value))]


def _number(value: object) -> object:
    """A TOML integer, decimal string or number with a point ("0.5", 0.5; read as a decimal) as the exact
    decimal written."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError("a number, such as 10 or 0.5")
    text = format(value, "f") if isinstance(value, Decimal) and value.is_finite() else str(value).strip()
    if not re.fullmatch(r"[0-9]{1,6}(?:\.[0-9]{1,4})?", text):
        raise ValueError("a number from 0 to 999999 with at most 4 decimal places, such as 10 or 0.5")
    return Decimal(text)


class PointsSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    minor: Number
    major: Number
    critical: Number


class HorseQualitySchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    per_inspection: Number = Decimal(30)
    findings_cap: Number = Decimal(40)
    failed_samples: Number = Decimal(20)
    rejected_batch: Number = Decimal(10)
    rejected_batches_cap: Number = Decimal(20)


class HorseSafetySchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: PointsSchema = PointsSchema(minor=Decimal(2), major=Decimal(6), critical=Decimal(25))
    findings_cap: Number = Decimal(60)
    overdue_day: Number = Decimal(1)
    overdue_cap: Number = Decimal(30)


class HorseProgressSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    behind_point: Number = Decimal(1)
    behind_cap: Number = Decimal(50)
    late_day: Number = Decimal("0.5")
    late_days_cap: Number = Decimal(50)


class HorseCivilizedSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    per_point: Number = Decimal(4)
    findings_cap: Number = Decimal(60)


class HorseSatisfactionSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    per_ticket_per_100_households: Number = Decimal(10)
    tickets_cap: Number = Decimal(50)
    resolve_days: int = Field(7, ge=0, le=365, strict=True)
    late_resolution: Number = Decimal(30)


class HorseRaceSchema(BaseModel):
    """``[horse_race]``: the constants of the computed scores (``renovation.domain.horserace.Formula``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flag_difference: Number = Decimal(10)
    late_rectification: Number = Decimal(20)
    severity: PointsSchema = PointsSchema(minor=Decimal(1), major=Decimal(3), critical=Decimal(6))
    quality: HorseQualitySchema = HorseQualitySchema()
    safety: HorseSafetySchema = HorseSafetySchema()
    progress: HorseProgressSchema = HorseProgressSchema()
    civilized: HorseCivilizedSchema = HorseCivilizedSchema()
    satisfaction: HorseSatisfactionSchema = HorseSatisfactionSchema()


class ConfigSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ranking: RankingSchema = RankingSchema()
    quality: QualitySchema = QualitySchema()
    digest: DigestSchema = DigestSchema()
    photos: PhotosSchema = PhotosSchema()
    horse_race: HorseRaceSchema = HorseRaceSchema()
    payments: PaymentsSchema = PaymentsSchema()
    web: WebSchema = WebSchema()
    users: dict[str, UserSchema] | None = None

    @model_validator(mode="after")
    def users_not_empty(self) -> ConfigSchema:
        if self.users is not None and not self.users:
            raise ValueError("[users] is empty: list the people who record, or leave the table out")
        return self


def validate(data: dict[str, Any]) -> ConfigSchema:
    """The file's contents checked, or a ValueError naming the first problem (``where: what``)."""
    try:
        return ConfigSchema.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])  # none for a rule of the whole file
        what = first["msg"].removeprefix("Value error, ")
        raise ValueError(f"{where}: {what}" if where else what) from None
