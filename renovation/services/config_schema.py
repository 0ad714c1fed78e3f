"""The schema of ``renovation.toml`` (pydantic), checked when a file is read (``renovation.services.config``
turns what it accepts into a ``Config``)."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


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


class UserSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["supervisor", "auditor", "contractor", "bureau"]
    contractor: str | None = Field(None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def contractor_names_its_company(self) -> UserSchema:
        if self.role == "contractor" and not self.contractor:
            raise ValueError("a contractor user needs contractor = \"<construction unit>\"")
        return self


class ConfigSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ranking: RankingSchema = RankingSchema()
    quality: QualitySchema = QualitySchema()
    digest: DigestSchema = DigestSchema()
    photos: PhotosSchema = PhotosSchema()
    payments: PaymentsSchema = PaymentsSchema()
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
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where}: {first['msg'].removeprefix('Value error, ')}") from None
